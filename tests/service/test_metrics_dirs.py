"""Two `bentoml serve`s on one BENTOML_HOME each keep their own serving_* counters: each server has a
Prometheus multiprocess directory of its own (service/metrics.py), removed when it stops."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from load.server import ServerProcess
from service.metrics import METRICS_DIRS
from tests.conftest import StartServer
from tests.service.test_e2e import metric

pytestmark = pytest.mark.slow

ROW = [0.1 * i for i in range(10)]


def rows_counted(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    return metric(text, "serving_rows_total", model="tabular-classifier")


def classify(server: ServerProcess, rows: int) -> None:
    answer = httpx.post(f"{server.url}/classify", json={"rows": [ROW] * rows})
    assert answer.status_code == 200, answer.text


def test_two_servers_on_one_store_keep_their_own_counters(serve: StartServer) -> None:
    first = serve({"SERVING_WORKERS": "1"})
    classify(first, 3)
    assert rows_counted(first) == 3
    second = serve({"SERVING_WORKERS": "1"})  # BentoML alone would empty the first one's directory here
    classify(second, 5)
    classify(first, 1)
    assert rows_counted(first) == 4
    assert rows_counted(second) == 5

    dirs = Path(os.environ["BENTOML_HOME"]) / METRICS_DIRS
    own = {dirs / f"server-{server.pid}" for server in (first, second)}
    assert own <= set(dirs.iterdir())
    second.stop()
    assert not (dirs / f"server-{second.pid}").exists()  # removed at exit
    assert rows_counted(first) == 4
