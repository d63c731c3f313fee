"""A loaded model ready to serve: device placement, thread settings, warm-up, and its batcher."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

import numpy as np
import torch

from service.batcher import Batcher, Timing
from service.kinds import kind_of
from service.loader import LoadedModel
from service.metrics import ServiceMetrics
from service.transfer import Transfer

logger = logging.getLogger("bentoml.serving")  # under "bentoml": kept by its logging config

WARMUP_BATCHES = (1, 8, 64)
# A forward pass shorter than this runs on the event loop: cheaper than a thread handoff, and too
# short to hold up other requests noticeably.
INLINE_BUDGET_S = 0.0002


def resolve_device(choice: str) -> torch.device:
    """``auto`` is CUDA when present, else CPU; ``cuda`` without a GPU is a configuration error."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("SERVING_DEVICE=cuda but no CUDA device is visible to torch")
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


# What configure_threads set: the models' own threads (and a reload's) set the same count for themselves.
_threads: int | None = None


def configure_threads(threads: int) -> None:
    """Intra-op threads per worker; one inter-op thread (each model runs in its own thread already)."""
    global _threads
    _threads = threads
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already set once in this process (a second in-process app)
        torch.set_num_interop_threads(1)


class ModelRuntime:
    """One model on one device, predicting float32 arrays through a batcher."""

    def __init__(
        self,
        loaded: LoadedModel,
        device: torch.device,
        max_batch_rows: int,
        max_wait_s: float,
        batching: bool,
        metrics: ServiceMetrics,
    ) -> None:
        self.loaded = loaded
        self.device = device
        self.batching = batching
        self.max_batch_rows = max_batch_rows
        name = loaded.name
        shape = kind_of(self.schema).input_shape(self.schema)
        # Pinned, reused host buffers on a GPU; the arrays as they are on the CPU (service/transfer.py).
        self.transfer = Transfer(device, max_batch_rows, shape)
        self.metrics = metrics.for_model(name)
        # OpenMP keeps its thread count per OS thread: torch.set_num_threads in the main thread does not
        # reach the model's own thread, where OpenMP would start one thread per core (spinning after
        # every batch, on the other workers' cores): two workers on two cores served 256-row bodies
        # 7x slower (bench/results/PROFILE.md).
        threads = _threads or torch.get_num_threads()
        self.batcher = Batcher(
            self.forward,
            name,
            max_batch_rows,
            max_wait_s,
            self.metrics.observe_batch,
            thread_setup=lambda: torch.set_num_threads(threads),
        )

    @property
    def tag(self) -> str:
        return self.loaded.tag

    @property
    def schema(self) -> dict[str, Any]:
        return self.loaded.metadata["input_schema"]  # type: ignore[no-any-return]

    def forward(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities for a float32 array; runs in the batcher's thread (or inline, see warm_up)."""
        with torch.inference_mode():
            return self.transfer.run(rows, self.loaded.module.predict_proba)  # type: ignore[arg-type]

    async def predict(
        self, rows: np.ndarray, deadline: float = float("inf"), timing: Timing | None = None
    ) -> np.ndarray:
        if self.batching:
            return await self.batcher.submit(rows, deadline, timing)
        return await self.batcher.run_alone(rows, timing)

    def warm_up(self, example: np.ndarray) -> None:
        """Forward passes at a few batch sizes, so the first requests do not pay for lazy init; the
        timings decide which batches are cheap enough to run on the event loop (INLINE_BUDGET_S)."""
        inline = 0
        for size in (*WARMUP_BATCHES, self.max_batch_rows):
            batch = np.repeat(example[None], size, axis=0)
            self.forward(batch)
            started = time.perf_counter()
            self.forward(batch)
            if self.device.type == "cpu" and time.perf_counter() - started < INLINE_BUDGET_S:
                inline = max(inline, size)
        self.batcher.inline_max_rows = inline
        where = (
            f"batches of up to {inline} rows run on the event loop, larger ones in the model's thread"
            if inline
            else "every batch runs in the model's thread"
        )
        logger.info("%s warmed up on %s; %s", self.tag, self.device, where)

    @property
    def version(self) -> str:
        return self.loaded.tag.split(":", 1)[-1]

    def announce(self) -> None:
        """Say in the metrics that this worker serves this version (once it takes requests)."""
        self.metrics.serves(self.version, self.device.type)

    def retire(self, after_s: float) -> None:
        """No longer served: say so now, and close once the requests that still hold it have had
        ``after_s`` seconds (their longest deadline) to finish."""
        self.metrics.serves(self.version, self.device.type, serving=False)
        timer = threading.Timer(after_s, self.close)
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        self.batcher.close()
