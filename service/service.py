"""The BentoML service: loads and warms both models once per worker, then serves the mounted API.

``bentoml serve .`` (bentofile.yaml names ``service.service:ModelService``) or
``bentoml serve service.service:ModelService``. ``build_service(settings)`` makes the service for any
settings (tests use it); ``ModelService`` is the one built from the environment's SERVING_* settings.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from types import FrameType
from typing import Any

import bentoml
import numpy as np
import torch

from service.app import create_app
from service.loader import ModelLoadError, load_model
from service.metrics import service_metrics
from service.patches import cancel_request_timers
from service.runtime import ModelRuntime, configure_threads, resolve_device
from service.settings import ServingSettings, get_settings

logger = logging.getLogger("bentoml.serving")  # under "bentoml": kept by its logging config

TIMEOUT_MARGIN_S = 5.0
UNTRACED_PATHS = ("/classify", "/digits", "/digits/image", "/models", "/livez", "/readyz", "/metrics")
# The environment variable that carries each model's pinned version to the workers.
MODEL_VARIABLES = {"tabular_model": "SERVING_TABULAR_MODEL", "digits_model": "SERVING_DIGITS_MODEL"}


def freeze_heap() -> None:
    """Take everything loaded so far (torch, bentoml, the models) out of the collector's reach, and
    collect the young generation less often.

    Measured with `python -m bench batching --quick` (1 worker on 1 core): with the default thresholds,
    collections stalled the event loop for 150-250 ms every few seconds (lone p99 163 ms) and cost half
    the CPU per request (875 req/s at 64 connections); with these, lone p99 was 3-9 ms and 1,725 req/s.
    Cyclic garbage is still collected, just in larger, rarer rounds.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def pin_model_versions(settings: ServingSettings) -> dict[str, str]:
    """Before any worker starts (BentoML runs this once, in `bentoml serve`'s own process): refuse to
    start, with the loader's message and a non-zero exit, when a model cannot be served, instead of
    workers failing and respawning forever; and pin the exact versions found, so that every worker
    loads the same ones even if a new version is trained meanwhile.

    Workers are separate processes that BentoML starts with a copy of this process's environment,
    taken after this hook: the environment is the only way to hand them the pinned versions."""
    pins: dict[str, str] = {}
    for field, variable in MODEL_VARIABLES.items():
        try:
            loaded = load_model(getattr(settings, field))
        except ModelLoadError as error:
            logger.error("refusing to start: %s", error)
            raise SystemExit(f"refusing to start: {error}") from None
        pins[variable] = loaded.tag
    os.environ.update(pins)
    get_settings.cache_clear()
    return pins


def build_service(settings: ServingSettings) -> Any:
    """The BentoML service for ``settings``: its decorator arguments, its API and its limits."""

    # Bind loopback unless told otherwise (`--host` or BENTOML_HOST; the container image sets 0.0.0.0).
    @bentoml.asgi_app(create_app(settings), path="/")
    @bentoml.service(
        name="bento-serving",
        workers=settings.workers,
        http={"host": "127.0.0.1"},
        # Measured (bench/results/PROFILE.md): per-request access lines and OpenTelemetry spans were
        # most of the CPU a small request costs. Both are opt-in; refusals are still logged one line each.
        logging={"access": {"enabled": settings.access_log}},
        tracing={"excluded_urls": [] if settings.tracing else list(UNTRACED_PATHS)},
        # BentoML's request timeout (a 504) must come after our deadline (a 503 with Retry-After).
        traffic={"timeout": settings.deadline_ms / 1000 + TIMEOUT_MARGIN_S},
    )
    class ModelService:
        """Both models, loaded once per worker; ``/readyz`` is 200 only after both are warmed up, and
        503 again once SIGTERM starts the drain."""

        def __init__(self) -> None:
            self.ready = False
            self.draining = False
            self.settings = settings
            cancel_request_timers()  # see service/patches.py: one uncancelled timer per request otherwise
            configure_threads(settings.threads_per_worker())
            device = resolve_device(settings.device)
            self.tabular = self._runtime(settings.tabular_model, device, "tabular")
            self.digits = self._runtime(settings.digits_model, device, "digits")
            self.tabular.warm_up(np.zeros(self.tabular.schema["n_features"], dtype=np.float32))
            self.digits.warm_up(np.zeros(self.digits.schema["shape"], dtype=np.float32))
            _drain_on_sigterm(self, settings.shutdown_grace_s)
            freeze_heap()
            self.ready = True
            logger.info("serving %s and %s on %s", self.tabular.tag, self.digits.tag, device)

        def _runtime(self, ref: str, device: torch.device, prefix: str) -> ModelRuntime:
            return ModelRuntime(
                load_model(ref, device),
                device,
                getattr(settings, f"{prefix}_max_batch_rows"),
                getattr(settings, f"{prefix}_max_wait_ms") / 1000,
                settings.batching,
                service_metrics(),
            )

        def __is_ready__(self) -> bool:
            return self.ready and not self.draining

        @bentoml.on_deployment  # type: ignore[untyped-decorator]
        @staticmethod
        def verify_models() -> None:
            pin_model_versions(settings)

        @bentoml.on_shutdown  # type: ignore[untyped-decorator]
        def close(self) -> None:
            self.ready = False
            self.tabular.close()
            self.digits.close()

    return ModelService


def _drain_on_sigterm(service: Any, grace_s: float) -> None:
    """On SIGTERM: readiness turns 503, uvicorn (whose handler runs next) stops accepting and lets
    in-flight requests finish; if they take longer than ``grace_s``, the worker exits anyway."""
    if threading.current_thread() is not threading.main_thread():
        return  # an in-process app (tests): signals belong to the host process
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not service.draining:
            service.draining = True
            logger.info("SIGTERM: draining in-flight requests for at most %g s", grace_s)
            timer = threading.Timer(grace_s, _exit_after_grace, args=(grace_s,))
            timer.daemon = True
            timer.start()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


def _exit_after_grace(grace_s: float) -> None:
    logger.warning("drain took longer than %g s; exiting with requests still in flight", grace_s)
    logging.shutdown()
    os._exit(1)


# Decorator arguments are read when this module is imported: the one place settings are read then.
ModelService = build_service(get_settings())
