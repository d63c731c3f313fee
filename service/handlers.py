"""The prediction handlers: read with limits, validate, predict, encode.

Handlers read the raw body themselves so that they can refuse oversized bodies before buffering
them, check the content type, and answer every mistake in one JSON error shape. service/app.py
registers them on the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import bentoml
import numpy as np
from bentoml.exceptions import BentoMLException
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from service import codecs, images
from service.batcher import DeadlineExceededError, Timing
from service.bodywatch import BodyWatch
from service.errors import ApiError
from service.kinds import kind_of
from service.overload import TIMING_KEY, remaining_seconds
from service.runtime import ModelRuntime
from service.settings import ServingSettings

JSON_TYPES = ("application/json",)
# Bodies above this are parsed in a thread, so that a large one does not stall the event loop.
INLINE_PARSE_BYTES = 256 * 1024
MULTIPART_TYPES = ("multipart/form-data",)
Endpoint = Callable[[Request], Awaitable[Response]]


class ServesModels(Protocol):
    """What the handlers need from the BentoML service instance."""

    settings: ServingSettings
    runtimes: dict[str, ModelRuntime]  # by model name, in the registry's order: the default versions
    versions: dict[str, dict[str, ModelRuntime]]  # by model name, then store version (newest first)
    ready: bool


def request_watch(request: Request) -> BodyWatch | None:
    """The body watch of the app serving ``request`` (create_app puts one on its state)."""
    watch: BodyWatch | None = getattr(request.app.state, "body_watch", None)
    return watch


def current_service() -> ServesModels:
    try:
        service: ServesModels | None = bentoml.get_current_service()
    except BentoMLException:  # asked before BentoML has built the service instance
        service = None
    if service is None or not getattr(service, "ready", False):
        raise ApiError("not_ready", "the models are still loading; retry shortly")
    return service


def served_version(service: ServesModels, name: str, version: str | None) -> ModelRuntime:
    """Model ``name``'s runtime at store ``version`` (None: its default version); 404 not_found for a
    version it does not serve. Both APIs choose a version here."""
    runtime = service.runtimes[name]
    if version is None:
        return runtime
    served = service.versions.get(name, {})
    if version not in served:
        raise ApiError(
            "not_found", f"model {name} has no version {version[:64]!r}; it serves {', '.join(served)}"
        )
    return served[version]


def runtime_for(request: Request, service: ServesModels, name: str) -> ModelRuntime:
    """The runtime that answers ``request`` for model ``name``: the version of ``?version=``, else the
    default one."""
    return served_version(service, name, request.query_params.get("version"))


async def read_body(
    request: Request, limit: int, accepted: tuple[str, ...], watch: BodyWatch | None = None
) -> bytes:
    """The body, refused with 415 for a wrong content type, 413 as soon as it passes ``limit``, and 408
    when ``watch`` cuts it off at the request's deadline (a stalled client)."""
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
    task: asyncio.Task[Any] | None = asyncio.current_task()
    deadline: float | None = request.scope.get("deadline")
    if watch is None or task is None or deadline is None:
        watch, task = None, None  # nothing to watch: no shedder stamped a deadline
    else:
        watch.watch(task, deadline)
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(
                    "body_too_large", f"the body is over {limit} bytes; at most {limit} bytes are accepted"
                )
            chunks.append(chunk)
    except asyncio.CancelledError:
        if watch is None or task is None or not watch.cut_off(task):
            raise
        task.uncancel()
        raise ApiError(
            "request_timeout", "the body did not arrive before the request's deadline; send it at once"
        ) from None
    finally:
        if watch is not None and task is not None:
            watch.unwatch(task)
    return b"".join(chunks)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def parse_json_body(body: bytes) -> Any:
    if len(body) > INLINE_PARSE_BYTES:
        return await asyncio.to_thread(codecs.parse_json, body)
    return codecs.parse_json(body)


