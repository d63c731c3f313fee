"""Stock BentoML, written the way BentoML's documentation shows a service: default ``@bentoml.service``
config, the models loaded in ``__init__``, sync, unbatched ``@bentoml.api`` methods returning dicts.

Same models and weights as ours (``service.loader.load_model``), none of our serving machinery:
POST /classify takes ``rows``, POST /digits takes ``images`` (8x8 lists), and POST /digits/image takes
one picture as a ``PIL.Image.Image`` parameter, which BentoML reads from the multipart field of that name
(``image``) and decodes itself; the picture then goes through the same grid function as ours. Serve with

    bentoml serve bench.variants.stock_bentoml:StockService
"""

from __future__ import annotations

from typing import Any

import bentoml
import numpy as np
import torch
from PIL.Image import Image

from bench.variants.store_files import image_grid
from service.loader import load_model


@bentoml.service
class StockService:
    def __init__(self) -> None:
        self.loaded = load_model("tabular-classifier")
        self.digits_cnn = load_model("digits-cnn")

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

    @bentoml.api  # type: ignore[untyped-decorator]
    def digits(self, images: list[list[list[float]]]) -> dict[str, Any]:
        return self._answer(torch.tensor(images, dtype=torch.float32))

    @bentoml.api(route="/digits/image")  # type: ignore[untyped-decorator]
    def digits_image(self, image: Image) -> dict[str, Any]:
        return self._answer(torch.from_numpy(image_grid(image)[None]))

    def _answer(self, images: torch.Tensor) -> dict[str, Any]:
        with torch.inference_mode():
            probabilities: np.ndarray = self.digits_cnn.module.predict_proba(images).numpy()  # type: ignore[operator]
        return {
            "model": self.digits_cnn.tag,
            "probabilities": probabilities.tolist(),
            "labels": probabilities.argmax(axis=1).tolist(),
        }
