"""Calibration: temperature scaling fitted on the validation split, and how far confidence is from
accuracy (expected calibration error, and the bins of a reliability diagram)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 10


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return result


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    proba = softmax(logits.astype(np.float64), temperature)
    return float(-np.log(np.clip(proba[np.arange(len(labels)), labels], 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in 0.05..20 that minimises the negative log-likelihood (a coarse grid over
    log T, then a finer one around the best point: one parameter needs nothing cleverer)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
    best = min(grid, key=lambda t: nll(logits, labels, float(t)))
    fine = np.linspace(best / 1.05, best * 1.05, 41)
    return float(min(fine, key=lambda t: nll(logits, labels, float(t))))


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: mean confidence, accuracy and count (empty bins hold NaN and 0)."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean gap between confidence and accuracy."""
        filled = self.counts > 0
        gaps = np.abs(self.confidence[filled] - self.accuracy[filled])
        return float((gaps * self.counts[filled]).sum() / max(self.counts.sum(), 1))


def reliability(proba: np.ndarray, labels: np.ndarray, bins: int = BINS) -> Reliability:
    confidence, right = proba.max(axis=1), proba.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=confidence, minlength=bins) / counts
        accuracy = np.bincount(index, weights=right.astype(np.float64), minlength=bins) / counts
    return Reliability(edges, mean_conf, accuracy, counts)
