"""Server-Timing on every prediction answer: ``queue``, ``compute`` and ``total`` in milliseconds.

Tried: the JSON API (one row, many rows), the upload, the V2 infer route, and answers that never
reach a model (a 422 for bad JSON, GET /models), which carry no Server-Timing."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from starlette.testclient import TestClient

from models import TABULAR
from service.batcher import Batcher, Timing
from service.errors import STATUS
from tests.helpers import in_process_client

# Server-Timing's grammar: metric;dur=<ms>, comma separated (the header's values keep 3 decimals).
ENTRY = re.compile(r"^(\w+);dur=(\d+\.\d{3})$")
ROUNDING_MS = 0.002  # each value is rounded to a microsecond


@pytest.fixture(scope="module")
def client(trained_store: Path) -> Iterator[TestClient]:
    from service.settings import ServingSettings

    yield from in_process_client(ServingSettings())


def server_timing(header: str) -> dict[str, float]:
    entries = [ENTRY.match(part.strip()) for part in header.split(",")]
    assert all(entries), header
    return {match.group(1): float(match.group(2)) for match in entries if match}


def assert_consistent(header: str | None) -> dict[str, float]:
    assert header is not None, "no Server-Timing header"
    timing = server_timing(header)
    assert list(timing) == ["queue", "compute", "total"]
    assert all(value >= 0 for value in timing.values())
    assert timing["compute"] > 0
    assert timing["total"] + ROUNDING_MS >= timing["queue"] + timing["compute"]
    return timing


def test_json_predictions_carry_server_timing(client: TestClient) -> None:
    for count in (1, 64):
        rows = np.random.default_rng(count).normal(size=(count, 10)).tolist()
        response = client.post("/classify", json={"rows": rows})
        assert response.status_code == 200
        assert_consistent(response.headers.get("server-timing"))
    response = client.post("/digits", json={"images": load_digits().images[:4].tolist()})
    assert_consistent(response.headers.get("server-timing"))


def test_uploads_and_v2_infer_carry_server_timing(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.fromarray((255 - np.kron(load_digits().images[7], np.ones((8, 8))) * 15).astype(np.uint8)).save(
        buffer, format="PNG"
    )
    upload = client.post("/digits/image", files={"image": ("d.png", buffer.getvalue(), "image/png")})
    assert upload.status_code == 200
    assert_consistent(upload.headers.get("server-timing"))
    body = {"inputs": [{"name": "rows", "shape": [2, 10], "datatype": "FP32", "data": [0.5] * 20}]}
    infer = client.post(f"/v2/models/{TABULAR}/infer", json=body)
    assert infer.status_code == 200, infer.text
    assert_consistent(infer.headers.get("server-timing"))


def test_answers_that_reach_no_model_carry_none(client: TestClient) -> None:
    refused = client.post("/classify", content=b"{not json", headers={"content-type": "application/json"})
    assert refused.status_code == STATUS["invalid_json"]
    assert "server-timing" not in refused.headers
    listing = client.get("/models")
    assert listing.status_code == 200
    assert "server-timing" not in listing.headers


def test_the_batcher_times_each_request_of_a_merged_batch() -> None:
    forward_started = threading.Event()

    def slow_double(rows: np.ndarray) -> np.ndarray:
        forward_started.set()
        time.sleep(0.05)
        return rows * 2

    async def scenario() -> list[Timing]:
        batcher = Batcher(slow_double, "timing-test", max_batch_rows=64)
        timings = [Timing() for _ in range(5)]
        rows = np.ones((1, 2), np.float32)
        try:
            first = asyncio.create_task(batcher.submit(rows, timing=timings[0]))
            await asyncio.to_thread(forward_started.wait, 10)  # its forward pass runs in the model's thread
            await asyncio.gather(first, *(batcher.submit(rows, timing=timing) for timing in timings[1:]))
        finally:
            batcher.close()
        return timings

    timings = asyncio.run(scenario())
    # The first request runs alone; the other four queue behind its forward pass, then share one batch.
    assert all(timing.compute_s >= 0.05 for timing in timings)
    assert timings[1].compute_s == timings[4].compute_s
    assert all(timing.queue_s >= 0.01 for timing in timings[1:])