async def predict_within_deadline(
    request: Request, service: ServesModels, runtime: ModelRuntime, rows: np.ndarray
) -> np.ndarray:
    """The model's answer, or 503 deadline_exceeded without computing it when the request's deadline
    passes before its batch starts (checked here and again by the batcher when it forms the batch).

    No timer per request: cancelled asyncio timers stay in the loop's heap until they would have
    fired, so 5-second deadlines at thousands of requests a second kept ~10,000 of them (and their
    futures and contexts) alive, and the young-generation collections that walked them took 6-15 ms."""
    deadline = time.monotonic() + remaining_seconds(request.scope, service.settings.deadline_ms / 1000)
    timing = request.scope[TIMING_KEY] = Timing()  # the shedder writes it into Server-Timing
    try:
        return codecs.check_output(await runtime.predict(rows, deadline, timing))
    except DeadlineExceededError:
        raise ApiError(
            "deadline_exceeded", "the request's deadline passed before it could be computed"
        ) from None


def json_predictions(name: str) -> Endpoint:
    """The handler of model ``name``'s JSON predictions (``{"rows": ...}`` or ``{"images": ...}``)."""

    async def predict(request: Request) -> Response:
        service = current_service()
        settings, runtime = service.settings, runtime_for(request, service, name)
        body = await read_body(request, settings.max_body_bytes, JSON_TYPES, request_watch(request))
        kind = kind_of(runtime.schema)
        explain = _explain(request, kind.explains)
        payload = await parse_json_body(body)
        batch = kind.decode(payload, runtime.schema, settings.max_rows, codecs.may_hold_booleans(body))
        probabilities = await predict_within_deadline(request, service, runtime, batch)
        return _json(
            kind.encode(runtime.tag, probabilities, batch if explain else None, runtime.loaded.config)
        )

    return predict


def image_predictions(name: str) -> Endpoint:
    """The handler of model ``name``'s uploads: one PNG or JPEG in the multipart field ``image``."""

    async def predict_upload(request: Request) -> Response:
        service = current_service()
        settings, runtime = service.settings, runtime_for(request, service, name)
        kind = kind_of(runtime.schema)
        explain = _explain(request, kind.explains)
        body = await read_body(request, settings.max_body_bytes, MULTIPART_TYPES, request_watch(request))
        data = await _uploaded_image(request, body)
        size, max_value = runtime.schema["shape"][0], runtime.schema["value_range"][1]
        # Decoding can take a while for a large picture: off the event loop.
        image = await asyncio.to_thread(
            images.decode_upload, data, settings.max_image_pixels, size, max_value
        )
        probabilities = await predict_within_deadline(request, service, runtime, image[None])
        inputs = image[None] if explain else None
        return _json(kind.encode(runtime.tag, probabilities, inputs, runtime.loaded.config))

    return predict_upload


EXPLAIN_VALUES = {"0": False, "false": False, "1": True, "true": True}


def _explain(request: Request, explains: bool) -> bool:
    """``?explain=1`` (or true) on the routes of a kind that ``explains``: answer with the inputs the
    model saw (the 8x8 grids of an image model)."""
    value = request.query_params.get("explain")
    if value is None or not explains:
        return False
    if value.lower() not in EXPLAIN_VALUES:
        raise ApiError("invalid_type", 'the query parameter "explain" must be 0, 1, true or false')
    return EXPLAIN_VALUES[value.lower()]


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
    except HTTPException as error:  # Starlette's form parser, inside an app, says it this way
        raise ApiError("invalid_body", f"the multipart body cannot be parsed ({error.detail})") from None
    try:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise ApiError("invalid_body", 'send the picture as a file in the multipart field "image"')
        return await upload.read()
    finally:
        await form.close()


async def models() -> Response:
    service = current_service()
    return JSONResponse([_described(service, name) for name in service.runtimes])


def _described(service: ServesModels, name: str) -> dict[str, Any]:
    """GET /models' entry of model ``name``: its default version's facts, and every version served."""
    default = service.runtimes[name]
    served = [
        {**runtime.loaded.summary(), "default": runtime is default}
        for runtime in service.versions[name].values()
    ]
    return {**default.loaded.describe(), "served_versions": served}
