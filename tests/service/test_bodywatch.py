"""The body watch as a unit: readers past their deadline are cancelled and marked, others left alone."""

from __future__ import annotations

import asyncio
import time

from service.bodywatch import BodyWatch


def test_a_reader_past_its_deadline_is_cut_off_and_only_that_one() -> None:
    async def scenario() -> tuple[bool, bool, bool, bool, int]:
        watch = BodyWatch()
        stalled = asyncio.Event()  # never set: a client that sends nothing more

        async def reader(deadline_in: float) -> str:
            task = asyncio.current_task()
            assert task is not None
            watch.watch(task, time.monotonic() + deadline_in)
            try:
                await asyncio.wait_for(stalled.wait(), timeout=0.6)
                return "body"
            except asyncio.CancelledError:
                if not watch.cut_off(task):
                    raise
                task.uncancel()
                return "cut off"
            except TimeoutError:
                return "not cut off"
            finally:
                watch.unwatch(task)

        async def quick_reader() -> str:
            task = asyncio.current_task()
            assert task is not None
            watch.watch(task, time.monotonic() + 0.15)
            await asyncio.sleep(0.01)  # the body arrives in time
            watch.unwatch(task)
            await asyncio.sleep(0.4)  # still running after its deadline: must not be touched
            return "done"

        late, patient, quick = await asyncio.gather(
            reader(0.15), reader(30.0), quick_reader(), return_exceptions=True
        )
        return (
            late == "cut off",
            patient == "not cut off",
            quick == "done",
            not watch.expired,
            len(watch.reading),
        )

    late, patient, quick, no_marks_left, still_watched = asyncio.run(scenario())
    assert late
    assert patient
    assert quick
    assert no_marks_left
    assert still_watched == 0


def test_a_cancellation_from_elsewhere_is_not_taken_for_a_cut_off() -> None:
    async def scenario() -> bool:
        watch = BodyWatch()

        async def reader() -> None:
            task = asyncio.current_task()
            assert task is not None
            watch.watch(task, time.monotonic() + 30)
            try:
                await asyncio.sleep(10)
            finally:
                assert not watch.cut_off(task)
                watch.unwatch(task)

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.01)
        task.cancel()  # the client went away, say
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(scenario())
