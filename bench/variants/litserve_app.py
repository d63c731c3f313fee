"""LitServe serving the tabular model on POST /classify and the digits CNN on POST /digits and POST
/digits/image, written the way LitServe's documentation shows it: one ``LitAPI`` per endpoint with
setup / decode_request / predict / encode_response, and one ``LitServer`` given the list of them (its
"multiple endpoints"), with its defaults otherwise (one inference worker per endpoint, no batching, its
uvicorn with uvloop and httptools).

A multipart upload reaches ``decode_request`` as the form LitServe parsed (``request["image"]`` is the
uploaded file); the picture goes through the same grid function as ours.

It runs from its own virtual environment (``bench.venvs.ensure_venv``), with the repo on PYTHONPATH for
``models/``, from the repo root and with $BENTOML_HOME naming the model store:

    PYTHONPATH=. reports/venvs/litserve/bin/python -m bench.variants.litserve_app --port 8000

Readiness: GET /health answers 200 "ok" once every inference worker has run ``setup``.
"""

import argparse

import litserve as ls  # type: ignore[import-not-found]
import numpy as np

from bench.variants.store_files import (
    answer,
    digits_answer,
    load_digits_cnn,
    load_tabular,
    predict,
    predict_digits,
    upload_grid,
)


class TabularAPI(ls.LitAPI):  # type: ignore[misc]
    def setup(self, device: str) -> None:
        self.tag, self.model = load_tabular()

    # decode_request's parameter and encode_response's return stay unannotated, as in LitServe's docs:
    # LitServe reads these annotations to choose how FastAPI parses the request and checks the answer.
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        return request["rows"]

    def predict(self, rows: list[list[float]]) -> np.ndarray:
        return predict(self.model, rows)

    def encode_response(self, probabilities):  # type: ignore[no-untyped-def]
        return answer(self.tag, probabilities)


class DigitsAPI(ls.LitAPI):  # type: ignore[misc]
    def setup(self, device: str) -> None:
        self.tag, self.model = load_digits_cnn()

    def decode_request(self, request):  # type: ignore[no-untyped-def]
        return request["images"]

    def predict(self, images: object) -> np.ndarray:
        return predict_digits(self.model, images)

    def encode_response(self, probabilities):  # type: ignore[no-untyped-def]
        return digits_answer(self.tag, probabilities)


class DigitsImageAPI(DigitsAPI):
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        return upload_grid(request["image"].file.read())[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    apis = [
        TabularAPI(api_path="/classify"),
        DigitsAPI(api_path="/digits"),
        DigitsImageAPI(api_path="/digits/image"),
    ]
    server = ls.LitServer(apis, accelerator="cpu")
    # generate_client_file=False: otherwise run() writes an example client.py into the working directory
    # (the repo root); it changes nothing about serving.
    server.run(host="127.0.0.1", port=args.port, generate_client_file=False)


if __name__ == "__main__":
    main()
