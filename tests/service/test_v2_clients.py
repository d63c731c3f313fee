"""The Open Inference Protocol V2 end to end: a real `bentoml serve`, real HTTP, and the real clients.

- tritonclient.http (in the project's venv): health, server and model metadata, readiness, infer on
  every model with JSON and with binary tensors (checking that the outputs really came back binary,
  through their binary_data_size), infer at /versions/{version}, and its error messages.
- KServe's InferenceRESTClient (protocol "v2"): kserve pins packages this project must not share (it
  brings uvloop and httptools, which BentoML's uvicorn would then pick up silently, changing the HTTP
  stack every benchmark measures), so it runs from its own venv, reports/venvs/kserve (git-ignored,
  built on first use), in a subprocess that prints what it got as JSON.
- Malformed requests mixed with good ones under concurrency harm no good request, and the server is
  still ready after each malformed request, with no traceback in its log.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from load.server import REPO, ServerProcess
from models import SPECS
from tests.service.test_v2 import (
    DIGITS,
    TABULAR,
    binary_body,
    binary_tensor,
    images,
    outputs_of,
    rows,
    tensor,
)
from tests.service.test_v2_errors import BINARY_CASES, JSON_CASES

pytestmark = pytest.mark.slow

KSERVE_VENV = REPO / "reports" / "venvs" / "kserve"
KSERVE = "kserve==0.21.0"
INPUT_NAMES = {TABULAR: "rows", DIGITS: "images"}


def batch_for(name: str, count: int = 9) -> np.ndarray:
    return rows(count, seed=11) if name == TABULAR else images(count)


def expected_answer(server: ServerProcess, name: str, batch: np.ndarray) -> dict[str, Any]:
    """What the JSON API answers for the same inputs."""
    route, field = (SPECS[name].route, "rows" if name == TABULAR else "images")
    response = httpx.post(server.url + route, json={field: batch.tolist()}, timeout=30)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture(scope="module")
def tc() -> Any:
    """tritonclient.http: a dev dependency; without it only its tests are skipped (and say why)."""
    return pytest.importorskip(
        "tritonclient.http", reason='install the dev tools: pip install "tritonclient[http]"'
    )


@pytest.fixture(scope="module")
def triton(tc: Any, server: ServerProcess) -> Any:
    return tc.InferenceServerClient(url=server.url.removeprefix("http://"))


def test_tritonclient_health_and_metadata(triton: Any, server: ServerProcess) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    metadata = triton.get_server_metadata()
    assert metadata["name"] == "bento-serving"
    assert "binary_tensor_data" in metadata["extensions"]
    tags = {model["name"]: model["tag"] for model in httpx.get(server.url + "/models").json()}
    for name in SPECS:
        version = tags[name].split(":", 1)[1]
        assert triton.is_model_ready(name)
        assert triton.is_model_ready(name, model_version=version)
        assert not triton.is_model_ready(name, model_version="0nope")
        for model_metadata in (
            triton.get_model_metadata(name),
            triton.get_model_metadata(name, model_version=version),
        ):
            assert model_metadata["versions"] == [version]
            assert model_metadata["inputs"][0]["name"] == INPUT_NAMES[name]
            assert [output["name"] for output in model_metadata["outputs"]] == ["probabilities", "labels"]


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_infer_equals_the_json_api(
    tc: Any, triton: Any, server: ServerProcess, name: str, binary: bool
) -> None:
    """JSON: inputs and requested outputs as JSON. Binary: inputs as bytes and no outputs named, so
    tritonclient asks for binary_data_output and every output must come back binary."""
    batch = batch_for(name)
    expected = expected_answer(server, name, batch)
    tensor_input = tc.InferInput(INPUT_NAMES[name], list(batch.shape), "FP32")
    tensor_input.set_data_from_numpy(batch, binary_data=binary)
    outputs = None
    if not binary:
        outputs = [tc.InferRequestedOutput(n, binary_data=False) for n in ("probabilities", "labels")]
    result = triton.infer(name, [tensor_input], outputs=outputs, request_id=f"triton-{binary}")
    response = result.get_response()
    assert response["id"] == f"triton-{binary}"
    assert f"{response['model_name']}:{response['model_version']}" == expected["model"]
    for output in response["outputs"]:
        came_back_binary = "binary_data_size" in output.get("parameters", {})
        assert came_back_binary == binary, output
        assert ("data" in output) != binary
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected["probabilities"], atol=1e-5)
    assert result.as_numpy("labels").tolist() == expected["labels"]


def test_tritonclient_infer_at_a_version_and_with_a_channel_dimension(
    tc: Any, triton: Any, server: ServerProcess
) -> None:
    batch = images(5)
    expected = expected_answer(server, DIGITS, batch)
    version = expected["model"].split(":", 1)[1]
    tensor_input = tc.InferInput("images", [5, 1, 8, 8], "FP32")
    tensor_input.set_data_from_numpy(batch.reshape(5, 1, 8, 8))
    result = triton.infer(DIGITS, [tensor_input], model_version=version)
    assert result.get_response()["model_version"] == version
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected["probabilities"], atol=1e-5)


def test_tritonclient_sees_the_errors(tc: Any, triton: Any) -> None:
    good = tc.InferInput("rows", [1, 10], "FP32")
    good.set_data_from_numpy(rows(1))
    with pytest.raises(tc.InferenceServerException) as unknown:
        triton.infer("nope", [good])
    assert unknown.value.status() == "404"
    assert "tabular-classifier" in unknown.value.message()  # says what is served
    with pytest.raises(tc.InferenceServerException) as stale:
        triton.infer(TABULAR, [good], model_version="0nope")
    assert stale.value.status() == "404"
    wrong = tc.InferInput("rows", [1, 9], "FP32")
    wrong.set_data_from_numpy(rows(1)[:, :9])
    with pytest.raises(tc.InferenceServerException) as shape:
        triton.infer(TABULAR, [wrong])
    assert shape.value.status() == "400"
    assert "[N, 10]" in shape.value.message()
    named = tc.InferInput("INPUT0", [1, 10], "FP32")
    named.set_data_from_numpy(rows(1))
    with pytest.raises(tc.InferenceServerException, match='takes "rows"'):
        triton.infer(TABULAR, [named])


# ---- KServe's client, from its own venv ----

KSERVE_SCRIPT = r"""
import asyncio, json, sys

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(url, cases):
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    got = {"live": await client.is_server_live(url), "ready": await client.is_server_ready(url), "answers": []}
    for name, input_name, values in cases:
        got.setdefault("model_ready", {})[name] = await client.is_model_ready(url, name)
        array = np.array(values, dtype=np.float32)
        for binary in (False, True):
            tensor = InferInput(input_name, list(array.shape), "FP32")
            tensor.set_data_from_numpy(array, binary_data=binary)
            parameters = {"binary_data_output": True} if binary else None
            request = InferRequest(name, [tensor], request_id=f"kserve-{binary}", parameters=parameters)
            headers = {}
            response = await client.infer(url, request, model_name=name, response_headers=headers)
            got["answers"].append({
                "model": name, "binary": binary, "id": response.id, "model_name": response.model_name,
                "header_length": headers.get("inference-header-content-length"),
                "outputs": {output.name: output.as_numpy().tolist() for output in response.outputs},
            })
    try:
        await client.infer(url, request, model_name="nope")
    except httpx.HTTPStatusError as error:
        got["error"] = str(error)
    await client.close()
    print(json.dumps(got))


