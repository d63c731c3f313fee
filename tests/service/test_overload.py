"""The load shedder and deadlines as units: an ASGI app that blocks, driven directly."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from service.errors import ApiError
from service.overload import Limits, LoadShedder, Pace, deadline_ms, remaining_seconds


def http_scope(method: str = "POST", headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": method, "path": "/classify", "headers": headers or []}


class Gate:
    """An app that holds every request until released, recording the scopes it saw."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope)
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app: Any, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_requests_past_the_limit_get_503_overloaded_with_retry_after() -> None:
    limits = Limits(max_in_flight=2)

    async def scenario() -> tuple[list[list[Message]], list[Message], list[Message]]:
        gate = Gate()
        shedder = LoadShedder(gate, limits)
        held = [asyncio.create_task(call(shedder, http_scope())) for _ in range(2)]
        await asyncio.sleep(0.01)
        refused = await call(shedder, http_scope())  # the third, while two are in flight
        health = asyncio.create_task(call(shedder, http_scope("GET")))  # GETs are never shed
        await asyncio.sleep(0.01)
        gate.release.set()
        done = await asyncio.gather(*held)
        after = await call(shedder, http_scope())  # capacity is back
        assert shedder.in_flight == 0
        return done, refused, [*(await health), *after]

    done, refused, later = asyncio.run(scenario())
    assert all(messages[0]["status"] == 200 for messages in done)
    assert refused[0]["status"] == 503
    assert (b"retry-after", b"1") in refused[0]["headers"]
    assert json.loads(refused[1]["body"])["error"] == "overloaded"
    assert [m["status"] for m in later if m["type"] == "http.response.start"] == [200, 200]


def test_deadline_defaults_and_client_can_only_shorten_it() -> None:
    assert deadline_ms(http_scope(), 5000) == 5000
    assert deadline_ms(http_scope(headers=[(b"x-request-deadline-ms", b"250")]), 5000) == 250
    assert deadline_ms(http_scope(headers=[(b"x-request-deadline-ms", b"60000")]), 5000) == 5000


@pytest.mark.parametrize("value", [b"", b"0", b"-5", b"1.5", b"soon", b"1e3", b"\xb2", b"9" * 5000])
def test_malformed_deadline_header_is_refused(value: bytes) -> None:
    with pytest.raises(ApiError) as refused:
        deadline_ms(http_scope(headers=[(b"x-request-deadline-ms", value)]), 5000)
    assert refused.value.code == "invalid_body"
    assert refused.value.status == 400


def test_remaining_seconds_raises_once_the_deadline_passed() -> None:
    assert 0 < remaining_seconds({"deadline": time.monotonic() + 1}, 5.0) <= 1
    assert remaining_seconds({}, 5.0) == 5.0  # no shedder in front: the default
    with pytest.raises(ApiError) as late:
        remaining_seconds({"deadline": time.monotonic() - 0.001}, 5.0)
    assert late.value.code == "deadline_exceeded"
    assert late.value.status == 503


def test_shedder_stamps_the_deadline_on_admitted_requests() -> None:

    async def scenario() -> Scope:
        gate = Gate()
        gate.release.set()
        await call(
            LoadShedder(gate, Limits(deadline_ms=5000)),
            http_scope(headers=[(b"x-request-deadline-ms", b"100")]),
        )
        return gate.seen[0]

    before = time.monotonic()
    seen = asyncio.run(scenario())
    assert before + 0.09 < seen["deadline"] <= time.monotonic() + 0.1


def test_pace_times_only_busy_spans() -> None:
    pace = Pace()
    pace.started(10.0, in_flight=0)  # a busy period begins
    pace.answered(10.2, in_flight=1)  # first answer after 0.2 s, one still in flight
    assert pace.mean_s == pytest.approx(0.2)
    pace.answered(10.3, in_flight=0)  # the next 0.1 s later; idle from here
    assert pace.mean_s == pytest.approx(0.2 + 0.1 * (0.1 - 0.2))
    pace.started(99.0, in_flight=0)  # the idle gap (10.3 .. 99.0) is not timed
    pace.answered(99.29, in_flight=0)
    assert pace.mean_s == pytest.approx(0.19 + 0.1 * (0.29 - 0.19))
    assert pace.expected_wait_s(10) == pytest.approx(10 * pace.mean_s)


def test_pace_counts_only_successful_answers() -> None:
    """Fast refusals (a burst of 503 deadline_exceeded, say) must not make the queue look quick."""
    pace = Pace()
    pace.started(0.0, in_flight=0)
    pace.answered(0.1, in_flight=3)
    for moment in (0.101, 0.102, 0.103):
        pace.answered(moment, in_flight=2, ok=False)
    pace.answered(0.2, in_flight=1)  # measured from the previous 2xx answer
    assert pace.mean_s == pytest.approx(0.1)


def test_request_whose_deadline_the_queue_would_miss_is_refused_before_its_body() -> None:
    """At a pace of 0.1 s per answer, 3 in flight means about 0.3 s of wait: a 100 ms deadline is
    refused at once (its body never read), 5 s is admitted, and with none in flight any is admitted."""
    limits = Limits(max_in_flight=128, deadline_ms=5000)
    short = http_scope(headers=[(b"x-request-deadline-ms", b"100")])

    async def scenario() -> tuple[list[Message], list[Message], list[Message], int]:
        gate = Gate()
        shedder = LoadShedder(gate, limits)
        shedder.pace.mean_s = 0.1
        lone = asyncio.create_task(call(shedder, short))  # none in flight: admitted
        await asyncio.sleep(0.01)
        held = [asyncio.create_task(call(shedder, http_scope())) for _ in range(2)]
        await asyncio.sleep(0.01)
        refused = await call(shedder, short)
        patient = asyncio.create_task(call(shedder, http_scope()))
        await asyncio.sleep(0.01)
        admitted = len(gate.seen)
        gate.release.set()
        await asyncio.gather(*held, patient)
        return await lone, refused, await patient, admitted

    lone, refused, patient, admitted = asyncio.run(scenario())
    assert lone[0]["status"] == 200
    assert patient[0]["status"] == 200
    assert refused[0]["status"] == 503
    assert (b"retry-after", b"1") in refused[0]["headers"]
    assert json.loads(refused[1]["body"]) == {
        "error": "overloaded",
        "detail": "the requests ahead would take longer than this request's deadline; retry shortly",
    }
    assert admitted == 4  # the lone one, the two held, the patient one; not the refused one
