"""The plain baseline: a hand-written Starlette app on uvicorn, serving the tabular model on POST /classify.

No BentoML, no batching, no thread pool: one async route that parses the JSON, runs the forward pass
in-line on the event loop and writes the JSON answer. It reads the weights from the BentoML store's
files ($BENTOML_HOME) without importing BentoML. Serve with uvicorn's defaults (one worker):

    python -m uvicorn bench.variants.starlette_app:app --host 127.0.0.1 --port 3000
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.variants.store_files import answer, load_tabular, predict

TAG, MODEL = load_tabular()


async def classify(request: Request) -> Response:
    try:
        probabilities = predict(MODEL, json.loads(await request.body())["rows"])
    except (ValueError, KeyError, TypeError, IndexError) as error:
        return JSONResponse({"error": "invalid_body", "detail": type(error).__name__}, status_code=422)
    return Response(json.dumps(answer(TAG, probabilities)), media_type="application/json")


async def readyz(request: Request) -> Response:
    return JSONResponse({"ready": True})


app = Starlette(routes=[Route("/classify", classify, methods=["POST"]), Route("/readyz", readyz)])
