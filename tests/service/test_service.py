"""The service in-process (``Service.to_asgi()`` + TestClient): the HTTP contract and error bodies."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from starlette.testclient import TestClient

from service.errors import STATUS
from tests.helpers import in_process_client


@pytest.fixture(scope="module")
def client(trained_store: Path) -> Iterator[TestClient]:
    """One in-process app for the module, with small limits so that the limit tests stay cheap."""
    from service.settings import ServingSettings

    yield from in_process_client(ServingSettings(max_rows=64, max_body_bytes=65536, max_image_pixels=250_000))


def assert_error(response: Any, code: str) -> dict[str, Any]:
    """The contract's error shape: the status of ``code``, a JSON object with error and detail."""
    assert response.status_code == STATUS[code], response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str)
    assert 0 < len(body["detail"]) < 300
    return body


def digit_png(index: int, dark_on_light: bool = True) -> bytes:
    image = load_digits().images[index]
    big = np.kron(image, np.ones((12, 12))) / 16 * 255
    pixels = 255 - big if dark_on_light else big
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


ROW = [0.1 * i for i in range(10)]


def test_classify_answers_one_entry_per_row_with_the_exact_tag(client: TestClient) -> None:
    rows = (np.random.default_rng(0).normal(size=(5, 10)) * 2).tolist()
    response = client.post("/classify", json={"rows": rows})
    assert response.status_code == 200
    body = response.json()
    assert body["model"].startswith("tabular-classifier:")
    assert not body["model"].endswith(":latest")
    assert len(body["probabilities"]) == len(body["labels"]) == 5
    assert all(0 <= p <= 1 for p in body["probabilities"])
    assert body["labels"] == [int(p >= 0.5) for p in body["probabilities"]]


def test_digits_classifies_training_images(client: TestClient) -> None:
    digits = load_digits()
    response = client.post("/digits", json={"images": digits.images[:20].tolist()})
    assert response.status_code == 200
    body = response.json()
    assert body["model"].startswith("digits-cnn:")
    assert len(body["probabilities"]) == 20
    assert all(len(p) == 10 and abs(sum(p) - 1) < 1e-4 for p in body["probabilities"])
    assert body["labels"] == [int(np.argmax(p)) for p in body["probabilities"]]


def test_image_upload_matches_the_numeric_endpoint(client: TestClient) -> None:
    digits = load_digits()
    numeric = client.post("/digits", json={"images": digits.images[:6].tolist()}).json()["labels"]
    uploaded = []
    for index in range(6):
        response = client.post("/digits/image", files={"image": ("digit.png", digit_png(index), "image/png")})
        assert response.status_code == 200, response.text
        assert len(response.json()["labels"]) == 1
        uploaded.append(response.json()["labels"][0])
    assert sum(a == b for a, b in zip(uploaded, numeric, strict=True)) >= 5


def test_models_lists_both_with_schema_metrics_and_fingerprint(client: TestClient) -> None:
    response = client.get("/models")
    assert response.status_code == 200
    by_name = {entry["name"]: entry for entry in response.json()}
    assert set(by_name) == {"tabular-classifier", "digits-cnn"}
    assert by_name["tabular-classifier"]["input"]["n_features"] == 10
    assert by_name["digits-cnn"]["input"]["shape"] == [8, 8]
    for entry in by_name.values():
        assert entry["tag"].startswith(entry["name"] + ":")
        assert "accuracy" in entry["metrics"]
        assert len(entry["data"]["sha256"]) == 64
        assert entry["created"]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200


