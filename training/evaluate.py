"""Held-out metrics for each model and a plain-text table of them."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics


def tabular_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    labels = (proba >= threshold).astype(int)
    return {
        "accuracy": float(metrics.accuracy_score(y_true, labels)),
        "precision": float(metrics.precision_score(y_true, labels, zero_division=0)),
        "recall": float(metrics.recall_score(y_true, labels, zero_division=0)),
        "f1": float(metrics.f1_score(y_true, labels, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(y_true, proba)),
    }


def digits_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, Any]:
    labels = proba.argmax(axis=1)
    return {
        "accuracy": float(metrics.accuracy_score(y_true, labels)),
        "macro_f1": float(metrics.f1_score(y_true, labels, average="macro")),
        "confusion_matrix": metrics.confusion_matrix(y_true, labels, labels=range(proba.shape[1])).tolist(),
    }


def format_table(title: str, values: dict[str, Any]) -> str:
    """Scalars as a two-column table; a confusion matrix, if present, as a grid below it."""
    scalars = {name: value for name, value in values.items() if isinstance(value, float | int)}
    width = max(len(name) for name in scalars)
    lines = [title, "-" * len(title)]
    lines += [f"{name:<{width}}  {value:.4f}" for name, value in scalars.items()]
    matrix = values.get("confusion_matrix")
    if matrix:
        lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
        lines.append("     " + "".join(f"{col:>5}" for col in range(len(matrix))))
        lines += [f"{row:>5}" + "".join(f"{n:>5}" for n in counts) for row, counts in enumerate(matrix)]
    return "\n".join(lines)
