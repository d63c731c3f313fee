"""Cut off request bodies that have not arrived by the request's deadline (a slow or stalled client).

Without this, a client that sends its headers and then trickles (or never sends) its body holds an
in-flight slot until BentoML's traffic timeout answers 504, a server error for a client's fault; as
many such clients as the in-flight limit would take every slot. A body still incomplete at its deadline
is answered ``408 request_timeout`` instead.

One periodic check per worker rather than a timer per request: a cancelled asyncio timer stays in the
loop's heap until it would have fired, and at thousands of requests a second the collections that walk
them cost milliseconds (see service/handlers.py). service/app.py gives each app one watch. The check stops after a few seconds without a body being read.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

CHECK_PERIOD_S = 0.1
IDLE_CHECKS = 50  # the checker ends after this many checks in a row found no body being read


class BodyWatch:
    """Tasks reading a body, with their deadlines; a task past its deadline is cancelled and marked,
    so that the reader can tell this cancellation from any other and answer 408."""

    def __init__(self) -> None:
        self.reading: dict[asyncio.Task[Any], float] = {}
        self.expired: weakref.WeakSet[asyncio.Task[Any]] = (
            weakref.WeakSet()
        )  # no task outlives its request here
        self._checker: asyncio.Task[None] | None = None

    def watch(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.reading[task] = deadline
        loop = asyncio.get_running_loop()
        if self._checker is None or self._checker.done() or self._checker.get_loop() is not loop:
            self._checker = loop.create_task(self._check())

    def unwatch(self, task: asyncio.Task[Any]) -> None:
        self.reading.pop(task, None)

    def cut_off(self, task: asyncio.Task[Any]) -> bool:
        """True when ``task`` was cancelled by this watch (and clears the mark)."""
        if task in self.expired:
            self.expired.discard(task)
            return True
        return False

    async def _check(self) -> None:
        idle_checks = 0
        while idle_checks < IDLE_CHECKS:  # stays up through short gaps, so a busy worker starts it once
            await asyncio.sleep(CHECK_PERIOD_S)
            idle_checks = 0 if self.reading else idle_checks + 1
            now = time.monotonic()
            for task, deadline in list(self.reading.items()):
                if deadline <= now:
                    del self.reading[task]
                    self.expired.add(task)
                    task.cancel()
