"""A TorchServe custom handler serving the tabular model with our /classify contract, written the way
TorchServe's documentation shows a custom handler: a ``BaseHandler`` subclass whose ``initialize``
loads the model and whose ``preprocess`` / ``inference`` / ``postprocess`` run under BaseHandler's
``handle``.

Packed into a model archive by ``bench.torchserve`` (``reports/torchserve/model-store/``) with the stored
``weights.safetensors`` (the serialized file) and ``config.json``; the archive's model name and version
are the store's, so the answer names the same ``tabular-classifier:<version>`` as ours. The weights are
safetensors, so ``initialize`` builds the module itself instead of BaseHandler's pickle/TorchScript
loading. TorchServe's inference path is ``POST /predictions/<model name>``; it runs from its own virtual
environment with the repo on PYTHONPATH (for ``models/`` and ``bench.variants.store_files``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from ts.torch_handler.base_handler import BaseHandler  # type: ignore[import-not-found]

from bench.variants.store_files import answer, build_tabular, predict


class TabularHandler(BaseHandler):  # type: ignore[misc]
    def initialize(self, context: Any) -> None:
        self.manifest = context.manifest
        model = self.manifest["model"]
        self.tag = f"{model['modelName']}:{model['modelVersion']}"
        self.model = build_tabular(Path(context.system_properties["model_dir"]))
        self.initialized = True

    def preprocess(self, data: list[dict[str, Any]]) -> list[Any]:
        """One entry per request (TorchServe's batch; one request with its default batch size of 1):
        the JSON body, which TorchServe has already parsed when it came as ``application/json``."""
        return [_body(request)["rows"] for request in data]

    def inference(self, data: list[Any], *args: Any, **kwargs: Any) -> list[np.ndarray]:
        return [predict(self.model, rows) for rows in data]

    def postprocess(self, data: list[np.ndarray]) -> list[dict[str, object]]:
        # TorchServe writes a dict as indented JSON (its json.dumps(indent=2)) and, unless told, with no
        # Content-Type header at all.
        for index in range(len(data)):
            self.context.set_response_content_type(index, "application/json")
        return [answer(self.tag, probabilities) for probabilities in data]


def _body(request: dict[str, Any]) -> Any:
    body = request.get("body") or request.get("data")
    return json.loads(body) if isinstance(body, bytes | bytearray) else body
