"""The service's own Prometheus metrics, beside BentoML's.

prometheus_client is imported only when the metrics are first built, inside a worker: BentoML sets
PROMETHEUS_MULTIPROC_DIR after importing the service module, and prometheus_client fixes its storage
mode when it is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
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

    def observe_batch(self, model: str, rows: int, waits: list[float], compute_seconds: float) -> None:
        self.rows.labels(model=model).inc(rows)
        self.batch_rows.labels(model=model).observe(rows)
        self.compute.labels(model=model).observe(compute_seconds)
        wait_histogram = self.queue_wait.labels(model=model)
        for wait in waits:
            wait_histogram.observe(wait)


@lru_cache(maxsize=1)
def service_metrics() -> ServiceMetrics:
    """Built once per process (prometheus_client refuses duplicate metric names)."""
    from prometheus_client import Counter, Histogram

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
    )
