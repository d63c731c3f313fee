"""The HTTP API (mounted into the BentoML service): read with limits, validate, predict, encode.

Handlers read the raw body themselves so that they can refuse oversized bodies before buffering
them, check the content type, and answer every mistake in one JSON error shape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

import bentoml
import numpy as np
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from service import codecs, images
from service.batcher import DeadlineExceededError
from service.bodywatch import BODY_WATCH
from service.errors import ApiError, error_response
from service.metrics import service_metrics
from service.overload import LoadShedder, remaining_seconds
from service.runtime import ModelRuntime
from service.schemas import (
    ERRORS,
    IMAGE_BODY,
    ClassifyRequest,
    ClassifyResponse,
    DigitsRequest,
    DigitsResponse,
    ModelInfo,
    json_body,
)
from service.settings import ServingSettings

# Under "bentoml" so that the server's logging config keeps and formats it (others are disabled).
logger = logging.getLogger("bentoml.serving.requests")

JSON_TYPES = ("application/json",)
# Bodies above this are parsed in a thread, so that a large one does not stall the event loop.
INLINE_PARSE_BYTES = 256 * 1024
MULTIPART_TYPES = ("multipart/form-data",)


class ServesModels(Protocol):
    """What the handlers need from the BentoML service instance."""

    settings: ServingSettings
    tabular: ModelRuntime
    digits: ModelRuntime
    ready: bool


app = FastAPI(
    title="bento-serving",
    description="Batched predictions for a tabular classifier and a digits CNN.",
    docs_url=None,  # BentoML serves Swagger UI at / and the document at /docs.json
    redoc_url=None,
    openapi_url=None,
)
app.add_middleware(LoadShedder)


def _service() -> ServesModels:
    service: ServesModels | None = bentoml.get_current_service()
    if service is None or not getattr(service, "ready", False):
        raise ApiError("not_ready", "the models are still loading; retry shortly")
    return service


async def read_body(request: Request, limit: int, accepted: tuple[str, ...]) -> bytes:
    """The body, refused with 415 for a wrong content type and 413 as soon as it passes ``limit``."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in accepted and not (media_type == "" and accepted == JSON_TYPES):
        raise ApiError(
            "unsupported_media_type",
            f"content type {media_type or '(none)'!r} is not accepted; send {accepted[0]}",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError("body_too_large", f"the body is {declared} bytes; at most {limit} bytes are accepted")
    chunks: list[bytes] = []
    size = 0
    task, deadline = asyncio.current_task(), request.scope.get("deadline")
    if task is not None and deadline is not None:
        BODY_WATCH.watch(task, deadline)
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(
                    "body_too_large", f"the body is over {limit} bytes; at most {limit} bytes are accepted"
                )
            chunks.append(chunk)
    except asyncio.CancelledError:
        if task is None or not BODY_WATCH.cut_off(task):
            raise
        task.uncancel()
        raise ApiError(
            "request_timeout", "the body did not arrive before the request's deadline; send it at once"
        ) from None
    finally:
        if task is not None:
            BODY_WATCH.unwatch(task)
    return b"".join(chunks)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _parse(body: bytes) -> Any:
    if len(body) > INLINE_PARSE_BYTES:
        return await asyncio.to_thread(codecs.parse_json, body)
    return codecs.parse_json(body)


async def _predict(request: Request, runtime: ModelRuntime, rows: np.ndarray) -> np.ndarray:
    """The model's answer, or 503 deadline_exceeded without computing it when the request's deadline
    passes before its batch starts (checked here and again by the batcher when it forms the batch).

    No timer per request: cancelled asyncio timers stay in the loop's heap until they would have
    fired, so 5-second deadlines at thousands of requests a second kept ~10,000 of them (and their
    futures and contexts) alive, and the young-generation collections that walked them took 6-15 ms."""
    deadline = time.monotonic() + remaining_seconds(request.scope)
    try:
        return codecs.check_output(await runtime.predict(rows, deadline))
    except DeadlineExceededError:
        raise ApiError(
            "deadline_exceeded", "the request's deadline passed before it could be computed"
        ) from None


@app.post(
    "/classify",
    response_model=ClassifyResponse,
    responses=ERRORS,
    openapi_extra=json_body(ClassifyRequest),
    summary="Probability of class 1 for each row of 10 raw features",
)
async def classify(request: Request) -> Response:
    service = _service()
    settings, runtime = service.settings, service.tabular
    body = await read_body(request, settings.max_body_bytes, JSON_TYPES)
    payload = await _parse(body)
    booleans = codecs.may_hold_booleans(body)
    rows = codecs.decode_rows(payload, runtime.schema["n_features"], settings.max_rows, booleans)
    return _json(codecs.encode_tabular(runtime.tag, await _predict(request, runtime, rows)))


@app.post(
    "/digits",
    response_model=DigitsResponse,
    responses=ERRORS,
    openapi_extra=json_body(DigitsRequest),
    summary="Class probabilities for each 8x8 image (grey levels 0..16)",
)
async def digits(request: Request) -> Response:
    service = _service()
    settings, runtime = service.settings, service.digits
    body = await read_body(request, settings.max_body_bytes, JSON_TYPES)
    payload = await _parse(body)
    size, max_value = runtime.schema["shape"][0], runtime.schema["value_range"][1]
    batch = codecs.decode_images(payload, size, max_value, settings.max_rows, codecs.may_hold_booleans(body))
    return _json(codecs.encode_digits(runtime.tag, await _predict(request, runtime, batch)))


@app.post(
    "/digits/image",
    response_model=DigitsResponse,
    responses=ERRORS,
    openapi_extra=IMAGE_BODY,
    summary="Classify an uploaded PNG or JPEG of one handwritten digit",
)
async def digits_image(request: Request) -> Response:
    service = _service()
    settings, runtime = service.settings, service.digits
    body = await read_body(request, settings.max_body_bytes, MULTIPART_TYPES)
    data = await _uploaded_image(request, body)
    size, max_value = runtime.schema["shape"][0], runtime.schema["value_range"][1]
    # Decoding can take a while for a large picture: off the event loop.
    image = await asyncio.to_thread(images.decode_upload, data, settings.max_image_pixels, size, max_value)
    return _json(codecs.encode_digits(runtime.tag, await _predict(request, runtime, image[None])))


async def _uploaded_image(request: Request, body: bytes) -> bytes:
    """The bytes of the multipart field ``image``, parsed from the body already read."""
    sent = False

    async def replay() -> Message:  # the stream was consumed by read_body: hand the bytes back
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8)
    except MultiPartException as error:
        raise ApiError("invalid_body", f"the multipart body cannot be parsed ({error.message})") from None
    try:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise ApiError("invalid_body", 'send the picture as a file in the multipart field "image"')
        return await upload.read()
    finally:
        await form.close()


@app.get("/models", response_model=list[ModelInfo], summary="The loaded models: tags, input schemas, metrics")
async def models() -> Response:
    service = _service()
    return JSONResponse([runtime.loaded.describe() for runtime in (service.tabular, service.digits)])


@app.exception_handler(ApiError)
async def api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return _refuse(request, error.code, error.detail)


@app.exception_handler(HTTPException)
async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    response = _refuse(request, codes.get(error.status_code, "invalid_body"), str(error.detail))
    response.headers.update(error.headers or {})  # e.g. Allow on a 405
    return response


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, error: Exception) -> Response:
    return _refuse(request, "invalid_body", "the request does not match the endpoint's parameters")


def _refuse(request: Request, code: str, detail: str) -> Response:
    """One concise log line (never a traceback) and the JSON error answer."""
    service_metrics().errors.labels(code=code).inc()
    logger.info("%s %s -> %s: %s", request.method, request.url.path, code, detail)
    return error_response(code, detail)
