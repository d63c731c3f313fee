"""The in-process batcher: merging while busy, no wait when idle, order, deadlines, failures."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
import torch

from service.batcher import Batcher, DeadlineExceededError


class SlowDouble:
    """A 'model' that doubles its input, takes ``delay`` seconds, and records each batch's size."""

    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.batches.append(len(rows))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return rows * 2


def test_requests_arriving_while_busy_are_merged_in_order() -> None:
    model = SlowDouble()

    async def scenario() -> list[np.ndarray]:
        batcher = Batcher(model, "m", max_batch_rows=100)
        first = asyncio.create_task(batcher.submit(np.full((1, 2), -1.0)))
        await asyncio.sleep(0.005)  # the first batch is running now
        rest = [asyncio.create_task(batcher.submit(np.full((i + 1, 2), float(i)))) for i in range(5)]
        results = await asyncio.gather(first, *rest)
        batcher.close()
        return results

    results = asyncio.run(scenario())
    assert model.batches == [1, 15]  # the lone one at once, the five that queued behind it together
    assert np.array_equal(results[0], np.full((1, 2), -2.0))
    for i, result in enumerate(results[1:]):
        assert np.array_equal(result, np.full((i + 1, 2), 2.0 * i))
    assert all(name.startswith("m-forward") for name in model.threads)  # never on the event loop


def test_a_lone_request_is_dispatched_without_waiting() -> None:
    model = SlowDouble(delay=0)

    async def scenario() -> float:
        batcher = Batcher(model, "m", max_batch_rows=1024)
        await batcher.submit(np.ones((1, 2)))  # warm the thread
        started = time.perf_counter()
        await batcher.submit(np.ones((1, 2)))
        batcher.close()
        return time.perf_counter() - started

    assert asyncio.run(scenario()) < 0.5  # generous: no batching window to sit out
    assert model.batches == [1, 1]


def test_batches_never_exceed_the_row_limit_and_large_requests_go_alone() -> None:
    model = SlowDouble()

    async def scenario() -> None:
        batcher = Batcher(model, "m", max_batch_rows=10)
        blocker = asyncio.create_task(batcher.submit(np.ones((1, 1))))
        await asyncio.sleep(0.005)
        sizes = [4, 4, 4, 25, 3]
        results = await asyncio.gather(blocker, *(batcher.submit(np.ones((n, 1))) for n in sizes))
        assert [len(r) for r in results[1:]] == sizes
        batcher.close()

    asyncio.run(scenario())
    assert model.batches == [1, 8, 4, 25, 3]


def test_requests_past_their_deadline_are_dropped_uncomputed() -> None:
    model = SlowDouble(delay=0.05)

    async def scenario() -> list[object]:
        batcher = Batcher(model, "m", max_batch_rows=100)
        blocker = asyncio.create_task(batcher.submit(np.ones((1, 1))))
        await asyncio.sleep(0.005)
        expiring = batcher.submit(np.ones((7, 1)), deadline=time.monotonic() + 0.01)  # passes while queued
        keeping = batcher.submit(np.ones((2, 1)), deadline=time.monotonic() + 10)
        results = await asyncio.gather(blocker, expiring, keeping, return_exceptions=True)
        batcher.close()
        return results

    results = asyncio.run(scenario())
    assert isinstance(results[1], DeadlineExceededError)
    assert isinstance(results[2], np.ndarray)
    assert model.batches == [1, 2]  # the 7 expired rows never reached the model


def test_a_failing_forward_fails_its_batch_and_the_batcher_goes_on() -> None:
    calls = 0

    def flaky(rows: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        return rows

    async def scenario() -> None:
        batcher = Batcher(flaky, "m", max_batch_rows=10)
        with pytest.raises(RuntimeError, match="boom"):
            await batcher.submit(np.ones((1, 1)))
        assert np.array_equal(await batcher.submit(np.ones((2, 1))), np.ones((2, 1)))
        batcher.close()

    asyncio.run(scenario())


def test_observer_sees_rows_waits_and_compute_time() -> None:
    seen: list[tuple[int, list[float], float]] = []

    async def scenario() -> None:
        batcher = Batcher(SlowDouble(0.01), "m", 100, observer=lambda r, w, s: seen.append((r, w, s)))
        await asyncio.gather(*(batcher.submit(np.ones((3, 1))) for _ in range(4)))
        batcher.close()

    asyncio.run(scenario())
    assert sum(rows for rows, _, _ in seen) == 12
    assert sum(len(waits) for _, waits, _ in seen) == 4
    assert all(seconds >= 0.01 for _, _, seconds in seen)


def test_small_batches_run_inline_and_large_ones_in_the_thread() -> None:
    model = SlowDouble(delay=0)

    async def scenario() -> None:
        batcher = Batcher(model, "m", max_batch_rows=100, inline_max_rows=8)
        await batcher.submit(np.ones((8, 1)))
        await batcher.submit(np.ones((9, 1)))
        batcher.close()

    asyncio.run(scenario())
    assert model.batches == [8, 9]
    assert model.threads == {"MainThread", "m-forward_0"}  # 8 rows on the loop, 9 in the model's thread


def test_the_model_thread_is_set_up_before_its_first_batch() -> None:
    """OpenMP keeps a thread count per OS thread, so the runtime hands the model's own thread a setup
    (torch.set_num_threads with the worker's count) that must run there, before the first batch; two
    workers on two cores were 7x slower on 256-row bodies without it (bench/results/PROFILE.md)."""
    events: list[tuple[str, str]] = []

    def model(rows: np.ndarray) -> np.ndarray:
        events.append(("batch", threading.current_thread().name))
        return rows

    def setup() -> None:
        events.append(("setup", threading.current_thread().name))
        torch.set_num_threads(torch.get_num_threads())

    async def run() -> None:
        batcher = Batcher(model, "m", max_batch_rows=10, thread_setup=setup)
        for _ in range(2):
            await batcher.submit(np.ones((2, 3), dtype=np.float32))
        batcher.close()

    asyncio.run(run())
    assert events == [("setup", "m-forward_0"), ("batch", "m-forward_0"), ("batch", "m-forward_0")]
