"""Typed training options: defaults per model, overridable by TRAINING_* variables and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import DIGITS, TABULAR

QUICK_EPOCHS = 3


@dataclass(frozen=True)
class HyperParams:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int  # epochs without a better validation loss before stopping early


# Tabular keeps the original tutorial's settings (Adam lr 0.01, up to 100 epochs, batch 32) and adds
# weight decay and early stopping on the validation split, chosen by validation accuracy over several
# seeds (docs/training.md gives the figures).
DEFAULTS: dict[str, HyperParams] = {
    TABULAR: HyperParams(epochs=100, batch_size=32, lr=0.01, weight_decay=1e-3, patience=30),
    DIGITS: HyperParams(epochs=100, batch_size=64, lr=1e-2, weight_decay=1e-4, patience=15),
}


class TrainingSettings(BaseSettings):
    """Unset hyperparameters fall back to the per-model defaults in ``DEFAULTS``."""

    model_config = SettingsConfigDict(env_prefix="TRAINING_", frozen=True)

    seed: int = 0
    epochs: int | None = Field(default=None, gt=0)
    batch_size: int | None = Field(default=None, gt=0)
    lr: float | None = Field(default=None, gt=0)
    weight_decay: float | None = Field(default=None, ge=0)
    patience: int | None = Field(default=None, gt=0)
    quick: bool = False
    reports_dir: Path = Path("reports")
    plots: bool = True

    def hyperparams(self, model_name: str) -> HyperParams:
        """The defaults for ``model_name`` with every option that was set laid over them."""
        chosen = replace(
            DEFAULTS[model_name],
            **{
                name: value
                for name in ("epochs", "batch_size", "lr", "weight_decay", "patience")
                if (value := getattr(self, name)) is not None
            },
        )
        if self.quick:
            chosen = replace(chosen, epochs=min(chosen.epochs, QUICK_EPOCHS))
        return chosen


@lru_cache(maxsize=1)
def env_settings() -> TrainingSettings:
    """Settings from the environment alone, read once."""
    return TrainingSettings()
