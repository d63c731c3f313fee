"""An in-process batcher per model: merge concurrent requests into one forward pass, counting rows.

It dispatches at once when the model is idle (a lone request never waits for a batch that will not
come) and merges whatever arrived while the model was busy, up to ``max_batch_rows`` rows. A forward
pass runs in one thread per model so the event loop keeps accepting, parsing and shedding requests,
except for batches small enough (``inline_max_rows``) that the thread handoff would cost more. Every
request is validated before it gets here, so one bad request cannot fail the others in its batch.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]
# Called with (rows in the batch, seconds each request waited, seconds the forward took).
Observer = Callable[[int, list[float], float], None]


class DeadlineExceededError(Exception):
    """The request's deadline passed while it waited; it was dropped without being computed."""


@dataclass
class Timing:
    """Where one request's time went in the batcher, in seconds: waiting for its batch to start, and
    that batch's forward pass (shared with the other requests merged into it)."""

    queue_s: float = 0.0
    compute_s: float = 0.0


@dataclass
class _Pending:
    rows: np.ndarray
    future: asyncio.Future[np.ndarray]
    deadline: float  # time.monotonic() value
    timing: Timing | None = None
    arrived: float = field(default_factory=time.perf_counter)


class Batcher:
    def __init__(
        self,
        predict: Predict,
        name: str,
        max_batch_rows: int,
        max_wait_s: float = 0.0,
        observer: Observer | None = None,
        inline_max_rows: int = 0,
        thread_setup: Callable[[], object] | None = None,
    ) -> None:
        self._predict = predict
        # Batches this small run on the event loop: their forward pass costs less than handing it to
        # a thread and back (and the handoff is where a lone request's tail latency came from).
        self.inline_max_rows = inline_max_rows
        self._max_batch_rows = max_batch_rows
        self._max_wait_s = max_wait_s
        self._observer = observer
        self._queue: deque[_Pending] = deque()
        # One thread per model: forward passes of one model never overlap, so batches form while
        # the model is busy instead of threads competing for the cores. ``thread_setup`` runs first in
        # that thread (the runtime gives it torch's thread count: OpenMP keeps one per thread).
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"{name}-forward", initializer=thread_setup
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(
        self, rows: np.ndarray, deadline: float = float("inf"), timing: Timing | None = None
    ) -> np.ndarray:
        """Predict ``rows`` (validated, normalised), possibly together with other requests; dropped
        unseen if ``deadline`` (a ``time.monotonic()`` value) passes before its batch starts. When
        given, ``timing`` is filled in with this request's queue and compute time."""
        wakeup = self._ensure_running()
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(rows, future, deadline, timing))
        wakeup.set()
        return await future

    async def run_alone(self, rows: np.ndarray, timing: Timing | None = None) -> np.ndarray:
        """Predict ``rows`` without merging (batching switched off); inline or in the model's thread."""
        started = time.perf_counter()
        result = await self._forward(rows)
        seconds = time.perf_counter() - started
        if timing is not None:
            timing.compute_s = seconds
        if self._observer:
            self._observer(len(rows), [0.0], seconds)
        return result

    async def _forward(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) <= self.inline_max_rows:
            return self._predict(rows)
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._predict, rows)

    def close(self) -> None:
        """Stop the batch task and the model's thread; callable from any thread (a retired version is
        closed from a timer's)."""
        task, loop = self._task, self._loop
        if task is not None and loop is not None and not loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                task.cancel()
            else:
                loop.call_soon_threadsafe(task.cancel)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _ensure_running(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._wakeup is None or self._task is None or self._task.done():
            self._loop, self._wakeup = loop, asyncio.Event()
            self._task = loop.create_task(self._run(self._wakeup), name="batcher")
        return self._wakeup

    async def _run(self, wakeup: asyncio.Event) -> None:
        while True:
            if not self._queue:
                wakeup.clear()
                await wakeup.wait()
                continue
            if self._max_wait_s > 0:
                await self._wait_for_rows()
            batch = self._take_batch()
            if batch:
                await self._dispatch(batch)

    async def _wait_for_rows(self) -> None:
        """Optional: hold the first request up to max_wait_s for more rows (off by default)."""
        deadline = self._queue[0].arrived + self._max_wait_s
        while sum(len(p.rows) for p in self._queue) < self._max_batch_rows:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.001))

    def _take_batch(self) -> list[_Pending]:
        """Oldest first, up to max_batch_rows rows; a request larger than that goes alone."""
        batch: list[_Pending] = []
        rows = 0
        now = time.monotonic()
        while self._queue:
            head = self._queue[0]
            if head.future.done():  # the client went away, or its deadline timer fired
                self._queue.popleft()
                continue
            if head.deadline <= now:
                self._queue.popleft().future.set_exception(DeadlineExceededError())
                continue
            if batch and rows + len(head.rows) > self._max_batch_rows:
                break
            batch.append(self._queue.popleft())
            rows += len(head.rows)
        return batch

    async def _dispatch(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        merged = batch[0].rows if len(batch) == 1 else np.concatenate([p.rows for p in batch])
        try:
            result = await self._forward(merged)
        except Exception as error:  # a bug, not bad input: every caller gets it
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        finished = time.perf_counter()
        offset = 0
        for pending in batch:
            count = len(pending.rows)
            if pending.timing is not None:
                pending.timing.queue_s = started - pending.arrived
                pending.timing.compute_s = finished - started
            if not pending.future.done():
                pending.future.set_result(result[offset : offset + count])
            offset += count
        if self._observer:
            self._observer(len(merged), [started - p.arrived for p in batch], finished - started)
