"""Shed load on purpose: a bounded number of prediction requests in flight per worker, and a
deadline per request after which its work is dropped instead of computed.

Runs as a pure ASGI middleware in front of the prediction routes, so a refusal costs no body read
and no JSON parse; health, readiness and metrics never pass through it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import ApiError, error_response
from service.metrics import service_metrics

DEADLINE_HEADER = b"x-request-deadline-ms"


@dataclass
class Limits:
    """Set once by the service at start (before any request), read by every request."""

    max_in_flight: int = 128
    deadline_ms: int = 5000


LIMITS = Limits()


class LoadShedder:
    """Counts prediction requests in flight; past ``LIMITS.max_in_flight`` answers 503 ``overloaded``
    with Retry-After at once. Stamps each admitted request with its deadline (``scope["deadline"]``,
    a ``time.monotonic()`` value): the default, or sooner if the client asks with X-Request-Deadline-Ms."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= LIMITS.max_in_flight:
            await self._refuse(scope, receive, send, "overloaded", "the server is at capacity; retry shortly")
            return
        try:
            scope["deadline"] = time.monotonic() + deadline_ms(scope) / 1000
        except ApiError as error:
            await self._refuse(scope, receive, send, error.code, error.detail)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, code: str, detail: str) -> None:
        service_metrics().errors.labels(code=code).inc()
        await error_response(code, detail)(scope, receive, send)


def deadline_ms(scope: Scope) -> int:
    """The request's deadline in milliseconds: the default, or the client's shorter one."""
    for name, value in scope["headers"]:
        if name == DEADLINE_HEADER:
            text = value.decode("latin-1").strip()
            if not text.isdigit() or int(text) == 0:
                raise ApiError(
                    "invalid_body", "X-Request-Deadline-Ms must be a positive whole number of milliseconds"
                )
            return min(int(text), LIMITS.deadline_ms)
    return LIMITS.deadline_ms


def remaining_seconds(scope: Scope) -> float:
    """Seconds left before the request's deadline; raises deadline_exceeded when none are."""
    deadline: float | None = scope.get("deadline")
    if deadline is None:
        return LIMITS.deadline_ms / 1000
    left = deadline - time.monotonic()
    if left <= 0:
        raise ApiError("deadline_exceeded", "the request's deadline passed before it could be computed")
    return left
