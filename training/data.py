"""The two datasets, split the same way every time, with a fingerprint of what was trained on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split

# The data and the train/test split are fixed so that metrics from different seeds compare the same
# held-out rows; the training seed moves only initialisation, shuffling and the validation split.
DATA_SEED = 42
TEST_FRACTION = 0.2
VAL_FRACTION = 0.2  # of the training split, used for early stopping

TABULAR_PARAMS: dict[str, Any] = {
    "n_samples": 500,
    "n_features": 10,
    "n_informative": 5,
    "n_redundant": 2,
    "random_state": DATA_SEED,
}


@dataclass(frozen=True)
class Unseen:
    """Pictures in held-out styles, the 8x8 grids the preprocessing made of them, labels, font names."""

    pictures: list[np.ndarray] = field(repr=False)
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    fonts: list[str] = field(repr=False)


@dataclass(frozen=True)
class Split:
    """Training, validation (early stopping) and held-out test arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: dict[str, Any]  # where the data came from and its sha256, saved with the model
    unseen: Unseen | None = None  # pictures in styles training never saw (digits only)

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def fingerprint(x: np.ndarray, y: np.ndarray) -> str:
    """sha256 over shapes, dtypes and bytes of the full dataset: any change to the data changes it."""
    digest = hashlib.sha256()
    for array in (x, y):
        contiguous = np.ascontiguousarray(array)
        digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        digest.update(contiguous.tobytes())
    return digest.hexdigest()


def _split(x: np.ndarray, y: np.ndarray, seed: int, source: dict[str, Any]) -> Split:
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y, random_state=DATA_SEED
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=VAL_FRACTION, stratify=y_rest, random_state=seed
    )
    source = {**source, "sha256": fingerprint(x, y), "rows": len(y)}
    return Split(x_train, y_train, x_val, y_val, x_test, y_test, source)


def tabular_split(seed: int, quick: bool = False) -> Split:
    """``make_classification`` with the original tutorial's parameters; features float32, labels float32 0/1."""
    x, y = make_classification(**TABULAR_PARAMS)
    source = {"generator": "sklearn.datasets.make_classification", "params": TABULAR_PARAMS}
    return _split(x.astype(np.float32), y.astype(np.float32), seed, source)


def digits_split(seed: int, quick: bool = False) -> Split:
    """scikit-learn's bundled 8x8 digits (no download) plus generated pictures (training/digits_data.py):
    images (N, 8, 8) in 0..16, labels int64. The test split is ``load_digits`` alone, untouched."""
    from training.digits_data import with_generated  # fonts and rendering: only for the digits model

    bunch = load_digits()
    images = bunch.images.astype(np.float32)
    source = {"generator": "sklearn.datasets.load_digits", "params": {}}
    return with_generated(_split(images, bunch.target.astype(np.int64), seed, source), seed, quick)
