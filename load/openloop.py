"""An open-loop load generator: requests leave at a fixed rate whatever the server's answers take.

Request i of a step is scheduled at ``start + i / rate`` and its latency runs from that scheduled time,
not from when it was actually written: a server (or a client) that falls behind shows up in the
latency of every request it delays, so there is no coordinated omission. A step is bounded: after its
last scheduled send it waits at most ``drain_s`` for the answers still out, then cancels them and counts
them as failures, with the time they had waited as their latency (a lower bound).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from load.scenarios import Scenario, check_answer
from load.summary import nearest_rank


@dataclass(frozen=True)
class Outcome:
    scheduled: float  # event-loop clock, seconds
    finished: float
    lag_ms: float | None  # actual send - scheduled (None: never finished)
    error: str | None  # None: a right answer
    status: int | None = None  # None: no answer
    code: str | None = None  # the error code of a JSON error answer
    retry_after: str | None = None  # the Retry-After header, when sent

    @property
    def latency_ms(self) -> float:
        return (self.finished - self.scheduled) * 1000


async def _send(session: aiohttp.ClientSession, url: str, scenario: Scenario, scheduled: float) -> Outcome:
    loop = asyncio.get_running_loop()
    sent = loop.time()
    headers = {"Content-Type": scenario.content_type, "Accept": "application/json", **dict(scenario.headers)}
    status: int | None = None
    code: str | None = None
    retry_after: str | None = None
    try:
        async with session.post(url, data=scenario.body, headers=headers) as response:
            status, body = response.status, await response.read()
            retry_after = response.headers.get("Retry-After")
            error = check_answer(status, body, scenario)
            code = error_code(body) if status >= 400 else None
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:200]
    return Outcome(scheduled, loop.time(), (sent - scheduled) * 1000, error, status, code, retry_after)


def error_code(body: bytes) -> str | None:
    """The ``error`` field of a JSON error answer, or None when the body is not one."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    code = answer.get("error") if isinstance(answer, dict) else None
    return code if isinstance(code, str) else None


async def run_step(
    session: aiohttp.ClientSession, url: str, scenario: Scenario, rate: float, seconds: float, drain_s: float
) -> list[Outcome]:
    """Send ``round(rate * seconds)`` requests at exact intervals; every one comes back as an Outcome."""
    loop = asyncio.get_running_loop()
    count = max(1, round(rate * seconds))
    start = loop.time() + 0.01
    scheduled_at: list[float] = []
    tasks: list[asyncio.Task[Outcome]] = []
    for index in range(count):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        scheduled_at.append(scheduled)
        tasks.append(asyncio.create_task(_send(session, url, scenario, scheduled)))
    await asyncio.wait(tasks, timeout=max(0.0, start + seconds + drain_s - loop.time()))
    outcomes = []
    for scheduled, task in zip(scheduled_at, tasks, strict=True):
        if task.done():
            outcomes.append(task.result())
        else:
            task.cancel()
            outcomes.append(
                Outcome(scheduled, loop.time(), None, f"no answer within {drain_s:g} s of the step's end")
            )
    await asyncio.gather(*tasks, return_exceptions=True)
    return outcomes


def step_figures(outcomes: list[Outcome], rate: float, seconds: float, rows: int) -> dict[str, Any]:
    """What a step measured: counts, answered rate, latency percentiles (all requests), send lag."""
    latencies = [outcome.latency_ms for outcome in outcomes]
    lags = [outcome.lag_ms for outcome in outcomes if outcome.lag_ms is not None]
    ok = sum(outcome.error is None for outcome in outcomes)
    first = min((o.scheduled for o in outcomes), default=0.0)
    span = max(seconds, max((o.finished for o in outcomes), default=first) - first)
    errors = Counter(outcome.error for outcome in outcomes if outcome.error is not None)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "offered_rps": rate,
        "seconds": seconds,
        "sent": len(outcomes),
        "ok": ok,
        "failures": len(outcomes) - ok,
        "failure_ratio": (len(outcomes) - ok) / len(outcomes) if outcomes else None,
        "achieved_rps": round(ok / span, 2) if span > 0 else None,
        "rows_per_s": round(ok * rows / span, 2) if span > 0 else None,
        "p50_ms": rounded(nearest_rank(latencies, 0.50)),
        "p95_ms": rounded(nearest_rank(latencies, 0.95)),
        "p99_ms": rounded(nearest_rank(latencies, 0.99)),
        "max_ms": rounded(max(latencies, default=None)),
        "send_lag_p99_ms": rounded(nearest_rank(lags, 0.99)),
        "errors": dict(errors.most_common(5)),
    }


async def run_steps(
    url: str,
    scenario: Scenario,
    rates: list[float],
    seconds: float,
    drain_s: float,
    warmup_s: float = 0.0,
    max_connections: int = 512,
    stop_after: Callable[[list[dict[str, Any]]], bool] | None = None,
) -> list[dict[str, Any]]:
    """One step per rate, in order, on one connection pool; a warm-up step at the first rate first
    (not recorded). When ``stop_after(steps so far)`` is true, no higher rate is tried."""
    connector = aiohttp.TCPConnector(limit=max_connections)
    timeout = aiohttp.ClientTimeout(total=seconds + drain_s)
    endpoint = url.rstrip("/") + scenario.path
    results: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if warmup_s > 0:
            await run_step(session, endpoint, scenario, rates[0], warmup_s, drain_s)
        for rate in rates:
            outcomes = await run_step(session, endpoint, scenario, rate, seconds, drain_s)
            results.append(step_figures(outcomes, rate, seconds, scenario.rows))
            if stop_after is not None and stop_after(results):
                break
            await asyncio.sleep(0.5)  # let the server settle between steps
    return results
