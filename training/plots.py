"""PNG plots of a training run: loss curves, ROC curve, confusion matrix; for the digits, accuracy on
the unseen styles per digit, a reliability diagram and a grid of the unseen-style mistakes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from training.calibrate import Reliability
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


def accuracies(overall: dict[str, float], per_digit: dict[str, float], path: Path) -> Path:
    """Left: the held-out accuracies side by side; right: accuracy per digit on the unseen styles."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [1, 2.5]})
    bars = left.bar(list(overall), list(overall.values()), color=["tab:blue", "tab:orange"])
    left.bar_label(bars, fmt="%.3f")
    left.set(ylim=(0, 1.05), ylabel="accuracy", title="Held-out accuracy")
    bars = right.bar(list(per_digit), list(per_digit.values()), color="tab:orange")
    right.bar_label(bars, fmt="%.2f", fontsize=8)
    right.set(ylim=(0, 1.05), xlabel="true digit", title="Unseen styles, per digit")
    return _save(fig, path)


def reliability_diagram(curves: dict[str, Reliability], title: str, path: Path) -> Path:
    """Accuracy against confidence per bin, one line per curve (e.g. before and after calibration)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    for name, curve in curves.items():
        filled = curve.counts > 0
        ax.plot(
            curve.confidence[filled],
            curve.accuracy[filled],
            marker="o",
            label=f"{name} (ECE {curve.ece:.3f})",
        )
    ax.set(xlabel="confidence (top probability)", ylabel="accuracy", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper left")
    return _save(fig, path)


def mistakes(
    pictures: list[np.ndarray],
    grids: np.ndarray,
    captions: list[tuple[int, int, float]],
    path: Path,
    limit: int = 40,
) -> Path:
    """Each mistake as the picture and the 8x8 the model saw, captioned true -> predicted (confidence)."""
    shown = min(len(pictures), limit)
    columns = 8
    rows = max(1, -(-shown // (columns // 2)))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index in range(shown):
        true, predicted, confidence = captions[index]
        picture_ax, grid_ax = axes.flat[2 * index], axes.flat[2 * index + 1]
        picture_ax.imshow(pictures[index], cmap="gray", vmin=0, vmax=255)
        picture_ax.set_title(f"{true} -> {predicted} ({confidence:.2f})", fontsize=7)
        grid_ax.imshow(grids[index], cmap="gray", vmin=0, vmax=16)
        grid_ax.set_title("model saw", fontsize=7)
    fig.suptitle(
        f"Unseen-style mistakes ({len(pictures)}, first {shown} shown): true -> predicted (confidence)"
    )
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
