"""The digits answer end to end, against a real `bentoml serve`: typed digits in fonts that training never saw, posted as
PNG pictures to /digits/image, must mostly come back right; every answer carries margins and an unsure
flag; ``?explain=1`` shows the 8x8 the model saw."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from load.server import ServerProcess
from service.errors import STATUS
from service.images import decode_upload
from training.render import HELD_OUT_FONTS, font_files, rendered

pytestmark = pytest.mark.slow  # trains both models (the session's trained_store)

# The fixture's model may be trained in quick mode (a few epochs); a fully trained one scores about 0.92
# on these fonts (docs/training.md).
UNSEEN_FLOOR = 0.8


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def png(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(grey * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client: httpx.Client, data: bytes, query: str = "") -> Any:
    return client.post(f"/digits/image{query}", files={"image": ("digit.png", data, "image/png")})


def threshold(client: httpx.Client) -> float:
    models = {entry["name"]: entry for entry in client.get("/models").json()}
    value: float = models["digits-cnn"]["metrics"].get("unsure_below", 0.8)
    return value


def test_unseen_fonts_through_the_upload_route_clear_the_floor(client: httpx.Client) -> None:
    pictures, labels, _ = rendered(font_files(HELD_OUT_FONTS), 1, np.random.default_rng(7))
    answers = [upload(client, png(picture)) for picture in pictures]
    assert all(answer.status_code == 200 for answer in answers)
    predicted = np.array([answer.json()["labels"][0] for answer in answers])
    accuracy = float((predicted == labels).mean())
    assert accuracy >= UNSEEN_FLOOR, f"{accuracy:.3f} on {len(labels)} unseen-style pictures"


def test_every_answer_has_margins_and_unsure_flags(client: httpx.Client) -> None:
    body = client.post("/digits", json={"images": load_digits().images[:30].tolist()}).json()
    assert "inputs" not in body
    below = threshold(client)
    for probabilities, margin, unsure in zip(
        body["probabilities"], body["margins"], body["unsure"], strict=True
    ):
        top, second = sorted(probabilities)[-1], sorted(probabilities)[-2]
        assert margin == pytest.approx(top - second, abs=1e-6)
        assert unsure is (top < below)
    blank = upload(client, png(np.ones((40, 40)))).json()  # nothing drawn: all zeros in, surely unsure
    assert blank["margins"][0] <= 1
    assert isinstance(blank["unsure"][0], bool)


@pytest.mark.parametrize("value", ["1", "true", "True"])
def test_explain_shows_the_grid_the_model_saw(client: httpx.Client, value: str) -> None:
    pictures, _, _ = rendered(font_files(HELD_OUT_FONTS)[:1], 1, np.random.default_rng(3))
    data = png(pictures[4])
    body = upload(client, data, f"?explain={value}").json()
    assert len(body["inputs"]) == 1
    grid = np.asarray(body["inputs"][0])
    assert grid.shape == (8, 8)
    assert grid.min() >= 0
    assert grid.max() <= 16
    np.testing.assert_allclose(grid, decode_upload(data, 4096 * 4096), atol=1e-5)
    numeric = client.post("/digits", json={"images": [grid.tolist()]}).json()
    assert numeric["labels"] == body["labels"]


def test_explain_on_the_json_route_echoes_the_images(client: httpx.Client) -> None:
    images = load_digits().images[:3].tolist()
    body = client.post("/digits?explain=1", json={"images": images}).json()
    assert body["inputs"] == images
    assert "inputs" not in client.post("/digits?explain=0", json={"images": images}).json()
    assert "inputs" not in upload(client, png(np.ones((40, 40))), "?explain=false").json()


@pytest.mark.parametrize("path", ["/digits", "/digits/image"])
def test_a_bad_explain_value_is_422(client: httpx.Client, path: str) -> None:
    if path == "/digits":
        response = client.post(f"{path}?explain=yes", json={"images": load_digits().images[:1].tolist()})
    else:
        response = upload(client, png(np.ones((40, 40))), "?explain=2")
    assert response.status_code == STATUS["invalid_type"] == 422
    body = response.json()
    assert body["error"] == "invalid_type"
    assert "explain" in body["detail"]
