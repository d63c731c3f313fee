"""One fix to BentoML 1.4.39, applied by each worker as its service starts (``ModelService.__init__``).

BentoML's TimeoutMiddleware (always on: `traffic.timeout` cannot be switched off) schedules one timer
per request with ``loop.call_later`` and never cancels it, so every request leaves a timer, a future and
a context alive for the whole timeout. At a few thousand requests a second that is tens of thousands of
live objects: the event loop's timer heap grows, and young-generation garbage collections walk them
(8-140 ms pauses measured, bench/results/PROFILE.md). This version behaves the same (504 after the
timeout) and cancels the timer when the request is done.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import bentoml
from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

logger = logging.getLogger("bentoml.serving")

PATCHED_VERSION = "1.4.39"


async def _timeout_call(self: Any, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] not in ("http", "websocket"):
        await self.app(scope, receive, send)
        return
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message: Any) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    def _finished(_: asyncio.Future[None]) -> None:  # an app that fails before answering: no waiting
        if not waiter.done():
            waiter.set_result(None)

    task = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    task.add_done_callback(_finished)
    try:
        await waiter
    except TimeoutError:
        if task.cancel():
            response = JSONResponse(
                {"error": f"Not able to process the request in {self.timeout} seconds"}, status_code=504
            )
            await response(scope, receive, send)
            return
    finally:
        timer.cancel()
    await task


def cancel_request_timers() -> bool:
    """Install the fixed middleware call; only on the BentoML version it was written against."""
    if bentoml.__version__ != PATCHED_VERSION:
        logger.warning(
            "BentoML %s: TimeoutMiddleware left unpatched (written for %s)",
            bentoml.__version__,
            PATCHED_VERSION,
        )
        return False
    traffic.TimeoutMiddleware.__call__ = _timeout_call  # type: ignore[method-assign]
    return True
