"""BentoML's own clients against a real `bentoml serve`: ``SyncHTTPClient``, ``AsyncHTTPClient`` and
``bentoml.depends(url=...)`` from another service call the JSON API's handlers and get its answers.

Bad inputs tried through the client: a row of 3 values (422 invalid_shape), 1,025 rows (413
too_many_rows), an image of 7 rows (422 invalid_shape), a pixel of 17 (422 out_of_range)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import bentoml
import httpx
import numpy as np
import pytest
from bentoml.exceptions import BentoMLException, UnprocessableEntity
from sklearn.datasets import load_digits

from load.server import ServerProcess, bentoml_serve, start

pytestmark = pytest.mark.slow

ROWS = (np.random.default_rng(7).normal(size=(5, 10)) * 2).tolist()
IMAGES = load_digits().images[:6].tolist()


def test_schema_lists_one_route_per_model(server: ServerProcess) -> None:
    routes = {route["name"]: route for route in httpx.get(f"{server.url}/schema.json").json()["routes"]}
    assert set(routes) == {"classify", "digits"}
    assert routes["classify"]["route"] == "/classify"
    assert routes["classify"]["input"]["required"] == ["rows"]
    assert set(routes["digits"]["output"]["properties"]) == {
        "model",
        "probabilities",
        "labels",
        "margins",
        "unsure",
        "inputs",
    }


def test_sync_client_answers_as_the_json_api(server: ServerProcess) -> None:
    expected_rows = httpx.post(f"{server.url}/classify", json={"rows": ROWS}).json()
    expected_images = httpx.post(f"{server.url}/digits", json={"images": IMAGES}).json()
    with bentoml.SyncHTTPClient(server.url) as client:
        assert client.classify(rows=ROWS) == expected_rows
        assert client.digits(images=IMAGES) == expected_images


def test_async_client_answers_as_the_json_api(server: ServerProcess) -> None:
    expected = httpx.post(f"{server.url}/classify", json={"rows": ROWS}).json()

    async def call() -> list[dict[str, object]]:
        async with bentoml.AsyncHTTPClient(server.url) as client:
            return list(await asyncio.gather(*(client.classify(rows=ROWS) for _ in range(8))))

    assert asyncio.run(call()) == [expected] * 8


@pytest.mark.parametrize(
    ("method", "arguments", "status", "code"),
    [
        ("classify", {"rows": [[0.1, 0.2, 0.3]]}, 422, "invalid_shape"),
        ("classify", {"rows": [[0.0] * 10] * 1025}, 413, "too_many_rows"),
        ("digits", {"images": [[[0] * 8] * 7]}, 422, "invalid_shape"),
        ("digits", {"images": [[[17] * 8] * 8]}, 422, "out_of_range"),
    ],
)
def test_client_refusals_carry_the_error(
    server: ServerProcess, method: str, arguments: dict[str, object], status: int, code: str
) -> None:
    with bentoml.SyncHTTPClient(server.url) as client, pytest.raises(BentoMLException) as refused:
        getattr(client, method)(**arguments)
    assert refused.value.error_code == status
    assert json.loads(refused.value.message)["error"] == code
    if status == 422:
        assert isinstance(refused.value, UnprocessableEntity)
    assert httpx.get(f"{server.url}/readyz").status_code == 200


def test_depends_by_url_from_another_service(server: ServerProcess, tmp_path: Path) -> None:
    expected = httpx.post(f"{server.url}/classify", json={"rows": ROWS}).json()["labels"]
    launch = bentoml_serve(
        "tests.service.depends_caller:Caller",
        env={"DEPENDS_TARGET_URL": server.url},
        log=tmp_path / "caller.log",
    )
    with start(launch, timeout=90) as caller:
        answer = httpx.post(f"{caller.url}/labels", json={"rows": ROWS}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == expected
