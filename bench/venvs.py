"""Virtual environments for the peer servers that bring their own web stacks.

LitServe and TorchServe bring their own pinned dependencies (and Java), which must not change the
project's venv, so each peer runs from its own under ``reports/venvs/`` (git-ignored), built here on
first use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from load.server import REPO

VENVS = REPO / "reports" / "venvs"
# The CPU wheel on these machines; a looser pin pulls a multi-GB CUDA build.
TORCH = "torch==2.13.0"
# pillow: the peers decode uploaded pictures (bench/variants/store_files.py).
MODEL_PACKAGES = [TORCH, "numpy", "safetensors", "pillow"]
# python-multipart: LitServe parses multipart uploads with Starlette's request.form(), which needs it
# (LitServe does not depend on it).
LITSERVE_PACKAGES = [*MODEL_PACKAGES, "litserve==0.2.19", "python-multipart"]
# pyyaml: TorchServe's Python worker imports yaml, but torchserve 0.12.0 does not declare it (its own
# install script adds it); without it every worker dies at start while /ping still says "Healthy".
TORCHSERVE_PACKAGES = [*MODEL_PACKAGES, "torchserve==0.12.0", "torch-model-archiver==0.12.0", "pyyaml"]
_STAMP = ".installed.json"


def ensure_venv(name: str, packages: list[str]) -> Path:
    """The virtual environment ``reports/venvs/<name>`` with ``packages`` installed; instant when its
    stamp file says the same packages are already there."""
    torch_pins = [package for package in packages if package.split("=")[0].strip().lower() == "torch"]
    if torch_pins and torch_pins != [TORCH]:
        raise ValueError(f"pin torch as {TORCH!r}, got {torch_pins}: a looser pin pulls a CUDA build")
    venv = VENVS / name
    stamp = venv / _STAMP
    wanted = sorted(packages)
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return venv
    python = venv / "bin" / "python"
    if not python.exists():
        # python3 -m venv with the interpreter running this (from a venv: its base interpreter), so the
        # peer runs the same Python as the project.
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        check=True,
    )
    stamp.write_text(json.dumps(wanted))
    return venv
