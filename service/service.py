"""The BentoML service: loads and warms both models once per worker, then serves the mounted API.

``bentoml serve .`` (bentofile.yaml names ``service.service:ModelService``) or
``bentoml serve service.service:ModelService``.
"""

from __future__ import annotations

import gc
import logging

import bentoml
import numpy as np

from service.app import app
from service.loader import load_model
from service.metrics import service_metrics
from service.runtime import ModelRuntime, configure_threads, resolve_device
from service.settings import get_settings

logger = logging.getLogger("bentoml.serving")  # under "bentoml": kept by its logging config

# Decorator arguments are read when this module is imported: the one place settings are read then.
_settings = get_settings()


def freeze_heap() -> None:
    """Take everything loaded so far (torch, bentoml, the models) out of the collector's reach, and
    collect the young generation less often.

    Measured with `python -m load.batching --quick` (1 worker on 1 core): with the default thresholds,
    collections stalled the event loop for 150-250 ms every few seconds (lone p99 163 ms) and cost half
    the CPU per request (875 req/s at 64 connections); with these, lone p99 was 3-9 ms and 1,725 req/s.
    Cyclic garbage is still collected, just in larger, rarer rounds.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


@bentoml.asgi_app(app, path="/")
@bentoml.service(name="bento-serving", workers=_settings.workers)
class ModelService:
    """Both models, loaded once per worker; ``/readyz`` is 200 only after both are warmed up."""

    def __init__(self) -> None:
        self.ready = False
        self.settings = get_settings()
        configure_threads(self.settings.threads_per_worker())
        device = resolve_device(self.settings.device)
        metrics = service_metrics()
        self.tabular = ModelRuntime(
            load_model(self.settings.tabular_model, device),
            device,
            self.settings.tabular_max_batch_rows,
            self.settings.tabular_max_wait_ms / 1000,
            self.settings.batching,
            metrics,
        )
        self.digits = ModelRuntime(
            load_model(self.settings.digits_model, device),
            device,
            self.settings.digits_max_batch_rows,
            self.settings.digits_max_wait_ms / 1000,
            self.settings.batching,
            metrics,
        )
        self.tabular.warm_up(np.zeros(self.tabular.schema["n_features"], dtype=np.float32))
        self.digits.warm_up(np.zeros(self.digits.schema["shape"], dtype=np.float32))
        freeze_heap()
        self.ready = True
        logger.info("serving %s and %s on %s", self.tabular.tag, self.digits.tag, device)

    def __is_ready__(self) -> bool:
        return self.ready

    @bentoml.on_shutdown  # type: ignore[untyped-decorator]
    def close(self) -> None:
        self.ready = False
        self.tabular.close()
        self.digits.close()
