"""Helpers for tests that run the project's commands in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
