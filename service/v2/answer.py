"""A V2 inference answer: the requested outputs as JSON data, or as binary data after the JSON header
(the binary tensor data extension), with the model's name and the store version that computed it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from starlette.responses import Response

from service.v2.request import Output

# The outputs every model answers: (V2 datatype, little-endian dtype on the wire).
DATATYPES: dict[str, tuple[str, np.dtype[Any]]] = {
    "probabilities": ("FP32", np.dtype("<f4")),
    "labels": ("INT64", np.dtype("<i8")),
}
BINARY_TYPE = "application/octet-stream"
HEADER_LENGTH = "Inference-Header-Content-Length"


def answer(
    request_id: str | None,
    model: tuple[str, str],
    probabilities: np.ndarray,
    labels: Callable[[np.ndarray], np.ndarray],
    outputs: tuple[Output, ...],
    binary_output: bool,
) -> Response:
    """The answer for ``model`` (name, version): each of ``outputs`` in order, binary when it asks for
    it or, when it does not say, when the request's binary_data_output does."""
    tensors = {"probabilities": probabilities, "labels": labels(probabilities)}
    described: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for output in outputs:
        datatype, wire = DATATYPES[output.name]
        array = tensors[output.name].astype(wire, copy=False)
        entry: dict[str, Any] = {"name": output.name, "datatype": datatype, "shape": list(array.shape)}
        if output.binary if output.binary is not None else binary_output:
            blobs.append(array.tobytes())
            entry["parameters"] = {"binary_data_size": len(blobs[-1])}
        else:
            entry["data"] = np.ascontiguousarray(array).reshape(-1)  # flat, row-major
        described.append(entry)
    header: dict[str, Any] = {} if request_id is None else {"id": request_id}
    header.update(model_name=model[0], model_version=model[1], outputs=described)
    # float32 values are written in their shortest exact form, as the JSON API writes them.
    encoded = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return Response(encoded, media_type="application/json")
    headers = {HEADER_LENGTH: str(len(encoded))}
    return Response(b"".join([encoded, *blobs]), media_type=BINARY_TYPE, headers=headers)
