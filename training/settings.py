"""Typed training options: defaults per model, overridable by TRAINING_* variables and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

QUICK_EPOCHS = 3


@dataclass(frozen=True)
class HyperParams:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    patience: int  # epochs without a better validation loss before stopping early


class TrainingSettings(BaseSettings):
    """Unset hyperparameters fall back to the model's defaults (its recipe in training/recipes.py)."""

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
        from training.recipes import RECIPES  # torch and scikit-learn: imported only when training

        chosen = replace(
            RECIPES[model_name].defaults,
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
