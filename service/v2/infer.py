"""POST /v2/models/<name>[/versions/<version>]/infer: through the same machinery as the JSON API (body
limit, deadlines, the not-ready 503, the batcher, the value checks), with the protocol's bodies on
either side."""

from __future__ import annotations

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from service import handlers
from service.errors import ApiError
from service.kinds import kind_of
from service.v2 import tensors
from service.v2.answer import answer
from service.v2.metadata import served_model, version_of
from service.v2.request import HEADER_LENGTH, Tensor, data_may_hold_booleans, parse_request, split_body

# tritonclient sends no content type at all; KServe's client sends one of the two. The first is the
# one a 415 asks for.
V2_TYPES = ("application/json", "application/octet-stream", "")


def predictions(name: str) -> handlers.Endpoint:
    """The infer handler of model ``name`` (at whichever version the path names, if any)."""

    async def v2_infer(request: Request) -> Response:
        service = handlers.current_service()
        runtime = served_model(service, name, request.path_params.get("version"))
        settings, kind = service.settings, kind_of(runtime.schema)
        body = await handlers.read_body(
            request, settings.max_body_bytes, V2_TYPES, handlers.request_watch(request)
        )
        header, binary = split_body(body, request.headers.get(HEADER_LENGTH))
        payload = await handlers.parse_json_body(header)
        parsed = parse_request(payload, name, kind.tensor_name)
        booleans = data_may_hold_booleans(header, payload)
        batch = decode_tensor(parsed.tensor, binary, runtime.schema, settings.max_rows, booleans)
        probabilities = await handlers.predict_within_deadline(request, service, runtime, batch)
        model = (name, version_of(runtime))
        return answer(parsed.id, model, probabilities, kind.labels, parsed.outputs, parsed.binary_output)

    return v2_infer


def decode_tensor(
    tensor: Tensor, binary: memoryview, schema: dict[str, object], max_rows: int, booleans_possible: bool
) -> np.ndarray:
    """The input tensor as the float32 batch the model takes, from its JSON data or from the bytes
    after the header; every size is checked against the body before anything is allocated."""
    kind = kind_of(schema)
    tensors.wire_type(tensor.datatype)
    shape = tensors.declared_shape(tensor.shape, kind.tensor_shapes(schema))
    if tensor.binary_size is None:
        if len(binary):
            raise ApiError(
                "invalid_body",
                f"{len(binary)} bytes follow the JSON header but no input has parameters.binary_data_size",
            )
        values = tensors.from_json(tensor.data, tensor.datatype, shape, booleans_possible)
    else:
        if tensor.binary_size != len(binary):
            raise ApiError(
                "invalid_body",
                f"the input's binary_data_size is {tensor.binary_size} bytes but {len(binary)} bytes "
                "follow the JSON header",
            )
        values = tensors.from_bytes(binary, tensor.datatype, shape)
    tensors.check_rows(shape, max_rows)
    value_range = schema.get("value_range")
    bounds = (float(value_range[0]), float(value_range[1])) if isinstance(value_range, list) else None
    return tensors.to_batch(values, (shape[0], *kind.input_shape(schema)), bounds)
