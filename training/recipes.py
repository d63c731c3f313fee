"""How each model of the registry is trained: its data, how to build it from the data, its loss, its
held-out metrics and plots, and its default hyperparameters. The one table of training, keyed like
``models.SPECS``; ``python -m training`` offers every entry as a target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models import DIGITS, TABULAR, DigitsCNN, TabularClassifier
from training import plots
from training.data import Split, digits_split, tabular_split
from training.evaluate import digits_metrics, tabular_metrics
from training.findings import Findings
from training.settings import HyperParams

Plots = Callable[[np.ndarray, np.ndarray, dict[str, Any], Path], list[Path]]


@dataclass(frozen=True)
class Recipe:
    """What differs between models; everything else (the loop, saving, reports) is shared."""

    load: Callable[[int, bool], Split]  # seed, quick -> train / validation / test split
    build: Callable[[Split], nn.Module]
    loss: nn.Module
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, Any]]  # held-out targets, probabilities
    plots: Plots  # beside the loss curves: held-out targets, probabilities, metrics, folder
    defaults: HyperParams
    # After fitting, before the held-out metrics: calibrate, measure more, and say what was found.
    finish: Callable[[nn.Module, Split], Findings] = lambda model, split: Findings({})


def _finish_digits(model: nn.Module, split: Split) -> Findings:
    from training.digits_report import finish_digits

    return finish_digits(model, split)


def _tabular_model(split: Split) -> nn.Module:
    model = TabularClassifier()
    # StandardScaler statistics (population std, as scikit-learn's) from the training rows only:
    # fitting them on all rows would leak the test split into training.
    std = split.x_train.std(axis=0)
    model.set_scaler(
        torch.from_numpy(split.x_train.mean(axis=0)), torch.from_numpy(np.where(std > 0, std, 1))
    )
    return model


def _roc(y_true: np.ndarray, proba: np.ndarray, metrics: dict[str, Any], folder: Path) -> list[Path]:
    return [plots.roc(y_true, proba, metrics["roc_auc"], folder / "roc.png")]


def _confusion(y_true: np.ndarray, proba: np.ndarray, metrics: dict[str, Any], folder: Path) -> list[Path]:
    return [plots.confusion(metrics["confusion_matrix"], folder / "confusion.png")]


# Tabular keeps the original tutorial's settings (Adam lr 0.01, up to 100 epochs, batch 32) and adds
# weight decay and early stopping on the validation split, chosen by validation accuracy over several
# seeds (docs/training.md gives the figures).
RECIPES: dict[str, Recipe] = {
    TABULAR: Recipe(
        tabular_split,
        _tabular_model,
        nn.BCEWithLogitsLoss(),
        tabular_metrics,
        _roc,
        HyperParams(epochs=100, batch_size=32, lr=0.01, weight_decay=1e-3, patience=30),
    ),
    DIGITS: Recipe(
        digits_split,
        lambda _: DigitsCNN(),
        nn.CrossEntropyLoss(),
        digits_metrics,
        _confusion,
        # Chosen on the validation split with the generated data (docs/training.md): a lower rate and
        # more weight decay than for load_digits alone.
        HyperParams(epochs=100, batch_size=64, lr=3e-3, weight_decay=1e-3, patience=10),
        _finish_digits,
    ),
}
