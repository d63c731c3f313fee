"""The structure of a V2 inference request: the body split at Inference-Header-Content-Length, the JSON
header's fields checked exactly (types, names, the binary extension's parameters), nothing decoded yet.

Pure functions: a malformed request becomes an ApiError with a contract code (400 under /v2), with a
message that says what was wrong and what is expected and never echoes more than a short name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.errors import ApiError, describe

HEADER_LENGTH = "inference-header-content-length"
OUTPUTS = ("probabilities", "labels")  # what every model answers (service/v2/answer.py)
MAX_HEADER_DIGITS = 12  # no body is a terabyte, and int() raises past 4,300 digits


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: Any  # checked by service/v2/tensors.py, which knows the datatypes
    shape: Any
    data: Any  # the JSON data, or None when the bytes follow the header
    binary_size: int | None  # parameters.binary_data_size


@dataclass(frozen=True)
class Output:
    name: str
    binary: bool | None  # parameters.binary_data; None: as the request's binary_data_output says


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    tensor: Tensor
    outputs: tuple[Output, ...]  # in the order the answer lists them
    binary_output: bool  # parameters.binary_data_output: the default for every output


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """(the JSON header, the binary data after it); without Inference-Header-Content-Length the whole
    body is JSON. The binary part is a view of the body, not a copy."""
    if header_length is None:
        return body, memoryview(b"")
    text = header_length.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_HEADER_DIGITS):
        raise ApiError("invalid_body", "Inference-Header-Content-Length must be a whole number of bytes")
    length = int(text)
    if not 0 < length <= len(body):
        raise ApiError(
            "invalid_body",
            f"Inference-Header-Content-Length is {length} but the body has {len(body)} bytes: send the "
            "JSON header's length, then the header, then the tensor bytes",
        )
    return body[:length], memoryview(body)[length:]


def parse_request(payload: Any, model_name: str, input_name: str) -> InferRequest:
    """The request for model ``model_name``, whose one input is called ``input_name``."""
    if not isinstance(payload, dict):
        raise ApiError(
            "invalid_body", f'the body must be a JSON object with an "inputs" list, got {describe(payload)}'
        )
    request_id = payload.get("id")
    if request_id is not None and type(request_id) is not str:
        raise ApiError("invalid_body", f'"id" must be a string, got {describe(request_id)}')
    named = payload.get("model_name", model_name)
    if named != model_name:  # KServe's client names the model in the body too
        raise ApiError("invalid_body", f'"model_name" does not match the model of the path, {model_name}')
    parameters = _parameters(payload, "the request")
    binary_output = _flag(parameters, "binary_data_output", "the request") is True
    return InferRequest(
        request_id, _tensor(payload.get("inputs"), input_name), _outputs(payload), binary_output
    )


def data_may_hold_booleans(header: bytes, payload: Any) -> bool:
    """False when no true/false token of the body can be inside the tensor's data: there are no more
    such tokens than booleans elsewhere in the request (tritonclient sends "binary_data": false with
    every JSON request, which would otherwise send every such request down the slow type check)."""
    tokens = header.count(b"true") + header.count(b"false")
    if tokens == 0:
        return False
    booleans, pending = 0, [payload]
    while pending:
        item = pending.pop()
        values = [v for k, v in item.items() if k != "data"] if isinstance(item, dict) else item
        for value in values if isinstance(values, list) else []:
            booleans += type(value) is bool
            if isinstance(value, dict | list):
                pending.append(value)
    return tokens > booleans


def _tensor(inputs: Any, input_name: str) -> Tensor:
    if type(inputs) is not list or not inputs:
        raise ApiError("invalid_body", f'"inputs" must be a list holding one tensor named "{input_name}"')
    if len(inputs) > 1:
        raise ApiError("invalid_body", f'"inputs" has {len(inputs)} tensors; send one, named "{input_name}"')
    tensor = inputs[0]
    if not isinstance(tensor, dict):
        raise ApiError("invalid_body", f"inputs[0] must be an object, got {describe(tensor)}")
    for field in ("name", "datatype", "shape"):
        if field not in tensor:
            raise ApiError("invalid_body", f'inputs[0] has no "{field}"')
    if tensor["name"] != input_name:
        raise ApiError(
            "invalid_body", f'unknown input {_short(tensor["name"])}; this model takes "{input_name}"'
        )
    size = _binary_size(_parameters(tensor, "inputs[0]"))
    data = tensor.get("data")
    if (size is None) == (data is None):
        raise ApiError(
            "invalid_body",
            'inputs[0] must carry either "data" or parameters.binary_data_size (its bytes after the header)',
        )
    return Tensor(input_name, tensor["datatype"], tensor["shape"], data, size)


def _binary_size(parameters: dict[str, Any]) -> int | None:
    size = parameters.get("binary_data_size")
    if size is not None and (type(size) is not int or size < 0):
        raise ApiError("invalid_body", "parameters.binary_data_size must be a whole number of bytes")
    return size


def _outputs(payload: dict[str, Any]) -> tuple[Output, ...]:
    """The requested outputs, or every output when none are named (an empty list names none)."""
    requested = payload.get("outputs")
    if requested is None or requested == []:
        return tuple(Output(name, None) for name in OUTPUTS)
    if type(requested) is not list:
        raise ApiError("invalid_body", f'"outputs" must be a list, got {describe(requested)}')
    outputs: list[Output] = []
    for index, output in enumerate(requested):
        where = f"outputs[{index}]"
        if not isinstance(output, dict) or output.get("name") not in OUTPUTS:
            name = _short(output.get("name")) if isinstance(output, dict) else describe(output)
            raise ApiError(
                "invalid_body", f"{where} names an unknown output {name}; choose from {list(OUTPUTS)}"
            )
        parameters = _parameters(output, where)
        if "classification" in parameters:
            raise ApiError("invalid_body", "the classification extension is not supported; ask for labels")
        if any(seen.name == output["name"] for seen in outputs):
            raise ApiError("invalid_body", f'{where} asks for "{output["name"]}" a second time')
        outputs.append(Output(output["name"], _flag(parameters, "binary_data", where)))
    return tuple(outputs)


def _parameters(holder: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = holder.get("parameters", {})
    if not isinstance(parameters, dict):
        raise ApiError(
            "invalid_body", f'"parameters" of {where} must be an object, got {describe(parameters)}'
        )
    return parameters


def _flag(parameters: dict[str, Any], name: str, where: str) -> bool | None:
    value = parameters.get(name)
    if value is not None and type(value) is not bool:
        raise ApiError("invalid_body", f"parameters.{name} of {where} must be true or false")
    return value


def _short(value: Any) -> str:
    """A name for an error message: quoted and cut short, or the JSON type of what was sent."""
    return repr(value[:40]) if type(value) is str else describe(value)
