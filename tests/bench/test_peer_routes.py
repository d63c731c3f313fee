"""The peers' digits routes answer the contract the benchmark sends them: the shared helpers on an
untrained model in a throwaway store (fast), the Starlette app and stock BentoML in-process on the trained
store, and LitServe and TorchServe as real servers where their venvs are already built (slow)."""

from __future__ import annotations

import importlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import save_file

from bench.bodies import DIGIT_PNG, DIGITS_1, DIGITS_32, UPLOAD_PNG
from bench.peers import PEERS, serve_peer
from bench.servers import post_json, post_raw
from bench.variants.store_files import (
    digits_answer,
    image_grid,
    load_digits_cnn,
    predict_digits,
    upload_grid,
)
from bench.venvs import LITSERVE_PACKAGES, TORCHSERVE_PACKAGES, VENVS
from models import DIGITS, DigitsCNN, DigitsConfig, config_to_dict
from service.images import decode_upload


def expected_labels(images: Any) -> list[int]:
    """What our own model says of ``images``: every peer serves the same weights."""
    import torch

    from service.loader import load_model

    with torch.inference_mode():
        module = load_model(DIGITS).module
        probabilities = module.predict_proba(torch.as_tensor(np.asarray(images, dtype=np.float32)))  # type: ignore[operator]
    return probabilities.argmax(dim=1).tolist()  # type: ignore[no-any-return]


def expected_upload_label() -> list[int]:
    return expected_labels(decode_upload(DIGIT_PNG.read_bytes(), 10**6)[None])


@pytest.fixture
def untrained_store(tmp_path: Path) -> Path:
    """A store holding one untrained digits CNN, laid out as BentoML lays it out."""
    folder = tmp_path / "models" / DIGITS / "v1"
    folder.mkdir(parents=True)
    (folder.parent / "latest").write_text("v1")
    config = DigitsConfig()
    (folder / "config.json").write_text(json.dumps(config_to_dict(config)))
    save_file(DigitsCNN(config).state_dict(), folder / "weights.safetensors")
    return tmp_path


def test_store_files_serve_the_digits_contract(untrained_store: Path) -> None:
    tag, module = load_digits_cnn(untrained_store)
    assert tag == f"{DIGITS}:v1"
    probabilities = predict_digits(module, DIGITS_32["images"])
    assert probabilities.shape == (32, 10)
    assert probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    answer = digits_answer(tag, probabilities)
    assert set(answer) == {"model", "probabilities", "labels"}
    assert answer["labels"] == probabilities.argmax(axis=1).tolist()
    for wrong in ([[1.0] * 8] * 8, [], [[[1.0] * 7] * 8]):
        with pytest.raises(ValueError, match="expected images of shape"):
            predict_digits(module, wrong)


def test_peers_turn_a_picture_into_the_grid_ours_does() -> None:
    png = DIGIT_PNG.read_bytes()
    assert np.array_equal(upload_grid(png), decode_upload(png, 10**6))
    rgba = Image.open(DIGIT_PNG).convert("RGBA")
    rgba.putalpha(Image.open(DIGIT_PNG).point(lambda level: 255 - level))  # the ink opaque, the paper not
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    assert np.array_equal(image_grid(Image.open(buffer)), decode_upload(buffer.getvalue(), 10**6))


@pytest.mark.slow
def test_starlette_app_serves_digits_and_uploads(trained_store: Path) -> None:
    from starlette.testclient import TestClient

    app = importlib.import_module("bench.variants.starlette_app").app
    with TestClient(app) as client:
        many = client.post("/digits", json=DIGITS_32)
        assert many.status_code == 200
        assert many.json()["labels"] == expected_labels(DIGITS_32["images"])
        assert len(client.post("/digits", json=DIGITS_1).json()["probabilities"]) == 1
        upload = client.post("/digits/image", content=UPLOAD_PNG.payload, headers=dict(UPLOAD_PNG.headers))
        assert upload.status_code == 200
        assert upload.json()["labels"] == expected_upload_label()
        assert set(upload.json()) == {"model", "probabilities", "labels"}
        assert client.post("/digits", json={"images": [[1, 2]]}).status_code == 422
        assert client.post("/digits/image", files={"other": ("x.png", b"1")}).status_code == 422
        assert client.post("/digits/image", files={"image": ("x.png", b"not a png")}).status_code == 422


@pytest.mark.slow
def test_stock_bentoml_digits_apis_in_process(trained_store: Path) -> None:
    stock = importlib.import_module("bench.variants.stock_bentoml").StockService()
    assert stock.digits(DIGITS_32["images"])["labels"] == expected_labels(DIGITS_32["images"])
    answer = stock.digits_image(Image.open(DIGIT_PNG))
    assert answer["labels"] == expected_upload_label()
    assert answer["model"].startswith(f"{DIGITS}:")


def _venv_ready(name: str, packages: list[str]) -> bool:
    """The peer's venv is built with these packages (a test never installs one)."""
    stamp = VENVS / name / ".installed.json"
    return stamp.exists() and json.loads(stamp.read_text()) == sorted(packages)


def _post(url: str, body: Any) -> dict[str, Any]:
    if body is UPLOAD_PNG:
        return json.loads(post_raw(url, UPLOAD_PNG.payload, dict(UPLOAD_PNG.headers)))  # type: ignore[no-any-return]
    return json.loads(post_json(url, body))  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "packages"), [("litserve", LITSERVE_PACKAGES), ("torchserve", TORCHSERVE_PACKAGES)]
)
def test_venv_peer_serves_digits_and_uploads(
    trained_store: Path, tmp_path: Path, name: str, packages: list[str]
) -> None:
    if not _venv_ready(name, packages):
        pytest.skip(f"reports/venvs/{name} is not built with {packages} (python -m bench compare builds it)")
    peer = PEERS[name]
    assert peer.digits_path is not None
    assert peer.upload_path is not None
    with serve_peer(name, tmp_path / f"{name}.log") as server:
        many = _post(server.url + peer.digits_path, DIGITS_32)
        assert many["labels"] == expected_labels(DIGITS_32["images"])
        assert len(_post(server.url + peer.digits_path, DIGITS_1)["probabilities"]) == 1
        upload = _post(server.url + peer.upload_path, UPLOAD_PNG)
        assert upload["labels"] == expected_upload_label()
        assert upload["model"].startswith(f"{DIGITS}:")