asyncio.run(main(sys.argv[1], json.loads(sys.stdin.read())))
"""


def kserve_python() -> Path:
    """reports/venvs/kserve with KSERVE installed (built on first use, a minute or two)."""
    python = KSERVE_VENV / "bin" / "python"
    stamp = KSERVE_VENV / ".installed"
    if not (stamp.exists() and stamp.read_text() == KSERVE):
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(KSERVE_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", KSERVE]
        subprocess.run(pip, check=True, timeout=900)
        stamp.write_text(KSERVE)
    return python


def test_kserve_client_protocol_v2(server: ServerProcess) -> None:
    cases = [(name, INPUT_NAMES[name], batch_for(name, 4).tolist()) for name in SPECS]
    done = subprocess.run(
        [str(kserve_python()), "-c", KSERVE_SCRIPT, server.url],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=120,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
        cwd=KSERVE_VENV,  # not the repository: its packages must not shadow the venv's
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout)
    assert got["live"] is True
    assert got["ready"] is True
    assert got["model_ready"] == dict.fromkeys(SPECS, True)
    for answer in got["answers"]:
        expected = expected_answer(server, answer["model"], batch_for(answer["model"], 4))
        assert (answer["id"], answer["model_name"]) == (f"kserve-{answer['binary']}", answer["model"])
        assert (answer["header_length"] is not None) == answer["binary"]  # binary answers came back binary
        np.testing.assert_allclose(answer["outputs"]["probabilities"], expected["probabilities"], atol=1e-5)
        assert answer["outputs"]["labels"] == expected["labels"]
    assert "404" in got["error"]
    assert "there is no model 'nope'" in got["error"]  # KServe shows the protocol's error message


# ---- malformed requests against the real server ----

# The in-process cases, less those that are malformed only under the in-process app's smaller row limit.
MALFORMED_JSON = [case for case in JSON_CASES if case[3] != "too_many_rows"]
MALFORMED_BINARY = [case for case in BINARY_CASES if case[2] != "too_many_rows"]


def test_server_stays_ready_after_every_malformed_request(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for what, path, content, _code in MALFORMED_JSON:
            answer = client.post(path, content=content, headers={"content-type": "application/json"})
            assert 400 <= answer.status_code < 500, (what, answer.status_code)
            assert client.get("/v2/health/ready").status_code == 200, what
        for what, (path, content, headers), _code in MALFORMED_BINARY:
            answer = client.post(path, content=content, headers=headers)
            assert 400 <= answer.status_code < 500, (what, answer.status_code)
            assert client.get("/v2/health/ready").status_code == 200, what
    assert server.launch.log is not None
    assert "Traceback" not in server.launch.log.read_text(errors="replace")


def test_bad_requests_among_concurrent_good_ones_harm_none(server: ServerProcess) -> None:
    """64 good V2 requests (JSON and binary, both models) at once with 64 malformed ones: every good
    one answers exactly what it would alone, every bad one a 4xx."""
    goods: list[tuple[str, bytes, dict[str, str], dict[str, Any]]] = []
    for index in range(64):
        name = list(SPECS)[index % len(SPECS)]
        batch = batch_for(name, 1 + index % 5)
        path = f"/v2/models/{name}/infer"
        if index % 4 < 2:
            content, headers = json.dumps({"inputs": [tensor(batch, name=INPUT_NAMES[name])]}).encode(), {}
        else:
            described, raw = binary_tensor(batch, "FP32", INPUT_NAMES[name])
            content, headers = binary_body(
                {"inputs": [described], "parameters": {"binary_data_output": True}}, raw
            )
        goods.append((path, content, headers, expected_answer(server, name, batch)))
    bads = [(path, content, {"content-type": "application/json"}) for _, path, content, _ in MALFORMED_JSON]
    bads += [case[1] for case in MALFORMED_BINARY]
    good_answers, bad_answers = asyncio.run(_post_all(server.url, [g[:3] for g in goods], bads[:64]))
    for (_, _, _, expected), response in zip(goods, good_answers, strict=True):
        assert response.status_code == 200, response.text
        found = outputs_of(response)
        np.testing.assert_allclose(found["probabilities"][0], expected["probabilities"], atol=1e-5)
        assert found["labels"][0].tolist() == expected["labels"]
    assert all(400 <= response.status_code < 500 for response in bad_answers)
    assert httpx.get(server.url + "/v2/health/ready").json() == {"ready": True}


async def _post_all(
    url: str, goods: list[tuple[str, bytes, dict[str, Any]]], bads: list[tuple[str, bytes, dict[str, Any]]]
) -> tuple[list[httpx.Response], list[httpx.Response]]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        interleaved = [item for pair in zip(goods, bads, strict=False) for item in pair]
        answers = await asyncio.gather(*(client.post(p, content=c, headers=h) for p, c, h in interleaved))
    return list(answers[0::2]), list(answers[1::2])
