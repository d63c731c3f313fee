"""Shared fixtures. Every test that touches the model store uses a temporary one.

BentoML reads BENTOML_HOME once, when it is first imported, so the temporary store is chosen here,
before any test module can import bentoml; subprocesses inherit it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TEST_STORE = Path(tempfile.mkdtemp(prefix="bentoml-test-store-"))
os.environ["BENTOML_HOME"] = str(TEST_STORE)
os.environ["BENTOML_DO_NOT_TRACK"] = "True"
# In-process apps write their metrics here (prometheus_client reads it when first imported).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-test-")

from load.server import ServerProcess, bentoml_serve  # noqa: E402
from tests.helpers import run_python  # noqa: E402

StartServer = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both models trained with the default settings into the session's temporary store, in a
    subprocess, so that serving tests see real accuracy (about two minutes on two cores: the digits
    CNN renders and augments its training pictures; quick mode would leave it too weak to test)."""
    reports = tmp_path_factory.mktemp("reports")
    done = run_python("-m", "training", "all", "--reports-dir", str(reports), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return TEST_STORE


@pytest.fixture
def serve(trained_store: Path, tmp_path: Path) -> Iterator[StartServer]:
    """Start real `bentoml serve`s of the service on free loopback ports, each ready when returned and
    stopped at teardown: ``serve({"SERVING_X": "1"})``. Each logs to ``tmp_path/serve-N.log``."""
    started: list[ServerProcess] = []

    def start(env: dict[str, str] | None = None, timeout: float = 90) -> ServerProcess:
        server = ServerProcess(bentoml_serve(env=env, log=tmp_path / f"serve-{len(started)}.log"))
        started.append(server)
        return server.wait_ready(timeout)

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(trained_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real `bentoml serve` (one worker) of the trained store, shared by a module's tests."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with ServerProcess(bentoml_serve(env={"SERVING_WORKERS": "1"}, log=log)) as running:
        yield running.wait_ready(90)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(TEST_STORE, ignore_errors=True)
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
