"""Traffic that follows every request: open-loop one-row /classify requests through nginx, each with
its own X-Request-ID (nginx passes it on and logs it next to the replica that answered), sent for as
long as an action runs and a while after. Each answer is kept with the model version it names.

The client retries a request once when its connection is reset or closed before any answer came,
as HTTP/1.1 clients do for idempotent requests (a prediction is one): every `nginx -s reload` closes
the idle keep-alive connections of its old workers, and a request written onto one at that instant
is lost in flight. Such resets are counted on their own (``reset``), never hidden.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import aiohttp

from deploy.topology.traffic import REQUEST_TIMEOUT_S, SCENARIO
from load.scenarios import check_answer

T = TypeVar("T")


@dataclass(frozen=True)
class Tracked:
    rid: str  # the X-Request-ID sent
    scheduled_s: float  # from the start of the load
    latency_ms: float  # from the scheduled time to the answer (or the failure)
    status: int | None  # None: no answer
    version: str | None  # the tabular model version the answer names
    error: str | None  # None: a right answer
    reset: str | None = None  # the first try's connection error, when it was retried


def named_version(body: bytes) -> str | None:
    """The version in the answer's "model" field ("tabular-classifier:<version>")."""
    try:
        model = json.loads(body).get("model")
    except (ValueError, AttributeError):
        return None
    return model.split(":", 1)[1] if isinstance(model, str) and ":" in model else None


# No answer at all: the connection was reset or closed under the request (not a timeout).
RETRIED = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)


async def _send(
    session: aiohttp.ClientSession, url: str, rid: str, scheduled: float, origin: float
) -> Tracked:
    loop = asyncio.get_running_loop()
    headers = {"Content-Type": SCENARIO.content_type, "Accept": "application/json", "X-Request-ID": rid}
    status: int | None = None
    version: str | None = None
    reset: str | None = None
    for attempt in (1, 2):
        try:
            async with session.post(url, data=SCENARIO.body, headers=headers) as response:
                status, body = response.status, await response.read()
            error = check_answer(status, body, SCENARIO)
            version = named_version(body) if error is None else None
        except RETRIED as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            if attempt == 1:
                reset = error
                continue
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
        break
    latency_ms = (loop.time() - scheduled) * 1000
    return Tracked(rid, round(scheduled - origin, 4), round(latency_ms, 3), status, version, error, reset)


async def _load(url: str, rate: float, origin: float, done: asyncio.Event, after_s: float) -> list[Tracked]:
    """Requests at ``rate`` from ``origin`` until ``after_s`` past ``done``; every answer awaited."""
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[Tracked]] = []
    stop_at: float | None = None
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for index in range(10**9):
            if stop_at is None and done.is_set():
                stop_at = loop.time() + after_s
            scheduled = origin + index / rate
            if stop_at is not None and scheduled >= stop_at:
                break
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, url, f"r{index}", scheduled, origin)))
        return list(await asyncio.gather(*tasks))


def send_load_during(
    url: str, rate: float, action: Callable[[float], T], before_s: float, after_s: float
) -> tuple[list[Tracked], T]:
    """``rate`` requests a second to ``url``; ``before_s`` in, ``action(origin)`` runs in a thread while
    the requests keep leaving on time; ``after_s`` after it returns the load stops. The answers (with
    times from ``origin``, time.monotonic) and what ``action`` returned; its exception, if it raised."""

    async def phase() -> tuple[list[Tracked], T]:
        origin = asyncio.get_running_loop().time() + 0.01
        done = asyncio.Event()
        load = asyncio.create_task(_load(url + SCENARIO.path, rate, origin, done, after_s))
        await asyncio.sleep(before_s)
        try:
            result = await asyncio.to_thread(action, origin)
        finally:
            done.set()
            answers = await load
        return answers, result

    return asyncio.run(phase())
