"""The service's own Prometheus metrics, beside BentoML's.

prometheus_client is imported only when the metrics are first built, inside a worker: BentoML sets
PROMETHEUS_MULTIPROC_DIR after importing the service module, and prometheus_client fixes its storage
mode when it is imported.

Every `bentoml serve` gets a multiprocess directory of its own. BentoML uses one per BENTOML_HOME
(``<home>/prometheus_multiproc_dir``) and empties it when a server starts, so a second server on the same
store (two replicas, `make serve` beside `make load`) deleted the first one's files, and its serving_*
counters vanished from its /metrics. BentoML reads that path from its container just before it imports
the service and hands it to the workers as PROMETHEUS_MULTIPROC_DIR; ``use_own_metrics_dir`` (called when
service/service.py is imported: the only moment before that) points it at
``<home>/serving-metrics/server-<pid of bentoml serve>``, and ``claim_metrics_dir`` (when the server starts)
removes it at exit and sweeps the directories of servers that are gone.
"""

from __future__ import annotations

import atexit
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
SECONDS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class ServiceMetrics:
    rows: Any  # Counter{model}: rows (samples) predicted
    batch_rows: Any  # Histogram{model}: rows per forward pass
    queue_wait: Any  # Histogram{model}: seconds a request waited for its batch to start
    compute: Any  # Histogram{model}: seconds of the forward pass (per batch)
    errors: Any  # Counter{code}: error answers by contract code
    served: Any  # Gauge{model, version, device, pid}: 1 for each model version a worker serves

    def for_model(self, model: str) -> ModelMetrics:
        """The metrics of one model, with their labels bound once (a label lookup per batch cost more
        than the observation)."""
        return ModelMetrics(
            rows=self.rows.labels(model=model),
            batch_rows=self.batch_rows.labels(model=model),
            queue_wait=self.queue_wait.labels(model=model),
            compute=self.compute.labels(model=model),
            served=self.served,
            model=model,
        )


@dataclass(frozen=True)
class ModelMetrics:
    """ServiceMetrics' per-model series for one model."""

    rows: Any
    batch_rows: Any
    queue_wait: Any
    compute: Any
    served: Any
    model: str

    def serves(self, version: str, device: str, serving: bool = True) -> None:
        """Say whether this worker serves ``version`` of the model on ``device`` (cpu, cuda) now."""
        self.served.labels(model=self.model, version=version, device=device).set(1 if serving else 0)

    def observe_batch(self, rows: int, waits: list[float], compute_seconds: float) -> None:
        self.rows.inc(rows)
        self.batch_rows.observe(rows)
        self.compute.observe(compute_seconds)
        for wait in waits:
            self.queue_wait.observe(wait)


@lru_cache(maxsize=1)
def service_metrics() -> ServiceMetrics:
    """Built once per process (prometheus_client refuses duplicate metric names)."""
    from prometheus_client import Counter, Gauge, Histogram

    return ServiceMetrics(
        rows=Counter("serving_rows", "Rows (samples) predicted", ["model"]),
        batch_rows=Histogram("serving_batch_rows", "Rows per forward pass", ["model"], buckets=ROW_BUCKETS),
        queue_wait=Histogram(
            "serving_queue_wait_seconds",
            "Time a request waited for its batch",
            ["model"],
            buckets=SECONDS_BUCKETS,
        ),
        compute=Histogram(
            "serving_compute_seconds", "Time of one forward pass", ["model"], buckets=SECONDS_BUCKETS
        ),
        errors=Counter("serving_errors", "Error answers by contract code", ["code"]),
        # One series per live worker (a pid label): which versions each worker serves, and on what.
        served=Gauge(
            "serving_model_served",
            "1 for each model version this worker serves (0 once retired), with its device",
            ["model", "version", "device"],
            multiprocess_mode="liveall",
        ),
    )


METRICS_DIRS = "serving-metrics"  # beside BentoML's own prometheus_multiproc_dir, which it empties at start


def use_own_metrics_dir() -> Path:
    """Point BentoML's multiprocess directory at one for this process. It is read only where `bentoml
    serve` starts its workers (a worker, a build or an in-process app never reads it), and nothing is
    created here: BentoML creates it."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    path = Path(BentoMLContainer.bentoml_home.get()) / METRICS_DIRS / f"server-{os.getpid()}"
    BentoMLContainer.prometheus_multiproc_dir.set(str(path))
    return path


def claim_metrics_dir() -> Path:
    """In `bentoml serve`'s own process, once it starts: remove this server's directory when it exits,
    and those of servers that no longer run (killed before they could remove theirs)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    path = Path(BentoMLContainer.prometheus_multiproc_dir.get())
    if path.parent.name == METRICS_DIRS:
        for other in path.parent.glob("server-*"):
            if other != path and not _running(other.name.removeprefix("server-")):
                shutil.rmtree(other, ignore_errors=True)
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _running(pid: str) -> bool:
    if not pid.isdigit():
        return True  # not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
