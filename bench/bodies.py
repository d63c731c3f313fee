"""The request bodies of the side-by-side benchmark, built once: tabular rows, digits as JSON, one PNG as a
multipart upload, and the Open Inference Protocol V2 binary tensors.

The digits are real ones (scikit-learn's ``load_digits``, float grey levels 0..16), so every server
computes on the inputs its model was trained for; the PNG is the committed ``load/data/digit-7.png``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sklearn.datasets import load_digits

from bench.wrk import RawBody
from load.server import REPO

ONE_ROW = {"rows": [[0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.4, -2.1, 0.9, 0.0]]}
ROWS_256 = {"rows": np.random.default_rng(1).normal(size=(256, 10)).round(4).tolist()}
ROWS_1024 = {"rows": np.random.default_rng(2).normal(size=(1024, 10)).round(4).tolist()}
V2_TABULAR = "/v2/models/tabular-classifier/infer"
V2_DIGITS = "/v2/models/digits-cnn/infer"
DIGIT_PNG = REPO / "load" / "data" / "digit-7.png"
BOUNDARY = "bench-compare-boundary-7MA4YWxkTrZu0gW"  # a fixed boundary: wrk sends the same bytes each time


def digit_images(count: int) -> list[list[list[float]]]:
    """The first ``count`` digits of ``load_digits`` as 8x8 lists of floats in 0..16."""
    images: list[list[list[float]]] = load_digits().images[:count].astype(float).tolist()
    return images


def multipart_body(
    data: bytes,
    field: str = "image",
    filename: str = "digit.png",
    content_type: str = "image/png",
    boundary: str = BOUNDARY,
) -> RawBody:
    """A multipart/form-data body with one file field, as browsers and ``curl -F`` send it, and the
    Content-Type header that names its boundary (wrk sends both as they are)."""
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    payload = head + data + f"\r\n--{boundary}--\r\n".encode()
    return RawBody(payload, (("Content-Type", f"multipart/form-data; boundary={boundary}"),))


def v2_bodies(array: np.ndarray, name: str) -> tuple[dict[str, Any], RawBody]:
    """``array`` as one V2 input tensor called ``name``: JSON, and binary (the tensor's little-endian
    float32 bytes after the JSON header, every output asked back binary), as tritonclient sends them."""
    values = np.ascontiguousarray(array, dtype="<f4")
    tensor = {"name": name, "shape": list(values.shape), "datatype": "FP32"}
    as_json = {"inputs": [{**tensor, "data": values.ravel().tolist()}]}
    header = json.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": values.nbytes}}],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    binary = RawBody(header + values.tobytes(), (("Inference-Header-Content-Length", str(len(header))),))
    return as_json, binary


DIGITS_1 = {"images": digit_images(1)}
DIGITS_32 = {"images": digit_images(32)}
UPLOAD_PNG = multipart_body(DIGIT_PNG.read_bytes(), filename=DIGIT_PNG.name)
V2_JSON_256, V2_BINARY_256 = v2_bodies(np.asarray(ROWS_256["rows"]), "rows")
_, V2_DIGITS_BINARY_32 = v2_bodies(np.asarray(DIGITS_32["images"]), "images")
