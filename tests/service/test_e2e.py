"""End to end: a real `bentoml serve` on a free loopback port, real HTTP, the models from a
temporary store (trained by the session fixture)."""

from __future__ import annotations

import asyncio
import io
import re
import statistics
import time
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from load.server import ServerProcess
from tests.conftest import StartServer

pytestmark = pytest.mark.slow

ROW_COUNT = 64


def rows(count: int, seed: int = 0) -> list[list[float]]:
    return (np.random.default_rng(seed).normal(size=(count, 10)) * 2).tolist()  # type: ignore[no-any-return]


async def post_many(url: str, bodies: list[tuple[str, Any]], limit: int = 64) -> list[httpx.Response]:
    """POST every (path, json) at once, ``limit`` connections, and return the answers in order."""
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        return await asyncio.gather(*(client.post(path, json=body) for path, body in bodies))


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_every_endpoint_answers(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        classify = client.post("/classify", json={"rows": rows(3)})
        assert classify.status_code == 200
        assert len(classify.json()["labels"]) == 3
        digits = client.post("/digits", json={"images": load_digits().images[:40].tolist()})
        assert digits.status_code == 200
        correct = np.equal(digits.json()["labels"], load_digits().target[:40]).sum()
        assert correct >= 36
        picture = np.kron(load_digits().images[0], np.ones((10, 10))) / 16 * 255
        buffer = io.BytesIO()
        Image.fromarray((255 - picture).astype(np.uint8)).save(buffer, format="JPEG")
        upload = client.post("/digits/image", files={"image": ("zero.jpg", buffer.getvalue(), "image/jpeg")})
        assert upload.status_code == 200
        assert upload.json()["labels"] == [0]
        assert {m["name"] for m in client.get("/models").json()} == {"tabular-classifier", "digits-cnn"}
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        exposed = client.get("/metrics").text
        assert "serving_rows_total" in exposed
        served = re.findall(r"^serving_model_served\{([^}]*)\} 1\.0$", exposed, re.MULTILINE)
        assert any('model="digits-cnn"' in labels and 'device="cpu"' in labels for labels in served)
        assert all('pid="' in labels for labels in served)  # one series per worker
        assert client.get("/").status_code == 200  # Swagger UI
        assert "/classify" in client.get("/docs.json").json()["paths"]


def test_concurrent_single_rows_equal_one_batched_request(server: ServerProcess) -> None:
    """64 concurrent one-row requests give the same probabilities as one 64-row request, and the
    batcher merged some of them (fewer forward passes than requests)."""
    batch = rows(ROW_COUNT, seed=1)
    before = httpx.get(f"{server.url}/metrics").text
    singles = asyncio.run(post_many(server.url, [("/classify", {"rows": [row]}) for row in batch]))
    after = httpx.get(f"{server.url}/metrics").text
    together = httpx.post(f"{server.url}/classify", json={"rows": batch}, timeout=30).json()
    assert all(response.status_code == 200 for response in singles)
    single_probabilities = [response.json()["probabilities"][0] for response in singles]
    np.testing.assert_allclose(single_probabilities, together["probabilities"], rtol=0, atol=1e-5)
    assert [response.json()["labels"][0] for response in singles] == together["labels"]
    name, labels = "serving_batch_rows_count", {"model": "tabular-classifier"}
    forward_passes = metric(after, name, **labels) - metric(before, name, **labels)
    print(f"\n64 concurrent one-row requests ran in {forward_passes:.0f} forward passes")
    assert 1 <= forward_passes <= ROW_COUNT


def test_bad_requests_never_fail_good_ones_beside_them(server: ServerProcess) -> None:
    good = [("/classify", {"rows": [row]}) for row in rows(48, seed=2)]
    good += [("/digits", {"images": [image]}) for image in load_digits().images[:16].tolist()]
    bad = [
        ("/classify", {"rows": [[1.0] * 9]}),
        ("/classify", {"rows": [[True] * 10]}),
        ("/classify", {"rows": []}),
        ("/classify", {"rows": [[1.0] * 10] * 2000}),
        ("/classify", [1, 2, 3]),
        ("/digits", {"images": [[[0] * 9] * 8]}),
        ("/digits", {"images": [[[99] * 8] * 8]}),
        ("/digits", {"images": {}}),
    ] * 4
    mixed = [item for pair in zip(good, bad + bad, strict=False) for item in pair] + good[len(bad) * 2 :]
    answers = asyncio.run(post_many(server.url, mixed))
    statuses = [response.status_code for response in answers]
    good_statuses = [s for (item, s) in zip(mixed, statuses, strict=True) if item in good]
    bad_statuses = [s for (item, s) in zip(mixed, statuses, strict=True) if item not in good]
    assert good_statuses == [200] * len(good)
    assert all(400 <= status < 500 for status in bad_statuses), bad_statuses
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert server.launch.log is not None
    log = server.launch.log.read_text(errors="replace")
    assert "-> invalid_shape: rows[0] has 9 values" in log  # one concise line per refusal ...
    assert "Traceback" not in log  # ... and never a traceback for a client's mistake


def lone_latencies(url: str, count: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for row in rows(count, seed=3):
            started = time.perf_counter()
            assert client.post("/classify", json={"rows": [row]}).status_code == 200
            timings.append(time.perf_counter() - started)
    return timings


def test_lone_request_is_not_slowed_by_a_max_size_request(server: ServerProcess) -> None:
    """The adaptive-batcher trap: after one very large request, lone requests must not wait."""
    before = statistics.median(lone_latencies(server.url, 30))
    large = httpx.post(f"{server.url}/classify", json={"rows": rows(1024, seed=4)}, timeout=30)
    assert large.status_code == 200
    assert len(large.json()["probabilities"]) == 1024
    after = statistics.median(lone_latencies(server.url, 30))
    print(
        f"\nlone request p50: {before * 1000:.2f} ms before, {after * 1000:.2f} ms after a 1024-row request"
    )
    assert after < before * 3 + 0.050  # generous: a shared 2-core machine is noisy


def test_readiness_stays_true_through_load(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    answers = asyncio.run(
        post_many(server.url, [("/classify", {"rows": rows(8, seed=i)}) for i in range(200)])
    )
    assert all(response.status_code == 200 for response in answers)
    assert httpx.get(f"{server.url}/readyz").status_code == 200


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch on this machine")
def test_serves_on_the_gpu(serve: StartServer) -> None:
    gpu = serve({"SERVING_DEVICE": "cuda"})
    answer = httpx.post(f"{gpu.url}/classify", json={"rows": rows(4)}, timeout=30)
    assert answer.status_code == 200
    digits = httpx.post(f"{gpu.url}/digits", json={"images": load_digits().images[:40].tolist()}, timeout=30)
    assert np.equal(digits.json()["labels"], load_digits().target[:40]).sum() >= 36
