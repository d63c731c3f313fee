"""A TorchServe custom handler serving the digits CNN, written like ``torchserve_handler.py`` (a
``BaseHandler`` subclass, the model built in ``initialize``): a second model archive, as TorchServe
serves one model per archive, at ``POST /predictions/digits-cnn``.

TorchServe has one inference path per model, so this one handler answers both of our routes' bodies,
told apart the way TorchServe's image handlers do it, by what the request holds: a multipart upload
arrives as the bytes of its form field (``image``, our field name), a JSON body as the parsed object
with its ``images``. The picture goes through the same grid function as ours.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ts.torch_handler.base_handler import BaseHandler  # type: ignore[import-not-found]

from bench.variants.store_files import build_digits, digits_answer, predict_digits, upload_grid


class DigitsHandler(BaseHandler):  # type: ignore[misc]
    def initialize(self, context: Any) -> None:
        self.manifest = context.manifest
        model = self.manifest["model"]
        self.tag = f"{model['modelName']}:{model['modelVersion']}"
        self.model = build_digits(Path(context.system_properties["model_dir"]))
        self.initialized = True

    def preprocess(self, data: list[dict[str, Any]]) -> list[Any]:
        """One batch of images per request (TorchServe's batch; one request by default)."""
        return [_images(request) for request in data]

    def inference(self, data: list[Any], *args: Any, **kwargs: Any) -> list[np.ndarray]:
        return [predict_digits(self.model, images) for images in data]

    def postprocess(self, data: list[np.ndarray]) -> list[dict[str, object]]:
        for index in range(len(data)):
            self.context.set_response_content_type(index, "application/json")
        return [digits_answer(self.tag, probabilities) for probabilities in data]


def _images(request: dict[str, Any]) -> Any:
    upload = request.get("image")
    if isinstance(upload, bytes | bytearray):
        return upload_grid(bytes(upload))[None]
    body = request.get("body") or request.get("data")
    payload: Any = json.loads(body) if isinstance(body, bytes | bytearray) else body
    return payload["images"]
