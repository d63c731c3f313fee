"""`bentoml build` from bentofile.yaml, checked without a Docker engine.

The bento is built into the session's temporary BENTOML_HOME (set by conftest, inherited by the
subprocesses) after both models were trained there; its Dockerfile, requirements and files are read back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.helpers import REPO

BENTOML = str(Path(sys.executable).parent / "bentoml")
MODEL_NAMES = ("tabular-classifier", "digits-cnn")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# The HTTP stack the service is measured with (docs/performance.md): uvicorn uses it when installed.
HTTP_STACK = ("uvloop==0.23.0", "httptools==0.9.0")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class BuiltBento:
    tag: str  # "name:version"
    path: Path  # $BENTOML_HOME/bentos/<name>/<version>
    home: Path  # the BENTOML_HOME it was built into


def bentoml_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the venv's `bentoml` CLI from the repo root with the test store's environment."""
    done = subprocess.run(
        [BENTOML, *args],
        cwd=REPO,
        env={**os.environ, "BENTOML_DO_NOT_TRACK": "True"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"bentoml {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.fixture(scope="module")
def bento(trained_store: Path) -> BuiltBento:
    done = bentoml_cli("build", "-f", "bentofile.yaml", "--output", "tag")
    found = re.search(r"__tag__:(\S+):(\S+)", done.stdout)
    assert found, f"no tag in `bentoml build` output:\n{done.stdout[-2000:]}"
    name, version = found.groups()
    path = trained_store / "bentos" / name / version
    assert (path / "bento.yaml").is_file(), f"bento not found at {path}"
    return BuiltBento(f"{name}:{version}", path, trained_store)


@pytest.fixture(scope="module")
def dockerfile(bento: BuiltBento) -> DockerfileParser:
    return DockerfileParser(path=str(bento.path / "env" / "docker" / "Dockerfile"))


def instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [item["value"] for item in parser.structure if item["instruction"] == name]


def test_dockerfile_runs_as_non_root(dockerfile: DockerfileParser) -> None:
    users = instructions(dockerfile, "USER")
    assert users, "the Dockerfile never switches user, so the container would run as root"
    final_user = users[-1].split(":")[0].strip()
    assert final_user not in {"root", "0"}
    assert final_user == "bentoml"
    # USER comes after every RUN, so nothing the image runs at start is root's.
    kinds = [item["instruction"] for item in dockerfile.structure]
    last_user = max(i for i, kind in enumerate(kinds) if kind == "USER")
    assert "RUN" not in kinds[last_user:]


def test_dockerfile_exposes_port_3000_and_starts_bentoml(dockerfile: DockerfileParser) -> None:
    exposed = {port for value in instructions(dockerfile, "EXPOSE") for port in value.split()}
    assert "3000" in exposed
    assert dockerfile.baseimage == "python:3.11-slim"
    entrypoint = instructions(dockerfile, "ENTRYPOINT")
    assert entrypoint
    assert "env/docker/entrypoint.sh" in entrypoint[-1]
    # No CMD: the entrypoint then runs `bentoml serve $BENTO_PATH` on port 3000. The service binds
    # 127.0.0.1 by default, so the image must say 0.0.0.0 (BENTOML_HOST is read by `bentoml serve`).
    assert not instructions(dockerfile, "CMD")
    assert dockerfile.envs.get("BENTOML_HOST") == "0.0.0.0"
    # The image installs exactly the requirements written into the bento.
    assert any(
        "pip install -r $BENTO_PATH/env/python/requirements.txt" in run
        for run in instructions(dockerfile, "RUN")
    )


def test_requirements_pin_cpu_torch(bento: BuiltBento) -> None:
    lines = (bento.path / "env" / "python" / "requirements.txt").read_text().splitlines()
    assert f"--extra-index-url {CPU_INDEX}" in lines
    for pin in (
        "torch==2.13.0",
        "bentoml==1.4.39",
        "numpy==2.4.6",
        "pillow==13.0.0",
        "python-multipart==0.0.34",
        *HTTP_STACK,
    ):
        assert pin in lines
    text = "\n".join(lines).lower()
    assert "nvidia" not in text
    assert not re.search(r"\bcu1\d", text), "a CUDA wheel is named"
    # Not locked: a lock made on this machine would pull torch's CUDA build and its nvidia-* wheels.
    assert not (bento.path / "env" / "python" / "requirements.lock.txt").exists()


def test_bento_holds_only_the_service_code(bento: BuiltBento) -> None:
    src = bento.path / "src"
    files = {path.relative_to(src).as_posix() for path in src.rglob("*") if path.is_file()}
    for needed in (
        "service/service.py",
        "service/loader.py",
        "models/__init__.py",
        "models/tabular.py",
        "service/ui/static/index.html",
    ):
        assert needed in files
    tops = {name.split("/")[0] for name in files}
    assert tops <= {"models", "service", "bentofile.yaml"}, tops
    assert not any(name.endswith(".pyc") for name in files)


def test_bento_records_the_exact_model_versions(bento: BuiltBento) -> None:
    info = yaml.safe_load((bento.path / "bento.yaml").read_text())
    tags = {entry["tag"] for entry in info["models"]}
    latest = {
        f"{name}:{(bento.home / 'models' / name / 'latest').read_text().strip()}" for name in MODEL_NAMES
    }
    assert tags == latest


def test_exported_bento_packs_both_models(bento: BuiltBento, tmp_path: Path) -> None:
    """The store keeps models out of the bento folder; export (like containerize) copies them in."""
    archive = tmp_path / "bento.tar"
    bentoml_cli("export", bento.tag, str(archive))
    with tarfile.open(archive) as tar:
        names = {name.removeprefix("./") for name in tar.getnames()}
    info = yaml.safe_load((bento.path / "bento.yaml").read_text())
    for entry in info["models"]:
        name, version = entry["tag"].split(":")
        assert f"models/{name}/{version}/weights.safetensors" in names
        assert f"models/{name}/{version}/config.json" in names
        assert f"models/{name}/latest" in names
    assert "src/service/service.py" in names


def test_the_gpu_bento_and_the_venv_get_the_same_http_stack() -> None:
    gpu = yaml.safe_load((REPO / "deploy" / "bentofile.gpu.yaml").read_text())
    assert set(HTTP_STACK) <= set(gpu["python"]["packages"])
    constraints = (REPO / "constraints.txt").read_text().splitlines()
    assert set(HTTP_STACK) <= set(constraints)
