"""The Open Inference Protocol V2 in-process (``Service.to_asgi()`` + TestClient): health, server and
model metadata, versions, and answers (JSON and binary, every convertible datatype) equal to the JSON
API's. Malformed requests are in test_v2_errors.py; the real clients in test_v2_clients.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bentoml
import numpy as np
import pytest
from sklearn.datasets import load_digits
from starlette.testclient import TestClient

from models import SPECS
from service.errors import STATUS
from service.kinds import kind_of
from tests.helpers import in_process_client

TABULAR, DIGITS = "tabular-classifier", "digits-cnn"
HEADER_LENGTH = "Inference-Header-Content-Length"
MAX_ROWS = 64


@pytest.fixture(scope="module")
def client(trained_store: Path) -> Iterator[TestClient]:
    """One in-process app with small limits, so that the limit tests stay cheap."""
    yield from v2_client()


def v2_client() -> Iterator[TestClient]:
    from service.settings import ServingSettings

    yield from in_process_client(ServingSettings(max_rows=MAX_ROWS, max_body_bytes=65536))


# ---- building requests and reading answers, as a V2 client does ----


def tensor(
    array: np.ndarray, datatype: str = "FP32", name: str = "rows", nested: bool = False
) -> dict[str, Any]:
    """A JSON input tensor: ``data`` flat (row-major) unless ``nested``."""
    data = array.tolist() if nested else array.reshape(-1).tolist()
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def binary_body(header: dict[str, Any], *blobs: bytes) -> tuple[bytes, dict[str, str]]:
    """The binary extension's body (JSON header, then the bytes) and its header-length header."""
    encoded = json.dumps(header).encode()
    return encoded + b"".join(blobs), {HEADER_LENGTH: str(len(encoded))}


def binary_tensor(array: np.ndarray, datatype: str, name: str = "rows") -> tuple[dict[str, Any], bytes]:
    raw = array.tobytes()
    return {
        "name": name,
        "datatype": datatype,
        "shape": list(array.shape),
        "parameters": {"binary_data_size": len(raw)},
    }, raw


def outputs_of(response: Any) -> dict[str, Any]:
    """{name: (numpy array, the output's JSON entry)} from a JSON or binary answer."""
    length = response.headers.get(HEADER_LENGTH)
    content = response.content
    header = json.loads(content[: int(length)] if length else content)
    offset = int(length) if length else 0
    found: dict[str, Any] = {}
    for output in header["outputs"]:
        dtype = {"FP32": "<f4", "INT64": "<i8"}[output["datatype"]]
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            array = np.array(output["data"], dtype=dtype)
        else:
            array = np.frombuffer(content[offset : offset + size], dtype=dtype)
            offset += size
        found[output["name"]] = (array.reshape(output["shape"]), output)
    assert offset == (len(content) if length else 0)
    return found


def assert_v2_error(response: Any, code: str) -> dict[str, Any]:
    """The protocol's error shape: {"error": <message>, "code": <stable code>}; 400 where the JSON API
    says 422."""
    expected = 400 if STATUS[code] == 422 else STATUS[code]
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "code"}, body
    assert body["code"] == code, body
    assert 0 < len(body["error"]) < 300
    return body


def version(client: TestClient, name: str) -> str:
    tags = {model["name"]: model["tag"] for model in client.get("/models").json()}
    return str(tags[name].split(":", 1)[1])


def rows(count: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(count, 10)) * 2).astype(np.float32)


def images(count: int) -> np.ndarray:
    return load_digits().images[:count].astype(np.float32)


# ---- health, metadata, versions ----


def test_server_metadata_and_health(client: TestClient) -> None:
    metadata = client.get("/v2").json()
    assert metadata["name"] == "bento-serving"
    assert metadata["version"] == "0.1.0"
    assert "binary_tensor_data" in metadata["extensions"]
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True}


@pytest.mark.parametrize("name", list(SPECS))
def test_model_metadata_comes_from_the_registry(client: TestClient, name: str) -> None:
    served = version(client, name)
    for path in (f"/v2/models/{name}", f"/v2/models/{name}/versions/{served}"):
        metadata = client.get(path).json()
        assert metadata["name"] == name
        assert metadata["versions"] == [served]
        assert metadata["platform"] == "pytorch"
        (tensor_meta,) = metadata["inputs"]
        assert tensor_meta["datatype"] == "FP32"
        assert tensor_meta["shape"][0] == -1
        assert {o["name"]: o["datatype"] for o in metadata["outputs"]} == {
            "probabilities": "FP32",
            "labels": "INT64",
        }
    expected = {
        TABULAR: ([-1, 10], [-1]),
        DIGITS: ([-1, 8, 8], [-1, 10]),
    }[name]
    assert (metadata["inputs"][0]["shape"], metadata["outputs"][0]["shape"]) == expected
    assert metadata["outputs"][1]["shape"] == [-1]


