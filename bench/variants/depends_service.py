"""The batching alternative to our in-process batcher: BentoML's adaptive batcher in a separate
batchable service reached with ``bentoml.depends``, behind the same validation as ours.

Only /classify, for the batching comparison (``python -m bench batching``). Serve with
``bentoml serve bench.variants.depends_service:DependsGateway``.
"""

from __future__ import annotations

import bentoml
import numpy as np
import torch
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from service import codecs
from service.app import api_error
from service.errors import ApiError
from service.handlers import JSON_TYPES, read_body
from service.loader import load_model

MAX_ROWS = 1024
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
app.add_exception_handler(ApiError, api_error)


# The runner_connection settings stop the client from recycling its session under in-flight calls:
# bentoml.depends replaces its aiohttp session every 100 requests or 300 s and closes the old one under
# calls still in flight, which callers see as "Connector is closed" and answer with a 500.
@bentoml.service(workers=1, runner_connection={"max_requests": 10**9, "max_age": 10.0**9})
class TabularBatchable:
    def __init__(self) -> None:
        torch.set_num_threads(1)
        self.loaded = load_model("tabular-classifier")

    @bentoml.api(batchable=True, max_batch_size=MAX_ROWS, max_latency_ms=10_000)  # type: ignore[untyped-decorator]
    def predict(self, rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            proba = self.loaded.module.predict_proba(torch.from_numpy(rows))  # type: ignore[operator]
            return proba.numpy()  # type: ignore[no-any-return]


@app.post("/classify")
async def classify(request: Request) -> Response:
    gateway = bentoml.get_current_service()
    rows = codecs.decode_rows(codecs.parse_json(await read_body(request, 8 << 20, JSON_TYPES)), 10, MAX_ROWS)
    proba = await gateway.model.to_async.predict(rows)
    return Response(
        codecs.encode_tabular(gateway.model_tag, np.asarray(proba)), media_type="application/json"
    )


@bentoml.asgi_app(app, path="/")
@bentoml.service(workers=1)
class DependsGateway:
    model = bentoml.depends(TabularBatchable)

    def __init__(self) -> None:
        self.model_tag = "tabular-classifier (via bentoml.depends)"
