"""In-process ceilings for the benchmark: what the model and our own decode/encode cost with no HTTP.

Run pinned to the server's core (the caller pins), one torch thread, as the served model runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench.servers import SetupError
from service import codecs
from service.loader import LoadedModel, ModelLoadError, load_model


def _rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call``, after a short warm-up, over about ``seconds``."""
    for _ in range(50):
        call()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            call()
        count += 20
    return count / (time.perf_counter() - started)


def ceilings(one_row: dict[str, Any], batch: dict[str, Any], seconds: float) -> dict[str, float]:
    """rows/s of the bare forward pass (batch 1 and the batch body's size) and of the whole
    in-process path: JSON bytes -> validate -> forward -> JSON bytes, for both bodies."""
    torch.set_num_threads(1)
    try:
        loaded: LoadedModel = load_model("tabular-classifier")
    except ModelLoadError as error:  # no trained model: nothing here can be measured
        raise SetupError(str(error)) from error
    model = loaded.module
    rows = len(batch["rows"])

    def forward(array: np.ndarray) -> Callable[[], object]:
        tensor = torch.from_numpy(array)

        def run() -> object:
            with torch.inference_mode():
                return model.predict_proba(tensor)  # type: ignore[operator]

        return run

    def whole_path(body: bytes) -> Callable[[], object]:
        def run() -> object:
            decoded = codecs.decode_rows(codecs.parse_json(body), 10, 1024)
            with torch.inference_mode():
                proba = model.predict_proba(torch.from_numpy(decoded)).numpy()  # type: ignore[operator]
            return codecs.encode_tabular(loaded.tag, codecs.check_output(proba))

        return run

    one_array = np.asarray(one_row["rows"], dtype=np.float32)
    batch_array = np.asarray(batch["rows"], dtype=np.float32)
    return {
        "forward_rows_per_s_batch_1": _rate(forward(one_array), seconds),
        f"forward_rows_per_s_batch_{rows}": _rate(forward(batch_array), seconds) * rows,
        "inprocess_requests_per_s_1_row": _rate(whole_path(json.dumps(one_row).encode()), seconds),
        f"inprocess_rows_per_s_{rows}_rows": _rate(whole_path(json.dumps(batch).encode()), seconds) * rows,
    }
