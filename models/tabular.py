"""The tabular binary classifier: an MLP over 10 raw features with the StandardScaler folded in."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

# Scaled features are clamped here: a million standard deviations is already far beyond anything the
# model saw, and unclamped float32 inputs near 3e38 overflow inside the layers into NaN.
SCALED_LIMIT = 1e6


@dataclass(frozen=True)
class TabularConfig:
    n_features: int = 10
    hidden: tuple[int, ...] = (16, 8)


class TabularClassifier(nn.Module):
    """MLP 10 -> 16 -> ReLU -> 8 -> ReLU -> 1.

    ``forward`` returns logits (for ``BCEWithLogitsLoss``, which is numerically safer than BCE on a
    sigmoid); ``predict_proba`` applies the sigmoid. The scaler's statistics are buffers, so they travel
    with the weights and the served model takes raw, unscaled features.
    """

    mean: torch.Tensor
    scale: torch.Tensor

    def __init__(self, config: TabularConfig = TabularConfig()) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("mean", torch.zeros(config.n_features))
        self.register_buffer("scale", torch.ones(config.n_features))
        layers: list[nn.Module] = []
        width = config.n_features
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def set_scaler(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Fold a fitted StandardScaler (``mean_``, ``scale_``) into the model."""
        if mean.shape != (self.config.n_features,) or scale.shape != (self.config.n_features,):
            raise ValueError(f"scaler statistics must have shape ({self.config.n_features},)")
        self.mean.copy_(mean)
        self.scale.copy_(scale)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features of shape (N, n_features) -> logits of shape (N,)."""
        if features.dim() != 2 or features.shape[1] != self.config.n_features:
            raise ValueError(
                f"expected features of shape (N, {self.config.n_features}), got {tuple(features.shape)}"
            )
        scaled = ((features - self.mean) / self.scale).clamp(-SCALED_LIMIT, SCALED_LIMIT)
        logits: torch.Tensor = self.net(scaled)
        return logits.squeeze(-1)

    def predict_proba(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features (N, n_features) -> probability of class 1, shape (N,)."""
        return torch.sigmoid(self.forward(features))
