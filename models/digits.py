"""A small CNN for scikit-learn's 8x8 digits (grey levels 0..16, light strokes on dark)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

UNSURE_BELOW = 0.8


@dataclass(frozen=True)
class DigitsConfig:
    image_size: int = 8
    n_classes: int = 10
    channels: tuple[int, int] = (16, 32)
    max_value: float = 16.0  # the digits data's grey scale is 0..16
    # Fitted on the validation split after training (temperature scaling): predict_proba divides the
    # logits by it, so that a probability of 0.9 is right about 9 times in 10. 1.0: uncalibrated
    # (store entries saved before calibration existed load with it).
    temperature: float = 1.0
    # An answer whose top (calibrated) probability is below this is flagged "unsure" (docs/serving.md).
    unsure_below: float = UNSURE_BELOW


class DigitsCNN(nn.Module):
    """Two Conv2d + ReLU + MaxPool2d blocks, then Linear to the class logits.

    Takes images of shape (N, 1, size, size) or (N, size, size) in the 0..max_value scale; the
    normalisation to 0..1 happens inside so that callers send the data as scikit-learn ships it.
    """

    def __init__(self, config: DigitsConfig = DigitsConfig()) -> None:
        super().__init__()
        if config.image_size % 4:
            raise ValueError("image_size must be divisible by 4 (two 2x2 poolings)")
        self.config = config
        first, second = config.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, first, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        pooled = config.image_size // 4
        self.classifier = nn.Linear(second * pooled * pooled, config.n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, S, S) or (N, S, S) -> class logits (N, n_classes)."""
        if images.dim() == 3:
            images = images.unsqueeze(1)
        size = self.config.image_size
        if images.shape[1:] != (1, size, size):
            # Pooling rounds down, so a wrong size would otherwise give a plausible answer.
            raise ValueError(f"expected images of shape (N, 1, {size}, {size}), got {tuple(images.shape)}")
        hidden = self.features(images / self.config.max_value)
        logits: torch.Tensor = self.classifier(hidden.flatten(1))
        return logits

    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> calibrated class probabilities (N, n_classes)."""
        logits = self.forward(images)
        if self.config.temperature != 1.0:
            logits = logits / self.config.temperature
        return torch.softmax(logits, dim=-1)
