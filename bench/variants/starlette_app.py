"""The plain baseline: a hand-written Starlette app on uvicorn, serving the tabular model on POST /classify
and the digits CNN on POST /digits (JSON 8x8 images) and POST /digits/image (one uploaded picture).

No BentoML, no batching, no thread pool: async routes that parse the body, run the forward pass in-line
on the event loop and write the JSON answer; the upload comes through Starlette's ``request.form()``
and the same picture-to-grid function as ours. It reads the weights from the BentoML store's files
($BENTOML_HOME) without importing BentoML. Serve with uvicorn's defaults (one worker):

    python -m uvicorn bench.variants.starlette_app:app --host 127.0.0.1 --port 3000
"""

from __future__ import annotations

import json

from PIL import UnidentifiedImageError
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.variants.store_files import (
    answer,
    digits_answer,
    load_digits_cnn,
    load_tabular,
    predict,
    predict_digits,
    upload_grid,
)

TAG, MODEL = load_tabular()
DIGITS_TAG, DIGITS_MODEL = load_digits_cnn()
BAD_BODY = (ValueError, KeyError, TypeError, IndexError)


def _invalid(error: Exception) -> Response:
    return JSONResponse({"error": "invalid_body", "detail": type(error).__name__}, status_code=422)


def _json(content: object) -> Response:
    return Response(json.dumps(content), media_type="application/json")


async def classify(request: Request) -> Response:
    try:
        probabilities = predict(MODEL, json.loads(await request.body())["rows"])
    except BAD_BODY as error:
        return _invalid(error)
    return _json(answer(TAG, probabilities))


async def digits(request: Request) -> Response:
    try:
        probabilities = predict_digits(DIGITS_MODEL, json.loads(await request.body())["images"])
    except BAD_BODY as error:
        return _invalid(error)
    return _json(digits_answer(DIGITS_TAG, probabilities))


async def digits_image(request: Request) -> Response:
    async with request.form() as form:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            return _invalid(KeyError("image"))
        data = await upload.read()
    try:
        probabilities = predict_digits(DIGITS_MODEL, upload_grid(data)[None])
    except (UnidentifiedImageError, OSError, ValueError) as error:
        return _invalid(error)
    return _json(digits_answer(DIGITS_TAG, probabilities))


async def readyz(request: Request) -> Response:
    return JSONResponse({"ready": True})


app = Starlette(
    routes=[
        Route("/classify", classify, methods=["POST"]),
        Route("/digits", digits, methods=["POST"]),
        Route("/digits/image", digits_image, methods=["POST"]),
        Route("/readyz", readyz),
    ]
)
