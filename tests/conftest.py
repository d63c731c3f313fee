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

from tests.helpers import run_python  # noqa: E402


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both models trained with --quick into the session's temporary store, in a subprocess."""
    reports = tmp_path_factory.mktemp("reports")
    done = run_python("-m", "training", "all", "--quick", "--reports-dir", str(reports))
    assert done.returncode == 0, done.stderr[-3000:]
    return TEST_STORE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(TEST_STORE, ignore_errors=True)
