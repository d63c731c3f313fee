"""The HTTP API mounted into the BentoML service, built from the settings by ``create_app``.

The routes (service/handlers.py), the load shedder in front of them with the limits from the settings,
one body watch per app, and the handlers that turn every error into the one JSON error shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from service import handlers
from service.bodywatch import BodyWatch
from service.errors import ApiError, error_response
from service.metrics import service_metrics
from service.overload import Limits, LoadShedder
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

# path, method, handler, and what the OpenAPI document says of it
ROUTES: list[tuple[str, str, Any, dict[str, Any]]] = [
    (
        "/classify",
        "POST",
        handlers.classify,
        {
            "response_model": ClassifyResponse,
            "openapi_extra": json_body(ClassifyRequest),
            "summary": "Probability of class 1 for each row of 10 raw features",
        },
    ),
    (
        "/digits",
        "POST",
        handlers.digits,
        {
            "response_model": DigitsResponse,
            "openapi_extra": json_body(DigitsRequest),
            "summary": "Class probabilities for each 8x8 image (grey levels 0..16)",
        },
    ),
    (
        "/digits/image",
        "POST",
        handlers.digits_image,
        {
            "response_model": DigitsResponse,
            "openapi_extra": IMAGE_BODY,
            "summary": "Classify an uploaded PNG or JPEG of one handwritten digit",
        },
    ),
    (
        "/models",
        "GET",
        handlers.models,
        {"response_model": list[ModelInfo], "summary": "The loaded models: tags, input schemas, metrics"},
    ),
]


def create_app(settings: ServingSettings) -> FastAPI:
    """The API for ``settings``: its limits go to the shedder, nothing is kept in module globals."""
    app = FastAPI(
        title="bento-serving",
        description="Batched predictions for a tabular classifier and a digits CNN.",
        docs_url=None,  # BentoML serves Swagger UI at / and the document at /docs.json
        redoc_url=None,
        openapi_url=None,
    )
    app.state.body_watch = BodyWatch()
    app.add_middleware(
        LoadShedder, limits=Limits(max_in_flight=settings.max_in_flight, deadline_ms=settings.deadline_ms)
    )
    for path, method, endpoint, openapi in ROUTES:
        responses = ERRORS if method == "POST" else None
        app.add_api_route(path, endpoint, methods=[method], responses=responses, **openapi)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app


async def api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return _refuse(request, error.code, error.detail)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    response = _refuse(request, codes.get(error.status_code, "invalid_body"), str(error.detail))
    response.headers.update(error.headers or {})  # e.g. Allow on a 405
    return response


async def validation_error(request: Request, error: Exception) -> Response:
    return _refuse(request, "invalid_body", "the request does not match the endpoint's parameters")


def _refuse(request: Request, code: str, detail: str) -> Response:
    """One concise log line (never a traceback) and the JSON error answer."""
    service_metrics().errors.labels(code=code).inc()
    logger.info("%s %s -> %s: %s", request.method, request.url.path, code, detail)
    return error_response(code, detail)