def test_openapi_document_shows_the_contract(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    for path in ("/classify", "/digits", "/digits/image", "/models"):
        assert path in spec["paths"], path
    classify = spec["paths"]["/classify"]["post"]
    assert "example" in json.dumps(classify["requestBody"]) or "examples" in json.dumps(
        classify["requestBody"]
    )
    assert {"200", "400", "413", "415", "422", "503"} <= set(classify["responses"])
    assert "ClassifyResponse" in spec["components"]["schemas"]
    assert "multipart/form-data" in spec["paths"]["/digits/image"]["post"]["requestBody"]["content"]


BAD_JSON_BODIES = [
    # (endpoint, raw body, expected code)
    ("/classify", b"", "invalid_json"),
    ("/classify", b"{not json", "invalid_json"),
    ("/classify", b"\xff\xfe", "invalid_json"),
    ("/classify", b"[1, 2]", "invalid_body"),
    ("/classify", b'{"features": []}', "invalid_body"),
    ("/classify", b'{"rows": {}}', "invalid_shape"),
    ("/classify", b'{"rows": []}', "invalid_shape"),
    ("/classify", b'{"rows": [[]]}', "invalid_shape"),
    ("/classify", json.dumps({"rows": [ROW[:9]]}).encode(), "invalid_shape"),
    ("/classify", json.dumps({"rows": [ROW, ROW[:5]]}).encode(), "invalid_shape"),
    ("/classify", json.dumps({"rows": [[ROW]]}).encode(), "invalid_shape"),
    ("/classify", json.dumps({"rows": [["1", *ROW[1:]]]}).encode(), "invalid_type"),
    ("/classify", json.dumps({"rows": [[True, *ROW[1:]]]}).encode(), "invalid_type"),
    ("/classify", json.dumps({"rows": [[None, *ROW[1:]]]}).encode(), "invalid_type"),
    ("/classify", b'{"rows": [[NaN, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}', "not_finite"),
    ("/classify", b'{"rows": [[Infinity, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}', "not_finite"),
    ("/classify", b'{"rows": [[1e39, 1, 2, 3, 4, 5, 6, 7, 8, 9]]}', "not_finite"),
    ("/classify", json.dumps({"rows": [ROW] * 65}).encode(), "too_many_rows"),
    ("/digits", b'{"images": {}}', "invalid_shape"),
    ("/digits", json.dumps({"images": [[[0] * 9] * 8]}).encode(), "invalid_shape"),
    ("/digits", json.dumps({"images": [[[0] * 8] * 9]}).encode(), "invalid_shape"),
    ("/digits", json.dumps({"images": [[0] * 64]}).encode(), "invalid_shape"),
    ("/digits", json.dumps({"images": [[[17] * 8] * 8]}).encode(), "out_of_range"),
    ("/digits", json.dumps({"images": [[[-1] * 8] * 8]}).encode(), "out_of_range"),
    ("/digits", json.dumps({"images": [[[0] * 8] * 8] * 65}).encode(), "too_many_rows"),
]


@pytest.mark.parametrize(("path", "body", "code"), BAD_JSON_BODIES)
def test_bad_json_bodies_get_the_contract_error(
    client: TestClient, path: str, body: bytes, code: str
) -> None:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert_error(response, code)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/classify", "text/plain"),
        ("/classify", "multipart/form-data; boundary=x"),
        ("/classify", "application/x-www-form-urlencoded"),
        ("/digits", "application/xml"),
        ("/digits/image", "application/json"),
        ("/digits/image", "image/png"),
    ],
)
def test_wrong_content_type_is_415(client: TestClient, path: str, content_type: str) -> None:
    response = client.post(path, content=json.dumps({"rows": [ROW]}), headers={"content-type": content_type})
    assert_error(response, "unsupported_media_type")


def test_oversized_body_is_413_and_not_echoed(client: TestClient) -> None:
    huge = b'{"rows": [[' + b"1," * 40_000 + b"1]]}"
    body = assert_error(
        client.post("/classify", content=huge, headers={"content-type": "application/json"}), "body_too_large"
    )
    assert "1,1,1" not in body["detail"]


def test_oversized_body_without_content_length_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to trust
        yield b'{"rows": [['
        for _ in range(100):
            yield b"1," * 500
        yield b"1]]}"

    response = client.post("/classify", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, "body_too_large")


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"image": ("x.png", b"not an image", "image/png")}, "invalid_image"),
        ({"image": ("x.png", b"", "image/png")}, "invalid_image"),
        ({"picture": ("x.png", b"\x89PNG", "image/png")}, "invalid_body"),
    ],
)
def test_bad_uploads(client: TestClient, files: dict[str, Any], code: str) -> None:
    assert_error(client.post("/digits/image", files=files), code)


def test_a_multipart_body_starlette_cannot_parse_is_400(client: TestClient) -> None:
    """Found by schemathesis: a part without headers made Starlette's form parser raise its
    HTTPException, which the prediction routes' short way in (service/fastpath.py) let through as a 500."""
    boundary = "9cc651cd2c8d168349f50fede4c361ac"
    body = f"--{boundary}\r\nFalse--{boundary}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    assert_error(client.post("/digits/image", content=body, headers=headers), "invalid_body")
    assert client.post("/classify", json={"rows": [ROW]}).status_code == 200  # still serving


def test_image_over_the_pixel_limit_is_413(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("L", (600, 600), 255).save(buffer, format="PNG")  # 360,000 pixels > 250,000
    response = client.post("/digits/image", files={"image": ("big.png", buffer.getvalue(), "image/png")})
    assert_error(response, "image_too_large")


def test_image_field_sent_as_text_is_invalid_body(client: TestClient) -> None:
    response = client.post(
        "/digits/image", data={"image": "hello"}, files={"other": ("a.txt", b"x", "text/plain")}
    )
    assert_error(response, "invalid_body")


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    assert_error(client.get("/classify"), "method_not_allowed")


def test_server_keeps_serving_after_bad_input(client: TestClient) -> None:
    for path, body, _ in BAD_JSON_BODIES:
        client.post(path, content=body, headers={"content-type": "application/json"})
    assert client.post("/classify", json={"rows": [ROW]}).status_code == 200


def test_metrics_count_rows_batches_and_errors(client: TestClient) -> None:
    client.post("/classify", json={"rows": [ROW] * 3})
    client.post("/classify", content=b"{", headers={"content-type": "application/json"})
    text = client.get("/metrics").text
    for name in (
        'serving_rows_total{model="tabular-classifier"}',
        'serving_batch_rows_bucket{le="4.0",model="tabular-classifier"}',
        'serving_errors_total{code="invalid_json"}',
        "serving_queue_wait_seconds_bucket",
        "serving_compute_seconds_bucket",
    ):
        assert name in text, name
    # which version of each model is served, and on which device
    served = [line for line in text.splitlines() if line.startswith("serving_model_served{")]
    tags = {m["name"]: m["tag"] for m in client.get("/models").json()}
    for name, tag in tags.items():
        version = tag.split(":")[1]
        labels = f'device="cpu",model="{name}",(pid="\\d+",)?version="{version}"'
        assert any(re.fullmatch(f"serving_model_served{{{labels}}} 1.0", line) for line in served), served
