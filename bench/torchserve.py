"""TorchServe as a peer: its model archives, its config, and the command lines that start and stop it.

TorchServe serves one model per archive: one packs the newest stored tabular model with
``bench/variants/torchserve_handler.py``, the other the newest digits CNN with
``bench/variants/torchserve_digits_handler.py``; their names and versions are the store's, so answers
name the same ``<model>:<version>`` as ours.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.venvs import TORCHSERVE_PACKAGES, VENVS, ensure_venv
from load.server import REPO, free_port

TORCHSERVE_HOME = REPO / "reports" / "torchserve"
MODEL_NAME = "tabular-classifier"
DIGITS_MODEL_NAME = "digits-cnn"
VARIANTS = REPO / "bench" / "variants"
HANDLERS = {  # model name -> its handler
    MODEL_NAME: VARIANTS / "torchserve_handler.py",
    DIGITS_MODEL_NAME: VARIANTS / "torchserve_digits_handler.py",
}


def _store_latest(name: str) -> tuple[str, Path]:
    """The newest version of model ``name`` in $BENTOML_HOME, and its folder (no torch import here)."""
    home = Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")
    models = home / "models" / name
    version = (models / "latest").read_text().strip()
    return version, models / version


def torchserve_archive(venv: Path) -> Path:
    """Pack the newest stored version of each model with its handler into
    ``reports/torchserve/model-store/`` (one archive per model) and return the model store."""
    store = TORCHSERVE_HOME / "model-store"
    store.mkdir(parents=True, exist_ok=True)
    for name, handler in HANDLERS.items():
        version, folder = _store_latest(name)
        argv = [
            str(venv / "bin" / "torch-model-archiver"),
            *("--model-name", name, "--version", version),
            *("--serialized-file", str(folder / "weights.safetensors")),
            *("--extra-files", str(folder / "config.json")),
            *("--handler", str(handler)),
            *("--export-path", str(store), "--force"),
        ]
        subprocess.run(argv, check=True)
    return store


def torchserve_config(port: int) -> Path:
    """config.properties: TorchServe's defaults, except every listener on 127.0.0.1 with the inference
    API on ``port`` and the others on free ports (so servers side by side do not collide), and token
    authorization off (on by default since 0.11: every call would need a key from key_file.json)."""
    home = TORCHSERVE_HOME / str(port)
    home.mkdir(parents=True, exist_ok=True)
    settings = {
        "inference_address": f"http://127.0.0.1:{port}",
        "management_address": f"http://127.0.0.1:{free_port()}",
        "metrics_address": f"http://127.0.0.1:{free_port()}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_inference_port": str(free_port()),
        "grpc_management_address": "127.0.0.1",
        "grpc_management_port": str(free_port()),
        "disable_token_authorization": "true",
    }
    path = home / "config.properties"
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


def torchserve_home(port: int) -> Path:
    """Where the server on ``port`` runs and writes its logs."""
    return TORCHSERVE_HOME / str(port)


def torchserve_env(port: int) -> dict[str, str]:
    """What TorchServe's start and stop commands add to the environment."""
    # The torchserve CLI keeps its pid file in the temp folder (TMPDIR) and the Java server its workers'
    # Unix sockets (TEMP, as java.io.tmpdir), named by worker number only: one folder per port lets
    # servers run side by side, and `torchserve --stop` find the right one. The Java server passes
    # PYTHONPATH on to its Python workers, which import the handler's helpers from the repo.
    tmp = torchserve_home(port) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {"PYTHONPATH": str(REPO), "TMPDIR": str(tmp), "TEMP": str(tmp)}


def torchserve_command(port: int) -> list[str]:
    """TorchServe in the foreground (run it in ``torchserve_home(port)`` with ``torchserve_env(port)``);
    builds its venv, archive and config first."""
    venv = ensure_venv("torchserve", TORCHSERVE_PACKAGES)
    store = torchserve_archive(venv)
    config = torchserve_config(port)
    return [
        str(venv / "bin" / "torchserve"),
        *("--start", "--foreground", "--ts-config", str(config), "--model-store", str(store)),
        "--models",
        *(f"{name}={name}.mar" for name in HANDLERS),
    ]


def torchserve_stop_command() -> list[str]:
    """TorchServe's documented stop (same folder and environment as its start)."""
    return [str(VENVS / "torchserve" / "bin" / "torchserve"), "--stop", "--foreground"]
