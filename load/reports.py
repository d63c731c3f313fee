"""Where a run's reports go and what every result file records about its run."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path

from load.server import REPO


def run_meta(**extra: object) -> dict[str, object]:
    """What a result file records about its run: date, commit, machine, and ``extra``."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": commit.stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        **extra,
    }


def new_run_dir(root: Path, suffix: str = "") -> Path:
    """``root/<YYYYmmdd-HHMMSS><suffix>``, made fresh (a counter is added if that second is taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + suffix
    for attempt in range(100):
        path = root / (stamp if attempt == 0 else f"{stamp}.{attempt}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot make a fresh folder under {root}")
