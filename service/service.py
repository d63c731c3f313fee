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

from models import SPECS
from service import readiness, reload, versions
from service.app import create_app, routes
from service.clients import ServingService
from service.kinds import kind_of
from service.loader import ModelLoadError, load_model
from service.metrics import claim_metrics_dir, service_metrics, use_own_metrics_dir
from service.patches import cancel_request_timers
from service.runtime import ModelRuntime, configure_threads, resolve_device
from service.settings import ServingSettings, get_settings, model_settings, model_variable

logger = logging.getLogger("bentoml.serving")  # under "bentoml": kept by its logging config

TIMEOUT_MARGIN_S = 5.0
HEALTH_PATHS = ("/livez", "/readyz", "/metrics")
RETIRE_MARGIN_S = 1.0  # a retired version is closed this long after the longest deadline


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


def pin_model_versions() -> dict[str, str]:
    """Before any worker starts (BentoML runs this once, in `bentoml serve`'s own process): resolve each
    model's version policy (service/versions.py) and load every version it serves to check it (sha256,
    schema); refuse to start, with the reason and a non-zero exit, when one cannot be served, instead of
    workers failing and respawning forever; and pin the exact versions found, so that every worker
    loads the same ones even if a new version is trained meanwhile.

    Workers are separate processes that BentoML starts with a copy of this process's environment,
    taken after this hook: the environment is the only way to hand them the pinned versions."""
    pins: dict[str, str] = {}
    for spec in SPECS.values():
        try:
            served = versions.resolve(spec.name, use_pins=False)
            for tag in served.tags():
                load_model(tag)
        except ModelLoadError as error:
            logger.error("refusing to start: %s", error)
            raise SystemExit(f"refusing to start: {error}") from None
        pins[model_variable(spec.key, "served")] = ",".join(served.versions)
        pins[model_variable(spec.key, "served_default")] = served.default
    os.environ.update(pins)
    return pins


def build_service(settings: ServingSettings) -> Any:
    """The BentoML service for ``settings``: its decorator arguments, its API and its limits."""

    # Bind loopback unless told otherwise (`--host` or BENTOML_HOST; the container image sets 0.0.0.0).
    @bentoml.asgi_app(create_app(settings), path="/")
    @bentoml.service(
        name="bento-serving",
        service_class=ServingService,  # lists the prediction routes for BentoML's clients
        workers=settings.workers,
        http={"host": "127.0.0.1"},
        # Measured (bench/results/PROFILE.md): per-request access lines and OpenTelemetry spans were
        # most of the CPU a small request costs. Both are opt-in; refusals are still logged one line each.
        logging={"access": {"enabled": settings.access_log}},
        tracing={
            "excluded_urls": [] if settings.tracing else [*(route[0] for route in routes()), *HEALTH_PATHS]
        },
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
            self.device = device = resolve_device(settings.device)
            # Every served version of each model (newest first); the plain routes answer with the default.
            # After a reload, the server's current pins (a worker restarted later must not go back).
            folder = reload.run_dir()
            pins = reload.read_pins(folder)
            served = pins.models if pins else {name: versions.resolve(name) for name in SPECS}
            self.versions = {
                name: {
                    version: _runtime(tag, settings, device)
                    for version, tag in zip(s.versions, s.tags(), strict=True)
                }
                for name, s in served.items()
            }
            self.runtimes = {name: self.versions[name][served[name].default] for name in SPECS}
            for runtime in self.all_runtimes():
                runtime.announce()
            _drain_on_sigterm(self, settings.shutdown_grace_s)
            freeze_heap()
            self.reloader = reload.WorkerReloader(folder, self.take_up)
            self.reloader.start(served, pins.generation if pins else 0)
            readiness.serve_from(self.served)
            self.ready = True
            tags = ", ".join(runtime.tag for runtime in self.all_runtimes())
            logger.info("serving %s on %s", tags, device)

        def served(self) -> dict[str, versions.Served]:
            """What this worker serves now: each model's versions, newest first, and its default."""
            return {
                name: versions.Served(
                    name,
                    tuple(table),
                    next(v for v, runtime in table.items() if runtime is self.runtimes[name]),
                )
                for name, table in self.versions.items()
            }

        def take_up(self, pins: reload.Pins) -> dict[str, versions.Served]:
            """Serve ``pins``: load, verify and warm the versions not served yet (in the reload thread),
            then swap the tables in; the versions left behind are closed after the longest deadline of
            a request that may still hold them. A version that fails leaves everything as it was."""
            loaded: list[ModelRuntime] = []
            tables: dict[str, dict[str, ModelRuntime]] = {}
            try:
                for name, wanted in pins.models.items():
                    current = self.versions.get(name, {})
                    tables[name] = {}
                    for version, tag in zip(wanted.versions, wanted.tags(), strict=True):
                        if version not in current:
                            loaded.append(_runtime(tag, self.settings, self.device))
                        tables[name][version] = current.get(version) or loaded[-1]
            except ModelLoadError:
                for runtime in loaded:
                    runtime.close()
                raise
            retired = [r for r in self.all_runtimes() if all(r not in t.values() for t in tables.values())]
            defaults = {name: tables[name][wanted.default] for name, wanted in pins.models.items()}
            # Two assignments, each atomic: a request reads one table once, and holds the runtime it got.
            self.versions, self.runtimes = tables, defaults
            for runtime in loaded:
                runtime.announce()
            for runtime in retired:
                runtime.retire(self.settings.deadline_ms / 1000 + RETIRE_MARGIN_S)
            logger.info(
                "reload: generation %d serves %s",
                pins.generation,
                ", ".join(r.tag for r in self.all_runtimes()),
            )
            return self.served()

        def all_runtimes(self) -> list[ModelRuntime]:
            return [runtime for served in self.versions.values() for runtime in served.values()]

        def __is_ready__(self) -> bool:
            return self.ready and not self.draining

        @bentoml.on_deployment  # type: ignore[untyped-decorator]
        @staticmethod
        def verify_models() -> None:
            pin_model_versions()
            folder = reload.run_dir(claim_metrics_dir())
            assert folder is not None
            reload.reload_on_sighup(folder, {name: versions.resolve(name) for name in SPECS})

        @bentoml.on_shutdown  # type: ignore[untyped-decorator]
        def close(self) -> None:
            self.ready = False
            for runtime in self.all_runtimes():
                runtime.close()

    readiness.name_versions_on_readiness()
    return ModelService


def _runtime(tag: str, settings: ServingSettings, device: torch.device) -> ModelRuntime:
    """Model version ``tag`` loaded (and verified) from the store onto ``device``, with its batcher,
    warmed up."""
    own = model_settings(tag.split(":", 1)[0])
    runtime = ModelRuntime(
        load_model(tag, device),
        device,
        own.max_batch_rows,
        own.max_wait_ms / 1000,
        settings.batching,
        service_metrics(),
    )
    runtime.warm_up(np.zeros(kind_of(runtime.schema).input_shape(runtime.schema), dtype=np.float32))
    return runtime


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
# `bentoml serve` imports this module just before it chooses the Prometheus directory for its workers:
# the one moment to give each server its own (service/metrics.py). Elsewhere the setting goes unread.
use_own_metrics_dir()
