"""Helpers for tests that run the project's commands in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from load.server import REPO as REPO  # re-exported: tests import it from here


def run_python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` from the repo root with this interpreter, capturing text output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bentoml_model_info(ref: str, home: Path | None = None) -> dict[str, Any]:
    """What `bentoml models get REF -o json` shows a user."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "bentoml"), "models", "get", ref, "-o", "json"],
        env={**os.environ, "BENTOML_HOME": str(home or os.environ["BENTOML_HOME"])},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info: dict[str, Any] = json.loads(done.stdout)
    return info


def in_process_client(settings: Any) -> Iterator[Any]:
    """A Starlette TestClient around the service built for ``settings`` (a ServingSettings), in this
    process: yields it while its lifespan runs (models loaded and warmed up)."""
    from starlette.testclient import TestClient

    from service.service import build_service

    _forget_bentoml_http_metrics()
    with TestClient(build_service(settings).to_asgi(), raise_server_exceptions=False) as client:
        yield client


def _forget_bentoml_http_metrics() -> None:
    """BentoML registers its HTTP metrics in prometheus_client's global registry when an app starts, so
    a second in-process app in one pytest process fails to start on the duplicate names. In
    multiprocess mode the samples live in files, so dropping the registrations loses nothing."""
    from prometheus_client import REGISTRY

    names = REGISTRY._names_to_collectors  # no public listing of what is registered
    for collector in {collector for name, collector in names.items() if name.startswith("bentoml_")}:
        REGISTRY.unregister(collector)


BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    """Debian's headless Chromium (or $CHROMIUM) for the browser tests; a clear failure without it."""
    import pytest

    found = os.environ.get("CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found:
        pytest.fail("no Chromium: `make browser` (apt-get install chromium), or set CHROMIUM")
    return found
