"""Stock BentoML, written the way BentoML's documentation shows a service: default ``@bentoml.service``
config, the model loaded in ``__init__``, one sync, unbatched ``@bentoml.api`` returning a dict.

Same model and weights as ours (``service.loader.load_model``), none of our serving machinery. Serve with

    bentoml serve bench.variants.stock_bentoml:StockService
"""

from __future__ import annotations

from typing import Any

import bentoml
import numpy as np
import torch

from service.loader import load_model


@bentoml.service
class StockService:
    def __init__(self) -> None:
        self.loaded = load_model("tabular-classifier")

    @bentoml.api  # type: ignore[untyped-decorator]
    def classify(self, rows: list[list[float]]) -> dict[str, Any]:
        with torch.inference_mode():
            features = torch.tensor(rows, dtype=torch.float32)
            probabilities: np.ndarray = self.loaded.module.predict_proba(features).numpy()  # type: ignore[operator]
        return {
            "model": self.loaded.tag,
            "probabilities": probabilities.tolist(),
            "labels": (probabilities >= 0.5).astype(np.int64).tolist(),
        }
