"""The V2 route table (service/app.py registers it beside the JSON API) and its GET handlers.

Every model in models.SPECS gets its own paths (``/v2/models/<name>/...``), so a model is served by its
registry entry alone; any other path under /v2 is a 404 (or 405) in the protocol's shape.

The OpenAPI document lists the server routes and each model's metadata, readiness and infer routes.
Infer's body is documented in its JSON form; no schema can say that the data's length must match the
declared shape, so most "schema-valid" bodies a fuzzer sends are rightly refused (400), and the binary
extension (raw bytes after a JSON header whose length is an HTTP header) is described in words. The
/versions/{version} routes are left out on purpose: a path parameter gets arbitrary strings from a
fuzzer, and BentoML answers a path it cannot route to the mounted app (one with an encoded newline)
itself, in text/plain, before any handler of ours runs. The protocol's specification and the real
clients (tests/service/test_v2_clients.py) are the contract of those routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import bentoml
import numpy as np
import orjson
from bentoml.exceptions import BentoMLException
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from models import SPECS
from service import handlers
from service.errors import RETRY_AFTER_SECONDS, ApiError
from service.kinds import kind_of
from service.v2 import infer, metadata, schemas

Route = tuple[str, str, Callable[..., Awaitable[Response]], dict[str, Any]]
ANY_METHOD = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
HIDDEN = {"include_in_schema": False}


def _json(content: dict[str, Any], status: int = 200) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return Response(orjson.dumps(content), status, headers, media_type="application/json")


def _ready() -> bool:
    """What ``__is_ready__`` says (service/service.py): loaded and warmed up, and not draining."""
    try:
        service = bentoml.get_current_service()
    except BentoMLException:  # not instantiated yet: the worker is still loading
        return False
    return bool(getattr(service, "ready", False)) and not getattr(service, "draining", False)


async def server_metadata() -> Response:
    return _json(metadata.server_metadata())


async def server_live() -> Response:
    return _json({"live": True})


async def server_ready() -> Response:
    ready = _ready()
    return _json({"ready": ready}, 200 if ready else 503)


def model_metadata(name: str) -> handlers.Endpoint:
    async def v2_model_metadata(request: Request) -> Response:
        service = handlers.current_service()
        runtime = metadata.served_model(service, name, request.path_params.get("version"))
        return _json(metadata.model_metadata(runtime, list(service.versions[name])))

    return v2_model_metadata


def model_ready(name: str) -> handlers.Endpoint:
    async def v2_model_ready(request: Request) -> Response:
        if not _ready():
            return _json({"name": name, "ready": False}, 503)
        metadata.served_model(handlers.current_service(), name, request.path_params.get("version"))
        return _json({"name": name, "ready": True})

    return v2_model_ready


async def unknown_path(request: Request) -> Response:
    """Any other path under /v2: 404 in the protocol's shape (BentoML would answer a plain-text 404,
    since its mount only takes paths the app has a route for), or 405 when another route has the path
    and not the method."""
    allowed = {
        method
        for route in request.app.router.routes
        if getattr(route, "endpoint", None) is not unknown_path
        and route.matches(request.scope)[0] == Match.PARTIAL
        for method in getattr(route, "methods", ())
    }
    if allowed:
        raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})
    parts = request.scope["path"].split("/")  # "", "v2", "models", name, ...
    if len(parts) > 3 and parts[2] == "models":
        raise metadata.unknown_model(parts[3])
    raise ApiError("not_found", "there is no such V2 route; see the protocol's paths under /v2")


def _responses(*statuses: int, ready: type[Any] | None = None) -> dict[int | str, dict[str, Any]]:
    """The documented error answers: the V2 error shape, or the readiness body for a 503 of readiness."""
    described = {404: "not_found: no such version", 503: "not ready (loading or draining), with Retry-After"}
    return {
        status: {
            "model": ready if status == 503 and ready else schemas.V2Error,
            "description": described[status],
        }
        for status in statuses
    }


def _get(
    path: str, handler: Callable[..., Awaitable[Response]], model: type[Any], summary: str, **extra: Any
) -> Route:
    return (path, "GET", handler, {"response_model": model, "summary": f"V2: {summary}", **extra})


def _infer_example(name: str) -> dict[str, Any]:
    """A request that Swagger UI's "Try it out" sends as is: the JSON API's example for the model's kind
    (real data, service/schemas.py), as one FP32 tensor."""
    spec = SPECS[name]
    kind = kind_of(spec.input_schema(spec.config_type()))
    data = kind.request.model_json_schema()["examples"][0][kind.tensor_name]
    shape = list(np.asarray(data).shape)
    return {"inputs": [{"name": kind.tensor_name, "shape": shape, "datatype": "FP32", "data": data}]}


def _infer_options(name: str) -> dict[str, Any]:
    """What the OpenAPI document says of ``name``'s infer route."""
    described = {
        400: "a malformed request: bad JSON, shape, datatype, names, sizes, values",
        408: "request_timeout: the body did not arrive before the deadline",
        413: "body_too_large or too_many_rows",
        415: "unsupported_media_type",
        503: "overloaded, deadline_exceeded or not_ready, with Retry-After",
    }
    errors = {status: {"model": schemas.V2Error, "description": text} for status, text in described.items()}
    binary = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    ok = {
        200: {
            "description": "JSON, or with binary outputs: the JSON header, then their bytes",
            "content": binary,
        }
    }
    summary = (
        f"V2: infer with {name} (JSON, or binary tensor data after an Inference-Header-Content-Length header)"
    )
    return {
        "response_model": schemas.InferResponse,
        "responses": {**ok, **errors},
        "openapi_extra": schemas.infer_body(_infer_example(name)),
        "summary": summary,
    }


def routes() -> list[Route]:
    """(path, method, handler, what the OpenAPI document says of it) for the whole protocol."""
    ready_responses = _responses(503, ready=schemas.ServerReady)
    table = [
        _get("/v2", server_metadata, schemas.ServerMetadata, "server metadata"),
        _get("/v2/health/live", server_live, schemas.ServerLive, "liveness"),
        _get("/v2/health/ready", server_ready, schemas.ServerReady, "readiness", responses=ready_responses),
    ]
    for name in SPECS:
        model = f"/v2/models/{name}"
        described = _responses(503)
        ready = _responses(503, ready=schemas.ModelReady)
        table.append(
            _get(model, model_metadata(name), schemas.ModelMetadata, f"{name} metadata", responses=described)
        )
        table.append(
            _get(
                f"{model}/ready", model_ready(name), schemas.ModelReady, f"{name} readiness", responses=ready
            )
        )
        table.append((f"{model}/infer", "POST", infer.predictions(name), _infer_options(name)))
        versioned = f"{model}/versions/{{version}}"
        table.append((versioned, "GET", model_metadata(name), HIDDEN))
        table.append((f"{versioned}/ready", "GET", model_ready(name), HIDDEN))
        table.append((f"{versioned}/infer", "POST", infer.predictions(name), HIDDEN))
    # Last: only what no route above takes.
    table.extend(("/v2/{path:path}", method, unknown_path, HIDDEN) for method in ANY_METHOD)
    return table
