"""Model versions (issue 16, step 1): the version policy per model, its resolution against a real store,
and a real `bentoml serve` that serves two versions of a model on both APIs.

The store with two versions of each model is a temporary one of this module's own (BENTOML_HOME), never
the session's: other tests rely on the session store's latest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from load.server import ServerProcess, bentoml_cli, bentoml_serve, free_port
from service.versions import MAX_VERSIONS, VersionPolicy, VersionPolicyError, parse_policy
from tests.helpers import REPO, run_python

TABULAR = "tabular-classifier"
DIGITS = "digits-cnn"
ROW = [0.1 * i for i in range(10)]
VARIABLE = "SERVING_TABULAR_VERSION_POLICY"


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("latest", VersionPolicy()),
        (" latest ", VersionPolicy()),
        ("", VersionPolicy()),  # unset in a compose file (${VAR:-}): the default
        ("latest:1", VersionPolicy(newest=1)),
        ("latest:2", VersionPolicy(newest=2)),
        (f"latest:{MAX_VERSIONS}", VersionPolicy(newest=MAX_VERSIONS)),
        ("specific:abc", VersionPolicy(newest=0, versions=("abc",))),
        ("specific:b2, a1,b2", VersionPolicy(newest=0, versions=("b2", "a1"))),
    ],
)
def test_policies_parse(text: str, policy: VersionPolicy) -> None:
    assert parse_policy(text, VARIABLE) == policy


@pytest.mark.parametrize(
    "text",
    [
        "newest",
        "latest:",
        "latest:0",
        "latest:-1",
        "latest:x",
        f"latest:{MAX_VERSIONS + 1}",
        "latest:2:3",
        "specific:",
        "specific:a,,b",
        "specific:A",
        "specific:../x",
        "specific:" + ",".join(f"v{i}" for i in range(MAX_VERSIONS + 1)),
        "all",
        "x" * 500,
    ],
)
def test_bad_policies_are_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(VersionPolicyError) as refused:
        parse_policy(text, VARIABLE)
    message = str(refused.value)
    assert message.startswith(f"{VARIABLE}=")
    assert "latest:N" in message
    assert "specific:" in message
    assert "\n" not in message
    assert len(message) < 300


@pytest.fixture(scope="module")
def versions_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of this module's own holding two versions of each model (quick training, twice)."""
    store = tmp_path_factory.mktemp("versions-store")
    for _ in range(2):
        done = run_python(
            "-m",
            "training",
            "all",
            "--quick",
            "--no-plots",
            "--reports-dir",
            str(store / "reports"),
            env={"BENTOML_HOME": str(store)},
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return store


def stored(store: Path, name: str) -> list[str]:
    """The versions of ``name`` in ``store``, newest (the store's ``latest``) first."""
    folder = store / "models" / name
    newest = (folder / "latest").read_text().strip()
    others = sorted(path.name for path in folder.iterdir() if path.is_dir() and path.name != newest)
    return [newest, *others]


RESOLVE = """
import json, sys
from service.versions import resolve
try:
    served = resolve(sys.argv[1], use_pins=False)
    print(json.dumps({"versions": list(served.versions), "default": served.default}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
"""


def without_serving_variables() -> dict[str, str]:
    """This process's environment without any SERVING_* variable (so only a test's own ones apply)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("SERVING_")}


def resolved(store: Path, env: dict[str, str], name: str = TABULAR) -> dict[str, Any]:
    """service.versions.resolve(name) in a subprocess on ``store`` (BentoML reads BENTOML_HOME once)."""
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE, name],
        cwd=REPO,
        env={**without_serving_variables(), **env, "BENTOML_HOME": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.slow
def test_policies_resolve_against_a_real_store(versions_store: Path) -> None:
    newer, older = stored(versions_store, TABULAR)
    assert resolved(versions_store, {}) == {"versions": [newer], "default": newer}
    assert resolved(versions_store, {VARIABLE: "latest:2"}) == {"versions": [newer, older], "default": newer}
    # Fewer versions than N in the store: those there are.
    assert resolved(versions_store, {VARIABLE: "latest:5"}) == {"versions": [newer, older], "default": newer}
    assert resolved(versions_store, {VARIABLE: f"specific:{older}"}) == {
        "versions": [older],
        "default": older,
    }
    both = resolved(versions_store, {VARIABLE: f"specific:{older},{newer}"})
    assert both == {"versions": [newer, older], "default": newer}  # newest first, whatever the order given
    # SERVING_<KEY>_MODEL=name:version: alone, that version as before; with a policy, the default.
    pinned = {"SERVING_TABULAR_MODEL": f"{TABULAR}:{older}"}
    assert resolved(versions_store, pinned) == {"versions": [older], "default": older}
    assert resolved(versions_store, {**pinned, VARIABLE: "latest:2"}) == {
        "versions": [newer, older],
        "default": older,
    }
    # The other model keeps its own policy.
    assert (
        resolved(versions_store, {VARIABLE: "latest:2"}, DIGITS)["versions"]
        == stored(versions_store, DIGITS)[:1]
    )


@pytest.mark.slow
def test_contradictions_and_missing_versions_are_refused(versions_store: Path) -> None:
    newer, older = stored(versions_store, TABULAR)
    contradiction = resolved(
        versions_store, {"SERVING_TABULAR_MODEL": f"{TABULAR}:{older}", VARIABLE: f"specific:{newer}"}
    )
    assert contradiction["error"] == "VersionPolicyError"
    assert "SERVING_TABULAR_MODEL" in contradiction["message"]
    assert VARIABLE in contradiction["message"]
    missing = resolved(versions_store, {VARIABLE: "specific:0nope"})
    assert missing["error"] == "VersionPolicyError"
    assert f"{TABULAR}:0nope" in missing["message"]
    assert "not in the BentoML model store" in missing["message"]
    bad = resolved(versions_store, {VARIABLE: "newest:2"})
    assert bad["error"] == "VersionPolicyError"
    assert bad["message"].startswith(f"{VARIABLE}='newest:2'")


@pytest.fixture(scope="module")
def two_versions(versions_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real `bentoml serve` of the two-version store with the tabular policy latest:2."""
    log = tmp_path_factory.mktemp("serve-versions") / "serve.log"
    env = {"BENTOML_HOME": str(versions_store), "SERVING_WORKERS": "1", VARIABLE: "latest:2"}
    with ServerProcess(bentoml_serve(env=env, log=log)) as running:
        yield running.wait_ready(120)


@pytest.mark.slow
def test_latest_2_serves_both_versions_on_both_apis(
    two_versions: ServerProcess, versions_store: Path
) -> None:
    newer, older = stored(versions_store, TABULAR)
    url = two_versions.url
    listing = {model["name"]: model for model in httpx.get(f"{url}/models", timeout=10).json()}
    tabular = listing[TABULAR]
    assert tabular["tag"] == f"{TABULAR}:{newer}"  # the entry describes the default version
    assert [(v["version"], v["tag"], v["default"]) for v in tabular["served_versions"]] == [
        (newer, f"{TABULAR}:{newer}", True),
        (older, f"{TABULAR}:{older}", False),
    ]
    assert [v["version"] for v in listing[DIGITS]["served_versions"]] == stored(versions_store, DIGITS)[:1]

    plain = httpx.post(f"{url}/classify", json={"rows": [ROW]}, timeout=10)
    assert plain.status_code == 200
    assert plain.json()["model"] == f"{TABULAR}:{newer}"
    for version in (newer, older):
        chosen = httpx.post(f"{url}/classify", params={"version": version}, json={"rows": [ROW]}, timeout=10)
        assert chosen.status_code == 200
        assert chosen.json()["model"] == f"{TABULAR}:{version}"
        body = {"inputs": [{"name": "rows", "shape": [1, 10], "datatype": "FP32", "data": ROW}]}
        v2 = httpx.post(f"{url}/v2/models/{TABULAR}/versions/{version}/infer", json=body, timeout=10)
        assert v2.status_code == 200
        assert v2.json()["model_version"] == version
        assert v2.json()["outputs"][0]["data"] == pytest.approx(chosen.json()["probabilities"], abs=1e-5)
        ready = httpx.get(f"{url}/v2/models/{TABULAR}/versions/{version}/ready", timeout=10)
        assert ready.status_code == 200
    metadata = httpx.get(f"{url}/v2/models/{TABULAR}", timeout=10).json()
    assert metadata["versions"] == [newer, older]
    default_v2 = httpx.post(
        f"{url}/v2/models/{TABULAR}/infer",
        json={"inputs": [{"name": "rows", "shape": [1, 10], "datatype": "FP32", "data": ROW}]},
        timeout=10,
    )
    assert default_v2.json()["model_version"] == newer


@pytest.mark.slow
def test_an_unknown_version_is_a_404_on_both_apis(two_versions: ServerProcess) -> None:
    url = two_versions.url
    for params in ({"version": "0nope"}, {"version": ""}, {"version": "x" * 5000}):
        answer = httpx.post(f"{url}/classify", params=params, json={"rows": [ROW]}, timeout=10)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"
        assert len(answer.json()["detail"]) < 300
    upload = httpx.post(f"{url}/digits/image", params={"version": "0nope"}, files={"image": b"x"}, timeout=10)
    assert upload.status_code == 404
    for path in ("/infer", "", "/ready"):
        full = f"{url}/v2/models/{TABULAR}/versions/0nope{path}"
        answer = httpx.post(full, json={}, timeout=10) if path == "/infer" else httpx.get(full, timeout=10)
        assert answer.status_code == 404
        assert answer.json()["code"] == "not_found"
        assert "0nope" in answer.json()["error"]


@pytest.mark.slow
def test_tritonclient_reaches_each_version(two_versions: ServerProcess, versions_store: Path) -> None:
    tc = pytest.importorskip("tritonclient.http")
    import numpy as np

    client = tc.InferenceServerClient(url=two_versions.url.removeprefix("http://"))
    rows = np.asarray([ROW], dtype=np.float32)
    for version in stored(versions_store, TABULAR):
        assert client.is_model_ready(TABULAR, model_version=version)
        assert client.get_model_metadata(TABULAR, model_version=version)["versions"] == stored(
            versions_store, TABULAR
        )
        tensor = tc.InferInput("rows", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows, binary_data=True)
        result = client.infer(TABULAR, [tensor], model_version=version)
        assert result.get_response()["model_version"] == version


def refused_start(store: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [bentoml_cli(), "serve", "service.service:ModelService", "--port", str(free_port())],
        cwd=REPO,
        env={**without_serving_variables(), "BENTOML_HOME": str(store), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_bad_policy_stops_the_server_with_the_reason(versions_store: Path) -> None:
    done = refused_start(versions_store, {"SERVING_DIGITS_VERSION_POLICY": "newest:2"})
    assert done.returncode != 0
    assert (
        "refusing to start: SERVING_DIGITS_VERSION_POLICY='newest:2' is not a version policy" in done.stderr
    )


@pytest.mark.slow
def test_a_missing_specific_version_stops_the_server(versions_store: Path) -> None:
    done = refused_start(versions_store, {VARIABLE: "specific:0nope"})
    assert done.returncode != 0
    assert "refusing to start" in done.stderr
    assert f"{TABULAR}:0nope" in done.stderr


@pytest.fixture(scope="module")
def client(trained_store: Path) -> Iterator[Any]:
    """The service in-process on the session's store (one version of each model, the default policy)."""
    from service.settings import ServingSettings
    from tests.helpers import in_process_client

    yield from in_process_client(ServingSettings())


def test_the_default_policy_serves_one_version_reachable_by_name(client: Any) -> None:
    listing = {model["name"]: model for model in client.get("/models").json()}
    for name, model in listing.items():
        assert model["served_versions"] == [
            {
                "version": model["version"],
                "tag": model["tag"],
                "created": model["created"],
                "metrics": model["metrics"],
                "default": True,
            }
        ], name
    version = listing[TABULAR]["version"]
    chosen = client.post(f"/classify?version={version}", json={"rows": [ROW]})
    assert chosen.status_code == 200
    assert chosen.json()["model"] == listing[TABULAR]["tag"]
    unknown = client.post("/digits?version=0nope", json={"images": [[[0] * 8] * 8]})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "not_found"
    assert "0nope" in unknown.json()["detail"]
    assert listing[DIGITS]["version"] in unknown.json()["detail"]  # it says what is served


def test_the_version_parameter_is_documented(client: Any) -> None:
    paths = client.get("/docs.json").json()["paths"]
    for path in ("/classify", "/digits", "/digits/image"):
        parameters = {parameter["name"]: parameter for parameter in paths[path]["post"].get("parameters", [])}
        assert parameters["version"]["in"] == "query"
        assert parameters["version"]["required"] is False
        assert "404" in paths[path]["post"]["responses"]
