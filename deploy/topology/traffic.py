"""Traffic through nginx: the project's open-loop generator (load/openloop.py) sending one-row
/classify requests at a fixed rate, alone or around an action (stopping a replica), and one body over
nginx's size limit."""

from __future__ import annotations

import asyncio
import http.client
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from load.openloop import Outcome, error_code, run_step, step_figures
from load.scenarios import SCENARIOS

SCENARIO = SCENARIOS["classify-1"]  # one row: rows served add up to requests answered
REQUEST_TIMEOUT_S = 15.0  # a request not answered by then fails
DRAIN_S = 15.0  # after the last scheduled send, how long answers still out are waited for
T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    at_s: float  # when it was scheduled, from the start of its phase
    status: int | None  # None: no answer (connection error, timeout)
    error: str  # what was wrong (load.scenarios.check_answer's words)


@dataclass(frozen=True)
class Traffic:
    """What one phase of load measured; latencies run from each request's scheduled time."""

    offered_rps: float
    requests: int
    failed: int
    failures: list[Failure]  # the first ten
    achieved_rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def summarize(outcomes: list[Outcome], rate: float, seconds: float, origin: float) -> Traffic:
    """``outcomes`` of a phase started at ``origin`` (event-loop clock) as a Traffic."""
    figures = step_figures(outcomes, rate, seconds, SCENARIO.rows)
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    return Traffic(
        offered_rps=rate,
        requests=len(outcomes),
        failed=len(failed),
        failures=[Failure(round(o.scheduled - origin, 3), o.status, o.error or "") for o in failed[:10]],
        achieved_rps=figures["achieved_rps"],
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        max_ms=figures["max_ms"],
    )


async def _open_loop(url: str, rate: float, seconds: float) -> list[Outcome]:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return await run_step(session, url + SCENARIO.path, SCENARIO, rate, seconds, DRAIN_S)


def send_load(url: str, rate: float, seconds: float) -> tuple[list[Outcome], float]:
    """``rate`` one-row requests a second to ``url`` for ``seconds``; the outcomes and the phase's
    start on the event-loop clock (time.monotonic)."""

    async def phase() -> tuple[list[Outcome], float]:
        origin = asyncio.get_running_loop().time()
        return await _open_loop(url, rate, seconds), origin

    return asyncio.run(phase())


def send_load_around(
    url: str, rate: float, seconds: float, after_s: float, action: Callable[[float], T]
) -> tuple[list[Outcome], float, T]:
    """As ``send_load``, and ``after_s`` into it ``action(origin)`` runs in a thread while the
    requests keep leaving on time; the outcomes, the phase's start and what ``action`` returned."""

    async def phase() -> tuple[list[Outcome], float, T]:
        origin = asyncio.get_running_loop().time()
        load = asyncio.create_task(_open_loop(url, rate, seconds))
        await asyncio.sleep(after_s)
        done = await asyncio.to_thread(action, origin)
        return await load, origin, done

    return asyncio.run(phase())


def since(origin: float) -> float:
    """Seconds from ``origin`` (the event-loop clock: time.monotonic) to now."""
    return round(time.monotonic() - origin, 2)


@dataclass(frozen=True)
class BodyLimit:
    status: int  # 0: no answer
    error: str | None  # the JSON error code, or the start of a body that is not JSON


def oversized_body(host: str, port: int) -> BodyLimit:
    """A body over nginx's client_max_body_size (8 MiB): refused in the service's error shape?"""
    connection = http.client.HTTPConnection(host, port, timeout=10)
    body = b"{" + b" " * (8 * 1024 * 1024) + b"}"
    try:
        connection.request("POST", SCENARIO.path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        code = error_code(answer) if answer.startswith(b"{") else answer[:100].decode(errors="replace")
        return BodyLimit(response.status, code)
    except (OSError, http.client.HTTPException) as failure:
        return BodyLimit(0, repr(failure))
    finally:
        connection.close()