@pytest.mark.parametrize("name", list(SPECS))
def test_model_readiness_at_any_and_at_the_served_version(client: TestClient, name: str) -> None:
    for path in (f"/v2/models/{name}/ready", f"/v2/models/{name}/versions/{version(client, name)}/ready"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json() == {"name": name, "ready": True}


def test_unknown_models_and_versions_are_404(client: TestClient) -> None:
    for path in ("/v2/models/nope", "/v2/models/nope/ready", f"/v2/models/{TABULAR}/versions/0abc"):
        assert_v2_error(client.get(path), "not_found")
    body = {"inputs": [tensor(rows(1))]}
    assert_v2_error(client.post("/v2/models/nope/infer", json=body), "not_found")
    error = assert_v2_error(client.post(f"/v2/models/{TABULAR}/versions/0abc/infer", json=body), "not_found")
    assert version(client, TABULAR) in error["error"]  # says which version is served


def test_not_ready_answers_503_with_retry_after(client: TestClient) -> None:
    """While loading (``ready`` false) the health routes say so, and infer refuses like the JSON API;
    while draining the server is not ready either."""
    service = bentoml.get_current_service()
    body = {"inputs": [tensor(rows(1))]}
    try:
        service.ready = False
        ready = client.get("/v2/health/ready")
        assert (ready.status_code, ready.json()) == (503, {"ready": False})
        assert ready.headers["retry-after"] == "1"
        model = client.get(f"/v2/models/{TABULAR}/ready")
        assert (model.status_code, model.json()) == (503, {"name": TABULAR, "ready": False})
        refused = client.post(f"/v2/models/{TABULAR}/infer", json=body)
        assert_v2_error(refused, "not_ready")
        assert refused.headers["retry-after"] == "1"
        service.ready, service.draining = True, True
        assert client.get("/v2/health/ready").status_code == 503
    finally:
        service.ready, service.draining = True, False
    assert client.get("/v2/health/ready").status_code == 200
    assert client.post(f"/v2/models/{TABULAR}/infer", json=body).status_code == 200


def test_openapi_lists_the_v2_routes_without_path_parameters(client: TestClient) -> None:
    """Server routes and each model's metadata, readiness and infer; not /versions/{version}
    (service/v2/routes.py says why)."""
    paths = client.get("/docs.json").json()["paths"]
    documented = {"/v2", "/v2/health/live", "/v2/health/ready"}
    documented |= {f"/v2/models/{name}{tail}" for name in SPECS for tail in ("", "/ready", "/infer")}
    assert {path for path in paths if path.startswith("/v2")} == documented
    answer = paths[f"/v2/models/{TABULAR}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"].endswith("/ModelMetadata")
    assert "/classify" in paths  # the JSON API is still documented


# ---- answers ----


@pytest.mark.parametrize("nested", [False, True])
def test_tabular_json_answer_equals_classify(client: TestClient, nested: bool) -> None:
    batch = rows(7, seed=3)
    expected = client.post("/classify", json={"rows": batch.tolist()}).json()
    body = {"id": "req-1", "inputs": [tensor(batch, nested=nested)]}
    response = client.post(f"/v2/models/{TABULAR}/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert HEADER_LENGTH.lower() not in response.headers
    answer = response.json()
    assert (answer["id"], answer["model_name"]) == ("req-1", TABULAR)
    assert f"{TABULAR}:{answer['model_version']}" == expected["model"]
    found = outputs_of(response)
    assert [o["name"] for o in answer["outputs"]] == ["probabilities", "labels"]
    assert found["probabilities"][0].shape == (7,)
    np.testing.assert_allclose(found["probabilities"][0], expected["probabilities"], atol=1e-5)
    assert found["labels"][0].tolist() == expected["labels"]


@pytest.mark.parametrize("shape", [(12, 8, 8), (12, 1, 8, 8)])
def test_digits_binary_answer_equals_digits(client: TestClient, shape: tuple[int, ...]) -> None:
    """Binary in and out (binary_data_output, as tritonclient asks when it names no outputs), with the
    image shape with or without a channel dimension."""
    batch = images(12)
    expected = client.post("/digits", json={"images": batch.tolist()}).json()
    described, raw = binary_tensor(batch.reshape(shape), "FP32", name="images")
    content, headers = binary_body({"inputs": [described], "parameters": {"binary_data_output": True}}, raw)
    response = client.post(f"/v2/models/{DIGITS}/infer", content=content, headers=headers)  # no content type
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    found = outputs_of(response)
    probabilities, entry = found["probabilities"]
    assert entry["parameters"] == {"binary_data_size": 12 * 10 * 4}
    assert "data" not in entry
    assert probabilities.shape == (12, 10)
    np.testing.assert_allclose(probabilities, expected["probabilities"], atol=1e-5)
    assert found["labels"][0].tolist() == expected["labels"]
    assert found["labels"][1]["parameters"] == {"binary_data_size": 12 * 8}


def test_outputs_are_chosen_ordered_and_binary_one_by_one(client: TestClient) -> None:
    batch = rows(5, seed=4)
    expected = client.post("/classify", json={"rows": batch.tolist()}).json()
    outputs = [{"name": "labels", "parameters": {"binary_data": True}}, {"name": "probabilities"}]
    body = {"inputs": [tensor(batch)], "outputs": outputs}
    response = client.post(f"/v2/models/{TABULAR}/infer", json=body)
    assert response.headers["content-type"] == "application/octet-stream"
    found = outputs_of(response)
    assert list(found) == ["labels", "probabilities"]
    assert "data" in found["probabilities"][1]  # not asked for binary
    assert found["labels"][1]["parameters"]["binary_data_size"] == 5 * 8
    np.testing.assert_allclose(found["probabilities"][0], expected["probabilities"], atol=1e-5)
    only = client.post(f"/v2/models/{TABULAR}/infer", json={**body, "outputs": [{"name": "labels"}]})
    assert list(outputs_of(only)) == ["labels"]
    assert only.json()["outputs"][0]["data"] == expected["labels"]


CONVERTED = [
    "FP32",
    "FP64",
    "FP16",
    "BF16",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
]


@pytest.mark.parametrize("datatype", CONVERTED)
def test_every_convertible_datatype_gives_the_fp32_answer(client: TestClient, datatype: str) -> None:
    """Pixel values are whole numbers 0..16: exact in every datatype, so each one, as JSON and as
    binary, must give exactly the answer of the same images in FP32."""
    batch = images(6)
    expected = outputs_of(
        client.post(f"/v2/models/{DIGITS}/infer", json={"inputs": [tensor(batch, name="images")]})
    )
    if datatype == "BF16":
        wire = (batch.view(np.uint32) >> 16).astype("<u2")  # exact: whole numbers up to 16
    else:
        numpy_type = {"FP32": "<f4", "FP64": "<f8", "FP16": "<f2"}.get(datatype, datatype.lower())
        wire = batch.astype(np.dtype(numpy_type).newbyteorder("<"))
    described, raw = binary_tensor(wire, datatype, name="images")
    content, headers = binary_body({"inputs": [described]}, raw)
    answers = [
        client.post(f"/v2/models/{DIGITS}/infer", content=content, headers=headers),
        client.post(
            f"/v2/models/{DIGITS}/infer",
            json={
                "inputs": [tensor(batch.astype(np.int64) if "INT" in datatype else batch, datatype, "images")]
            },
        ),
    ]
    for response in answers:
        assert response.status_code == 200, (datatype, response.text)
        found = outputs_of(response)
        np.testing.assert_array_equal(found["probabilities"][0], expected["probabilities"][0])
        np.testing.assert_array_equal(found["labels"][0], expected["labels"][0])


@pytest.mark.parametrize(
    "headers",
    [
        {},  # tritonclient: no content type at all
        {"content-type": "application/json"},
        {"Content-Type": "application/octet-stream"},  # KServe's client, for binary
        {"CONTENT-TYPE": "application/json; charset=utf-8"},
    ],
)
def test_content_types_real_clients_send(client: TestClient, headers: dict[str, str]) -> None:
    described, raw = binary_tensor(rows(2), "FP32")
    content, length = binary_body({"inputs": [described]}, raw)
    response = client.post(
        f"/v2/models/{TABULAR}/infer",
        content=content,
        headers={**headers, **{k.lower(): v for k, v in length.items()}},
    )
    assert response.status_code == 200, response.text
    plain = client.post(
        f"/v2/models/{TABULAR}/infer", content=json.dumps({"inputs": [tensor(rows(2))]}), headers=headers
    )
    assert plain.status_code == 200, plain.text


def test_versioned_infer_answers_with_its_version(client: TestClient) -> None:
    for name in SPECS:
        served = version(client, name)
        kind = kind_of(SPECS[name].input_schema(SPECS[name].config_type()))
        batch = rows(3) if name == TABULAR else images(3)
        body = {"inputs": [tensor(batch, name=kind.tensor_name)]}
        response = client.post(f"/v2/models/{name}/versions/{served}/infer", json=body)
        assert response.status_code == 200, response.text
        assert (response.json()["model_name"], response.json()["model_version"]) == (name, served)


def test_rows_up_to_the_limit_are_answered(client: TestClient) -> None:
    described, raw = binary_tensor(rows(MAX_ROWS), "FP32")
    content, headers = binary_body({"inputs": [described]}, raw)
    response = client.post(f"/v2/models/{TABULAR}/infer", content=content, headers=headers)
    assert response.status_code == 200
    assert outputs_of(response)["labels"][0].shape == (MAX_ROWS,)
