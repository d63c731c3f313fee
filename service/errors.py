"""One JSON error shape for every endpoint: {"error": <stable code>, "detail": <what and what is expected>}."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response

# Status of every error code the API can answer with (docs/serving.md lists them for clients).
STATUS: dict[str, int] = {
    "invalid_json": 400,
    "invalid_body": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "reload_refused": 409,
    "request_timeout": 408,
    "body_too_large": 413,
    "too_many_rows": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_shape": 422,
    "invalid_type": 422,
    "not_finite": 422,
    "out_of_range": 422,
    "invalid_image": 422,
    "internal_error": 500,
    "overloaded": 503,
    "deadline_exceeded": 503,
    "not_ready": 503,
}
RETRY_AFTER_SECONDS = 1
HEADERS_BY_STATUS: dict[int, dict[str, str]] = {
    401: {"WWW-Authenticate": 'Bearer realm="bento-serving admin"'},
    503: {"Retry-After": str(RETRY_AFTER_SECONDS)},
    408: {"Connection": "close"},  # the rest of a stalled body is not worth waiting for
}


class ApiError(Exception):
    """A request the service refuses; carries its code and a detail that never echoes large input."""

    def __init__(self, code: str, detail: str) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(detail)
        self.code = code
        self.detail = detail

    @property
    def status(self) -> int:
        return STATUS[self.code]


def error_response(code: str, detail: str) -> Response:
    status = STATUS[code]
    headers = HEADERS_BY_STATUS.get(status)
    body = json.dumps({"error": code, "detail": detail}).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def describe(value: object) -> str:
    """A short description of a value for an error detail: its JSON type, never its content."""
    names = {bool: "a boolean", str: "a string", type(None): "null", dict: "an object", list: "a list"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def routing_error(
    status: int, method: str, path: str, headers: Mapping[str, str] | None = None
) -> tuple[str | None, str | None]:
    """The code and detail for a request that reached no route: 404 (no such path) or 405 (the path
    exists, not with this method: ``headers`` carry its Allow). (None, None) for any other status."""
    shown = path if len(path) <= 80 else path[:77] + "..."
    if status == 404:
        return "not_found", f"there is no {shown}; the API is described at / and /docs.json"
    if status == 405:
        allowed = sorted({method.strip() for method in (headers or {}).get("Allow", "").split(",")} - {""})
        use = " or ".join(allowed) if allowed else "another method"
        return "method_not_allowed", f"{method} is not allowed on {shown}; use {use}"
    return None, None
