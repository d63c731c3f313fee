"""PNG plots of a training run: loss curves, ROC curve, confusion matrix."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from training.loop import History


def loss_curves(history: History, title: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, history.epochs_run + 1)
    ax.plot(epochs, history.train_loss, label="train")
    ax.plot(epochs, history.val_loss, label="validation")
    ax.axvline(history.best_epoch, color="grey", linestyle="--", label=f"kept (epoch {history.best_epoch})")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    return _save(fig, path)


def roc(y_true: np.ndarray, proba: np.ndarray, auc: float, path: Path) -> Path:
    fpr, tpr, _ = roc_curve(y_true, proba)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC = {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, held-out split")
    ax.legend(loc="lower right")
    return _save(fig, path)


def confusion(matrix: list[list[int]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 5))
    grid = np.asarray(matrix)
    image = ax.imshow(grid, cmap="Blues")
    for (row, col), count in np.ndenumerate(grid):
        colour = "white" if count > grid.max() / 2 else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix, held-out split")
    ax.set_xticks(range(len(grid)))
    ax.set_yticks(range(len(grid)))
    fig.colorbar(image)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
