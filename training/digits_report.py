"""After the digits CNN is fitted: calibrate it (temperature on the validation split), measure it on the
unseen styles, and describe both in numbers, text and plots (the recipe's ``finish`` step)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models import DigitsCNN
from training import plots
from training.calibrate import fit_temperature, reliability, softmax
from training.data import Split
from training.findings import Findings


@torch.no_grad()
def _logits(model: nn.Module, x: np.ndarray) -> np.ndarray:
    model.eval()
    logits: np.ndarray = model(torch.from_numpy(x)).numpy().astype(np.float64)
    return logits


def finish_digits(model: nn.Module, split: Split) -> Findings:
    """Set the model's temperature and measure it; the model is changed in place (its config)."""
    if not isinstance(model, DigitsCNN):
        raise TypeError(f"expected a DigitsCNN, got {type(model).__name__}")
    temperature = fit_temperature(_logits(model, split.x_val), split.y_val)
    model.config = dataclasses.replace(model.config, temperature=temperature)
    unsure_below = model.config.unsure_below
    test_logits = _logits(model, split.x_test)
    metrics: dict[str, Any] = {
        "temperature": round(temperature, 4),
        "unsure_below": unsure_below,
        "ece_before": reliability(softmax(test_logits), split.y_test).ece,
        "ece_after": reliability(softmax(test_logits, temperature), split.y_test).ece,
    }
    if split.unseen is None:
        return Findings(metrics)
    unseen = split.unseen
    logits = _logits(model, unseen.x)
    before, after = softmax(logits), softmax(logits, temperature)
    predicted = after.argmax(axis=1)
    right = predicted == unseen.y
    sure = after.max(axis=1) >= unsure_below
    per_digit = {str(d): float(right[unseen.y == d].mean()) for d in range(10)}
    metrics |= {
        "unseen_accuracy": float(right.mean()),
        "unseen_rows": len(unseen.y),
        "unseen_ece_before": reliability(before, unseen.y).ece,
        "unseen_ece_after": reliability(after, unseen.y).ece,
        "unseen_unsure_fraction": float(1 - sure.mean()),
        "unseen_accuracy_when_sure": float(right[sure].mean()) if sure.any() else 0.0,
        "unseen_per_digit": per_digit,
    }

    def write(folder: Path, test_accuracy: float) -> list[Path]:
        wrong = np.flatnonzero(~right)
        return [
            plots.accuracies(
                {"load_digits held-out": test_accuracy, "unseen styles": float(right.mean())},
                per_digit,
                folder / "accuracy.png",
            ),
            plots.reliability_diagram(
                {"before": reliability(before, unseen.y), "after": reliability(after, unseen.y)},
                f"Reliability on unseen styles (T = {temperature:.2f})",
                folder / "reliability.png",
            ),
            plots.mistakes(
                [unseen.pictures[i] for i in wrong],
                unseen.x[wrong],
                [(int(unseen.y[i]), int(predicted[i]), float(after[i].max())) for i in wrong],
                folder / "mistakes.png",
            ),
        ]

    return Findings(metrics, _text(metrics, unseen.fonts, right), write)


def _text(metrics: dict[str, Any], fonts: list[str], right: np.ndarray) -> str:
    names = np.asarray(fonts)
    by_font = sorted(
        {name: float(right[names == name].mean()) for name in set(fonts)}.items(), key=lambda kv: kv[1]
    )
    lines = [
        f"unseen styles: accuracy {metrics['unseen_accuracy']:.4f} over {metrics['unseen_rows']} pictures "
        f"(fonts kept out of training, docs/training.md)",
        "  per digit: " + "  ".join(f"{d}: {a:.2f}" for d, a in metrics["unseen_per_digit"].items()),
        f"  calibration (temperature {metrics['temperature']:.3f}, 10-bin ECE): unseen "
        f"{metrics['unseen_ece_before']:.4f} -> {metrics['unseen_ece_after']:.4f}, load_digits held-out "
        f"{metrics['ece_before']:.4f} -> {metrics['ece_after']:.4f}",
        f"  unsure (top probability < {metrics['unsure_below']}): {metrics['unseen_unsure_fraction']:.1%} of "
        f"unseen pictures; accuracy on the rest {metrics['unseen_accuracy_when_sure']:.4f}",
        "  weakest fonts: " + ", ".join(f"{name} {acc:.2f}" for name, acc in by_font[:5]),
    ]
    return "\n".join(lines)
