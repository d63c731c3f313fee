"""Shared fixtures. Every test that touches the model store uses a temporary one.

BentoML reads BENTOML_HOME once, when it is first imported, so the temporary store is chosen here,
before any test module can import bentoml; subprocesses inherit it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

TEST_STORE = Path(tempfile.mkdtemp(prefix="bentoml-test-store-"))
os.environ["BENTOML_HOME"] = str(TEST_STORE)
os.environ["BENTOML_DO_NOT_TRACK"] = "True"
# In-process apps write their metrics here (prometheus_client reads it when first imported).
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prometheus-test-")

from tests.helpers import run_python  # noqa: E402


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both models trained with the default settings (seconds) into the session's temporary store,
    in a subprocess, so that serving tests see real accuracy."""
    reports = tmp_path_factory.mktemp("reports")
    done = run_python("-m", "training", "all", "--reports-dir", str(reports))
    assert done.returncode == 0, done.stderr[-3000:]
    return TEST_STORE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(TEST_STORE, ignore_errors=True)
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
