"""Read the tabular model straight from the BentoML store's files, without importing BentoML.

For the peer servers (plain Starlette, LitServe, TorchServe) that must serve the same weights as ours
but run without BentoML, some of them from their own virtual environment (torch, numpy, safetensors and
the repo's ``models/`` on ``PYTHONPATH``). The store layout: ``$BENTOML_HOME/models/<name>/latest`` names
the newest version; that version's folder holds ``config.json`` and ``weights.safetensors``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from models import CONFIG_FILE, TABULAR, WEIGHTS_FILE, TabularClassifier, TabularConfig, config_from_dict


def bentoml_home() -> Path:
    """``$BENTOML_HOME``, or BentoML's default ``~/bentoml``."""
    return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")


def latest_folder(name: str = TABULAR, home: Path | None = None) -> tuple[str, Path]:
    """The exact tag (``name:version``) of the newest stored version of ``name``, and its folder."""
    models = (home or bentoml_home()) / "models" / name
    version = (models / "latest").read_text().strip()
    return f"{name}:{version}", models / version


def build_tabular(folder: Path) -> TabularClassifier:
    """A TabularClassifier from a folder holding ``config.json`` and ``weights.safetensors``, in eval mode."""
    config = config_from_dict(TabularConfig, json.loads((folder / CONFIG_FILE).read_text()))
    assert isinstance(config, TabularConfig)
    module = TabularClassifier(config)
    module.load_state_dict(load_file(folder / WEIGHTS_FILE), strict=True)
    module.eval().requires_grad_(False)
    return module


def load_tabular(home: Path | None = None) -> tuple[str, TabularClassifier]:
    """The newest stored tabular model: its exact tag and the module, ready for inference on the CPU."""
    tag, folder = latest_folder(TABULAR, home)
    return tag, build_tabular(folder)


def predict(module: TabularClassifier, rows: object) -> np.ndarray:
    """``rows`` (a list of 10-number lists) -> probabilities of class 1, float32 of shape (N,)."""
    features = np.asarray(rows, dtype=np.float32)
    with torch.inference_mode():
        probabilities: np.ndarray = module.predict_proba(torch.from_numpy(features)).numpy()
    return probabilities


def answer(tag: str, probabilities: np.ndarray) -> dict[str, object]:
    """The /classify answer, as our service gives it (labels: probability >= 0.5)."""
    return {
        "model": tag,
        "probabilities": probabilities.tolist(),
        "labels": (probabilities >= 0.5).astype(np.int64).tolist(),
    }
