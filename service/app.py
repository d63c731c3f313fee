"""The HTTP API mounted into the BentoML service, built from the settings by ``create_app``.

The routes (service/handlers.py), the load shedder in front of them with the limits from the settings,
one body watch per app, and the handlers that turn every error into the one JSON error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from models import SPECS
from service import admin, handlers, v2
from service.bodywatch import BodyWatch
from service.errors import ApiError, error_response, routing_error
from service.fastpath import PredictionRoutes
from service.handlers import Endpoint
from service.kinds import kind_of
from service.metrics import service_metrics
from service.overload import Limits, LoadShedder
from service.schemas import (
    IMAGE_BODY,
    MODELS_RESPONSES,
    UPLOAD_ERRORS,
    ModelInfo,
    json_body,
    json_errors,
    with_version_query,
)
from service.settings import ServingSettings
from service.ui import routes as ui

# Under "bentoml" so that the server's logging config keeps and formats it (others are disabled).
logger = logging.getLogger("bentoml.serving.requests")


RouteEntry = tuple[str, str, Callable[..., Awaitable[Response]], dict[str, Any]]


def routes() -> list[RouteEntry]:
    """(path, method, handler, what the OpenAPI document says of it) for every model of the registry,
    then the model list, the V2 protocol and the page. An endpoint's name (its OpenAPI operation)
    comes from its path."""
    return [*prediction_routes(), *other_routes()]


def other_routes() -> list[RouteEntry]:
    """The model list, the Open Inference Protocol V2 and the page."""
    table: list[RouteEntry] = []
    models = {"response_model": list[ModelInfo], "summary": "The loaded models: tags, input schemas, metrics"}
    models["responses"] = MODELS_RESPONSES
    table.append(("/models", "GET", handlers.models, models))
    table.extend(v2.routes())  # the Open Inference Protocol V2 (service/v2/)
    table.extend(ui.routes())  # the page at /ui and the models' training plots (service/ui/)
    return table


def prediction_routes() -> list[RouteEntry]:
    """The JSON and upload prediction routes of every model of the registry (all POST)."""
    table: list[RouteEntry] = []
    for spec in SPECS.values():
        kind = kind_of(spec.input_schema(spec.config_type()))
        table.append(
            (
                spec.route,
                "POST",
                _named(handlers.json_predictions(spec.name), spec.route),
                {
                    "response_model": kind.response,
                    "openapi_extra": with_version_query(json_body(kind.request)),
                    "responses": json_errors(kind.request),
                    "summary": kind.summary,
                },
            )
        )
        if kind.upload_summary is not None:
            upload = f"{spec.route}/image"
            summary = kind.upload_summary
            openapi = with_version_query(IMAGE_BODY)
            options = {"response_model": kind.response, "openapi_extra": openapi, "summary": summary}
            options["responses"] = UPLOAD_ERRORS
            table.append((upload, "POST", _named(handlers.image_predictions(spec.name), upload), options))
    return table


def _named(endpoint: Endpoint, path: str) -> Endpoint:
    endpoint.__name__ = path.strip("/").replace("/", "_")  # FastAPI names the operation after it
    return endpoint


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
    predictions = prediction_routes()
    table = [*predictions, *other_routes()]
    # Innermost first: the shedder wraps the short way in to the prediction handlers.
    shortcuts = {path: endpoint for path, _, endpoint, _ in predictions}
    app.add_middleware(PredictionRoutes, routes=shortcuts, refuse=refuse_api_error, refuse_http=http_error)
    app.add_middleware(
        LoadShedder, limits=Limits(max_in_flight=settings.max_in_flight, deadline_ms=settings.deadline_ms)
    )
    app.add_middleware(v2.V2ErrorShape)  # outermost: also reshapes the shedder's refusals under /v2
    for path, method, endpoint, openapi in table:
        app.add_api_route(path, endpoint, methods=[method], **openapi)
    token = admin.admin_token(settings)  # None: the admin routes do not exist
    if token is not None:
        for path, method, endpoint in admin.routes(token, handlers.current_service):
            app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app


async def api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return refuse_api_error(request, error)


def refuse_api_error(request: Request, error: ApiError) -> Response:
    return _refuse(request, error.code, error.detail)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code, detail = routing_error(error.status_code, request.method, request.url.path, error.headers)
    response = _refuse(request, code or "invalid_body", detail or str(error.detail))
    response.headers.update(error.headers or {})  # e.g. Allow on a 405
    return response


async def validation_error(request: Request, error: Exception) -> Response:
    return _refuse(request, "invalid_body", "the request does not match the endpoint's parameters")


def _refuse(request: Request, code: str, detail: str) -> Response:
    """One concise log line (never a traceback) and the JSON error answer."""
    service_metrics().errors.labels(code=code).inc()
    logger.info("%s %s -> %s: %s", request.method, request.url.path, code, detail)
    return error_response(code, detail)
