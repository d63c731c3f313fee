"""What a recipe's ``finish`` step found after fitting: extra metrics, a text report, and its plots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _no_plots(folder: Path, test_accuracy: float) -> list[Path]:
    return []


@dataclass(frozen=True)
class Findings:
    metrics: dict[str, Any]  # merged into the held-out metrics (and the store's metadata)
    text: str = ""  # printed after the metrics table
    plots: Callable[[Path, float], list[Path]] = _no_plots  # folder, held-out accuracy -> files written
