"""Read the models straight from the BentoML store's files, without importing BentoML, and the little
that every peer does around them (the same for each, so that they differ only in how they serve).

For the peer servers (plain Starlette, LitServe, TorchServe) that must serve the same weights as ours
but run without BentoML, some of them from their own virtual environment (torch, numpy, safetensors and
the repo's ``models/`` on ``PYTHONPATH``; Pillow for uploads). The store layout: ``$BENTOML_HOME/models/<name>/latest`` names
the newest version; that version's folder holds ``config.json`` and ``weights.safetensors``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from models import (
    CONFIG_FILE,
    DIGITS,
    TABULAR,
    WEIGHTS_FILE,
    DigitsCNN,
    DigitsConfig,
    TabularClassifier,
    TabularConfig,
    config_from_dict,
)
from models.preprocess import to_digit_grid


def bentoml_home() -> Path:
    """``$BENTOML_HOME``, or BentoML's default ``~/bentoml``."""
    return Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")


def latest_folder(name: str = TABULAR, home: Path | None = None) -> tuple[str, Path]:
    """The exact tag (``name:version``) of the newest stored version of ``name``, and its folder."""
    models = (home or bentoml_home()) / "models" / name
    version = (models / "latest").read_text().strip()
    return f"{name}:{version}", models / version


def _build(folder: Path, config_type: type, module_type: type[torch.nn.Module]) -> torch.nn.Module:
    """A module from a folder holding ``config.json`` and ``weights.safetensors``, in eval mode."""
    config = config_from_dict(config_type, json.loads((folder / CONFIG_FILE).read_text()))
    assert isinstance(config, config_type)
    module = module_type(config)
    module.load_state_dict(load_file(folder / WEIGHTS_FILE), strict=True)
    return module.eval().requires_grad_(False)


def build_tabular(folder: Path) -> TabularClassifier:
    """The tabular classifier stored in ``folder``, in eval mode."""
    module = _build(folder, TabularConfig, TabularClassifier)
    assert isinstance(module, TabularClassifier)
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


def build_digits(folder: Path) -> DigitsCNN:
    """The digits CNN stored in ``folder``, in eval mode."""
    module = _build(folder, DigitsConfig, DigitsCNN)
    assert isinstance(module, DigitsCNN)
    return module


def load_digits_cnn(home: Path | None = None) -> tuple[str, DigitsCNN]:
    """The newest stored digits CNN: its exact tag and the module, ready for inference on the CPU."""
    tag, folder = latest_folder(DIGITS, home)
    return tag, build_digits(folder)


def predict_digits(module: DigitsCNN, images: object) -> np.ndarray:
    """``images`` (8x8 grids of grey levels 0..16, nested lists or an array) -> class probabilities,
    float32 (N, 10). A wrong shape is a ValueError (the peers answer it with a 422)."""
    batch = np.asarray(images, dtype=np.float32)
    size = module.config.image_size
    if batch.ndim != 3 or batch.shape[1:] != (size, size) or len(batch) == 0:
        raise ValueError(f"expected images of shape (N, {size}, {size}), got {batch.shape}")
    with torch.inference_mode():
        probabilities: np.ndarray = module.predict_proba(torch.from_numpy(batch)).numpy()
    return probabilities


def upload_grid(data: bytes) -> np.ndarray:
    """An uploaded PNG or JPEG -> the 8x8 grid (0..16) through ``models.preprocess.to_digit_grid``, the
    function our service's upload path (``service.images.decode_upload``) ends in: every server does the
    same work per picture. (Ours also checks the pixel count, EXIF rotation and 16-bit grey first.)"""
    with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
        return image_grid(image)


def image_grid(image: Image.Image) -> np.ndarray:
    """A decoded picture -> the 8x8 grid (0..16), transparent pixels as white paper, as ours does."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return to_digit_grid(grey)


def digits_answer(tag: str, probabilities: np.ndarray) -> dict[str, object]:
    """The peers' /digits answer: ours without the margins and the unsure flags (labels: the top class)."""
    return {
        "model": tag,
        "probabilities": probabilities.tolist(),
        "labels": probabilities.argmax(axis=1).tolist(),
    }
