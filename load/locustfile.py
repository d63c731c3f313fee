"""Locust scenarios for the serving API: ``locust -f load/locustfile.py --host http://127.0.0.1:3000``.

One user class; each endpoint scenario is a task with its own tag, and together they are the weighted
mix (the weights live in load/scenarios.py):

    classify-1    POST /classify, one row              tags: classify-1, classify, mix
    classify-64   POST /classify, 64 rows              tags: classify-64, classify, mix
    digits-1      POST /digits, one 8x8 image          tags: digits-1, digits, mix
    digits-32     POST /digits, 32 images              tags: digits-32, digits, mix
    digits-image  POST /digits/image, digit-7.png      tags: digits-image, digits, mix

``--tags classify-1`` runs one scenario alone; no tags runs the mix. Every answer is checked (status 200,
the JSON shape, one entry per row sent, labels in range, label 7 for the uploaded 7); a wrong answer is a
failure. Request names end with the row count (``/classify [64 rows]``): the summary turns them into
rows per second. Users do not wait between requests (closed loop: users = concurrency).

With LOAD_PROGRESS_FILE set (``python -m load run`` sets it), a one-line JSON of the live totals is
rewritten there every second.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, events, tag
from locust.env import Environment
from locust.runners import WorkerRunner

from load.scenarios import SCENARIOS, Scenario, check_answer


class ServingUser(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0

    def _send(self, scenario: Scenario) -> None:
        with self.client.post(
            scenario.path,
            data=scenario.body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers={
                "Content-Type": scenario.content_type,
                "Accept": "application/json",
                **dict(scenario.headers),
            },
            name=scenario.name,
            catch_response=True,
        ) as response:
            wrong = check_answer(response.status_code or 0, response.content or b"", scenario)
            if wrong is None:
                response.success()
            else:
                response.failure(wrong)


def _task(scenario: Scenario) -> Callable[[ServingUser], None]:
    """A locust task that sends ``scenario``, tagged with its tags."""

    def send(user: ServingUser) -> None:
        user._send(scenario)

    send.__name__ = f"send_{scenario.tag.replace('-', '_')}"
    return tag(*scenario.tags)(send)  # type: ignore[no-any-return]


# One task per scenario, weighted: the mix (load/scenarios.py is the one list of them).
ServingUser.tasks = {_task(scenario): scenario.weight for scenario in SCENARIOS.values()}  # type: ignore[assignment]  # locust takes {task: weight}


def _write_progress(environment: Environment, path: Path) -> None:
    """Rewrite ``path`` every second with the live totals (atomically: the reader never sees half)."""
    started = previous_time = time.monotonic()
    previous_count = 0
    while True:
        gevent.sleep(1.0)
        now, total = time.monotonic(), environment.stats.total
        line = {
            "elapsed_s": round(now - started, 1),
            "users": environment.runner.user_count if environment.runner else 0,
            "requests": total.num_requests,
            "failures": total.num_failures,
            "rps": round((total.num_requests - previous_count) / (now - previous_time), 1),
            "current_p95_ms": total.get_current_response_time_percentile(0.95),
        }
        previous_time, previous_count = now, total.num_requests
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(line))
        partial.replace(path)


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def _start_progress(environment: Environment, **_: object) -> None:
    target = os.environ.get("LOAD_PROGRESS_FILE")
    if target and not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_write_progress, environment, Path(target))
