"""In-process ceilings for the benchmark: what the models and our own decode/encode cost with no HTTP.

Run pinned to the server's core (the caller pins), one torch thread, as the served models run; on
``torch.device("cuda")`` with ``--device cuda`` (inputs copied to the device and answers back, as the
server does). Figures are rows (or images) per second, or requests per second where named so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from bench.servers import SetupError
from service import codecs, images
from service.kinds import kind_of
from service.loader import LoadedModel, ModelLoadError, load_model

CNN_BATCHES = (1, 32, 256)
MAX_ROWS = 1024  # our service's default SERVING_MAX_ROWS
MAX_PIXELS = 4_000_000  # far above the PNG's; the check is one multiplication either way


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


def _load(name: str, device: torch.device) -> LoadedModel:
    try:
        return load_model(name, device)
    except ModelLoadError as error:  # no trained model: nothing here can be measured
        raise SetupError(str(error)) from error


def _forward(loaded: LoadedModel, device: torch.device) -> Callable[[np.ndarray], np.ndarray]:
    """float32 inputs -> probabilities as numpy, the way the server runs its model on ``device``."""
    model = loaded.module

    def run(array: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            proba: torch.Tensor = model.predict_proba(torch.from_numpy(array).to(device))  # type: ignore[operator]
            return proba.cpu().numpy()

    return run


def tabular_ceilings(
    one_row: dict[str, Any], batch: dict[str, Any], seconds: float, device: torch.device
) -> dict[str, float]:
    """rows/s of the bare forward pass (batch 1 and the batch body's size) and of the whole in-process
    path, JSON bytes -> validate -> forward -> JSON bytes, for both bodies with our codec and for the
    batch body with the standard library (json.loads, np.asarray, json.dumps of lists: what the plain
    Starlette peer does)."""
    loaded = _load("tabular-classifier", device)
    forward, rows = _forward(loaded, device), len(batch["rows"])

    def ours(body: bytes) -> Callable[[], object]:
        def run() -> object:
            decoded = codecs.decode_rows(codecs.parse_json(body), 10, MAX_ROWS)
            return codecs.encode_tabular(loaded.tag, codecs.check_output(forward(decoded)))

        return run

    def stdlib(body: bytes) -> Callable[[], object]:
        def run() -> object:
            proba = forward(np.asarray(json.loads(body)["rows"], dtype=np.float32))
            labels = (proba >= 0.5).astype(np.int64)
            answer = {"model": loaded.tag, "probabilities": proba.tolist(), "labels": labels.tolist()}
            return json.dumps(answer).encode()

        return run

    one_array = np.asarray(one_row["rows"], dtype=np.float32)
    batch_array = np.asarray(batch["rows"], dtype=np.float32)
    batch_body = json.dumps(batch).encode()
    return {
        "forward_rows_per_s_batch_1": _rate(lambda: forward(one_array), seconds),
        f"forward_rows_per_s_batch_{rows}": _rate(lambda: forward(batch_array), seconds) * rows,
        "inprocess_requests_per_s_1_row": _rate(ours(json.dumps(one_row).encode()), seconds),
        f"inprocess_rows_per_s_{rows}_rows": _rate(ours(batch_body), seconds) * rows,
        f"inprocess_stdlib_rows_per_s_{rows}_rows": _rate(stdlib(batch_body), seconds) * rows,
    }


def cnn_ceilings(
    digits: dict[str, Any], png: bytes, seconds: float, device: torch.device
) -> dict[str, float]:
    """images/s of the CNN's forward pass at batch 1, 32 and 256; of our whole JSON path for the
    ``digits`` body (parse, the kind's exact decode, forward, the kind's encode with margins and unsure
    flags); and requests/s of our upload path for one ``png`` (decode_upload, forward, encode) without
    the multipart parsing."""
    loaded = _load("digits-cnn", device)
    forward, kind = _forward(loaded, device), kind_of(loaded.metadata["input_schema"])
    schema = loaded.metadata["input_schema"]
    count = len(digits["images"])
    pool = np.asarray(digits["images"], dtype=np.float32)
    figures: dict[str, float] = {}
    for batch in CNN_BATCHES:
        array = np.ascontiguousarray(np.resize(pool, (batch, *pool.shape[1:])))
        figures[f"cnn_forward_images_per_s_batch_{batch}"] = _rate(partial(forward, array), seconds) * batch
    body = json.dumps(digits).encode()

    def whole_json() -> object:
        decoded = kind.decode(codecs.parse_json(body), schema, MAX_ROWS, codecs.may_hold_booleans(body))
        return kind.encode(loaded.tag, codecs.check_output(forward(decoded)), None, loaded.config)

    def whole_upload() -> object:
        grid = images.decode_upload(png, MAX_PIXELS, schema["shape"][0], schema["value_range"][1])
        return kind.encode(loaded.tag, codecs.check_output(forward(grid[None])), None, loaded.config)

    figures[f"inprocess_digits_images_per_s_{count}_images"] = _rate(whole_json, seconds) * count
    figures["inprocess_upload_requests_per_s_png"] = _rate(whole_upload, seconds)
    return figures
