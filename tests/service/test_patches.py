"""The fix to BentoML's TimeoutMiddleware: same answers, and no timer left behind per request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bentoml._internal.server.http.traffic import TimeoutMiddleware
from starlette.types import Message, Receive, Scope, Send

from service.patches import cancel_request_timers

assert cancel_request_timers()  # the pinned BentoML version: the patch applies


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.sleep(5)


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("boom")


async def call(app: Any) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await TimeoutMiddleware(app, timeout=0.2)({"type": "http", "path": "/x", "headers": []}, receive, send)
    return sent


def live_timers() -> int:
    loop = asyncio.get_running_loop()
    return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


def test_requests_leave_no_timer_behind() -> None:
    async def scenario() -> tuple[int, int]:
        before = live_timers()
        for _ in range(50):
            assert (await call(ok_app))[0]["status"] == 200
        return before, live_timers()

    before, after = asyncio.run(scenario())
    assert after == before  # unpatched: 50 more, each alive for the whole timeout


def test_a_request_past_the_timeout_still_gets_504() -> None:
    sent = asyncio.run(call(slow_app))
    assert sent[0]["status"] == 504


def test_an_app_error_is_raised_at_once_instead_of_waiting_for_the_timeout() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RuntimeError, match="boom"):
            await call(failing_app)
        return loop.time() - started

    assert asyncio.run(scenario()) < 0.2
