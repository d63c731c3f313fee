"""How a batch gets to the model's device and its answer back.

On the CPU a float32 array is the model's input as it is (``torch.from_numpy`` shares its memory) and
the answer is read back the same way. On a GPU, a copy from ordinary (pageable) host memory is staged
by the driver and blocks the thread; from page-locked (pinned) memory it is a DMA that can overlap.
So each model keeps one pinned input buffer and one pinned output buffer, sized for its largest batch
and reused: a batch is copied into the input buffer, sent with ``non_blocking=True``, computed, copied
back with ``non_blocking=True``, and the thread waits once, on an event recorded after that last copy,
for the answer. There is no other synchronisation per batch, and none per request.

Reusing the buffers is safe because one model's batches run one at a time (one thread per model,
service/batcher.py) and each waits for its answer before returning; the answer handed out is a copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Forward = Callable[[torch.Tensor], torch.Tensor]


class Transfer:
    """Runs ``forward`` on a float32 batch on ``device`` and returns its float32 answer as an array.

    ``staged`` (the default on CUDA) reuses the pinned buffers described above; ``pin`` can be turned off
    to exercise the same staging on a machine without a GPU (tests)."""

    def __init__(
        self,
        device: torch.device,
        capacity: int,
        input_shape: tuple[int, ...],
        staged: bool | None = None,
        pin: bool | None = None,
    ) -> None:
        self.device = device
        self.staged = device.type == "cuda" if staged is None else staged
        self.pin = device.type == "cuda" if pin is None else pin
        self.capacity = capacity
        self._input = self._host((capacity, *input_shape)) if self.staged else None
        self._output: torch.Tensor | None = None  # sized at the first answer (its shape comes from the model)
        cuda = self.staged and device.type == "cuda"
        self._done = torch.cuda.Event() if cuda else None  # type: ignore[no-untyped-call]

    def run(self, rows: np.ndarray, forward: Forward) -> np.ndarray:
        if not self.staged:
            return forward(torch.from_numpy(rows).to(self.device)).cpu().numpy()  # type: ignore[no-any-return]
        count = len(rows)
        host = self._staging(count, rows.shape[1:])
        host.numpy()[...] = rows
        answer = forward(host.to(self.device, non_blocking=True))
        back = self._answer_buffer(count, tuple(answer.shape[1:]))
        back.copy_(answer, non_blocking=True)
        if self._done is not None:
            self._done.record()
            self._done.synchronize()  # the one wait of the batch: for its answer
        return back.numpy().copy()  # the buffer is reused by the next batch

    def _staging(self, count: int, shape: tuple[int, ...]) -> torch.Tensor:
        """The first ``count`` rows of the input buffer; a one-off buffer for a larger batch (a request
        bigger than the model's batch limit goes alone)."""
        assert self._input is not None
        if count <= self.capacity and tuple(self._input.shape[1:]) == shape:
            return self._input[:count]
        return self._host((count, *shape))

    def _answer_buffer(self, count: int, shape: tuple[int, ...]) -> torch.Tensor:
        output = self._output
        if output is None or tuple(output.shape[1:]) != shape:
            output = self._output = self._host((self.capacity, *shape))
        if count <= len(output):
            return output[:count]
        return self._host((count, *shape))

    def _host(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.empty(shape, dtype=torch.float32, pin_memory=self.pin)
