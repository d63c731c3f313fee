"""Shed load on purpose: a bounded number of prediction requests in flight per worker, and a
deadline per request after which its work is dropped instead of computed.

Runs as a pure ASGI middleware in front of the prediction routes, so a refusal costs no body read
and no JSON parse; health, readiness and metrics never pass through it.

A request is also refused at once when the requests already in flight would, at the worker's recent
pace, take longer than its deadline: admitted, it would be parsed and queued only to be dropped, and
that wasted work is what collapses goodput under overload when clients ask for short deadlines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.batcher import Timing
from service.errors import ApiError, error_response
from service.metrics import service_metrics

DEADLINE_HEADER = b"x-request-deadline-ms"
MAX_DEADLINE_DIGITS = 12  # a longer deadline is no shorter than the default anyway
# A prediction handler puts its batcher Timing here; the shedder turns it into a Server-Timing header.
TIMING_KEY = "serving.timing"
SERVER_TIMING_HEADER = b"server-timing"


@dataclass(frozen=True)
class Limits:
    """The shedder's limits, from the service's settings (SERVING_MAX_IN_FLIGHT, SERVING_DEADLINE_MS)."""

    max_in_flight: int = 128
    deadline_ms: int = 5000


PACE_WEIGHT = 0.1  # weight of the newest interval in the moving average (about the last 20 answers)


@dataclass
class Pace:
    """The mean time between successful answers while the worker is busy (an exponential moving
    average). Only 2xx answers end an interval: a burst of fast refusals or validation errors says
    nothing about how soon the work queued behind them will be done.

    Times only busy spans: from the start of a busy period or the previous 2xx answer to the next one.
    With ``in_flight`` requests ahead, a new one should expect to wait about ``in_flight * mean_s``.
    """

    mean_s: float = 0.0
    since: float | None = None  # start of the span being timed; None while idle

    def started(self, now: float, in_flight: int) -> None:
        if in_flight == 0:
            self.since = now  # a busy period begins

    def answered(self, now: float, in_flight: int, ok: bool = True) -> None:
        if ok and self.since is not None:
            interval = now - self.since
            self.mean_s = (
                interval if self.mean_s == 0 else self.mean_s + PACE_WEIGHT * (interval - self.mean_s)
            )
            self.since = now
        if in_flight == 0:
            self.since = None

    def expected_wait_s(self, in_flight: int) -> float:
        return in_flight * self.mean_s


class LoadShedder:
    """Counts prediction requests in flight; past ``limits.max_in_flight`` answers 503 ``overloaded``
    with Retry-After at once. Stamps each admitted request with its deadline (``scope["deadline"]``,
    a ``time.monotonic()`` value): the default, or sooner if the client asks with X-Request-Deadline-Ms.
    Refuses (503 ``overloaded``) a request whose deadline is shorter than the expected wait behind
    the requests in flight; a request that finds none in flight is always admitted."""

    def __init__(self, app: ASGIApp, limits: Limits | None = None) -> None:
        self.app = app
        self.limits = limits or Limits()
        self.in_flight = 0
        self.pace = Pace()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limits.max_in_flight:
            await self._refuse(scope, receive, send, "overloaded", "the server is at capacity; retry shortly")
            return
        try:
            budget_s = deadline_ms(scope, self.limits.deadline_ms) / 1000
        except ApiError as error:
            await self._refuse(scope, receive, send, error.code, error.detail)
            return
        if self.pace.expected_wait_s(self.in_flight) > budget_s:
            detail = "the requests ahead would take longer than this request's deadline; retry shortly"
            await self._refuse(scope, receive, send, "overloaded", detail)
            return
        now = time.monotonic()
        scope["deadline"] = now + budget_s
        self.pace.started(now, self.in_flight)
        self.in_flight += 1
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                timing: Timing | None = scope.get(TIMING_KEY)
                if timing is not None:
                    header = server_timing(timing, time.monotonic() - now)
                    message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.in_flight -= 1
            self.pace.answered(time.monotonic(), self.in_flight, ok=200 <= status < 300)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, code: str, detail: str) -> None:
        service_metrics().errors.labels(code=code).inc()
        await error_response(code, detail)(scope, receive, send)


def server_timing(timing: Timing, total_s: float) -> tuple[bytes, bytes]:
    """The Server-Timing header of a prediction: ``queue`` (waiting for its batch to start),
    ``compute`` (that batch's forward pass) and ``total`` (admission to the answer), in milliseconds."""
    value = (
        f"queue;dur={timing.queue_s * 1000:.3f}, compute;dur={timing.compute_s * 1000:.3f}, "
        f"total;dur={total_s * 1000:.3f}"
    )
    return SERVER_TIMING_HEADER, value.encode()


def deadline_ms(scope: Scope, default_ms: int) -> int:
    """The request's deadline in milliseconds: ``default_ms``, or the client's shorter one."""
    for name, value in scope["headers"]:
        if name == DEADLINE_HEADER:
            text = value.decode("latin-1").strip()
            # ASCII digits only (str.isdigit accepts '²'), and few enough for int() to be cheap.
            if not (text.isascii() and text.isdigit() and len(text) <= MAX_DEADLINE_DIGITS) or int(text) == 0:
                raise ApiError(
                    "invalid_body", "X-Request-Deadline-Ms must be a positive whole number of milliseconds"
                )
            return min(int(text), default_ms)
    return default_ms


def remaining_seconds(scope: Scope, default_s: float) -> float:
    """Seconds left before the request's deadline (``default_s`` when no shedder stamped one); raises
    deadline_exceeded when none are left."""
    deadline: float | None = scope.get("deadline")
    if deadline is None:
        return default_s
    left = deadline - time.monotonic()
    if left <= 0:
        raise ApiError("deadline_exceeded", "the request's deadline passed before it could be computed")
    return left
