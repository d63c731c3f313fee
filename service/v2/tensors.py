"""A V2 input tensor -> the float32 batch a model takes: datatypes, declared shapes, JSON and binary data.

Every check that depends on the declared shape is made against what the body actually holds before
anything is allocated from it: a shape of [10**12, 10] backed by ten values is a 400, never an attempt
at a 40 TB array; and rows are bounded by SERVING_MAX_ROWS as in the JSON API.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from service.codecs import FLOAT32_MAX
from service.errors import ApiError, describe

# The datatypes that become float32 as exactly as a JSON number sent to /classify does: FP16 and BF16
# are exact in FP32; FP64 and the integers round to the nearest float32 (integers beyond 2**24 lose
# their last bits, as they do in the JSON API). Binary data is little-endian, as the protocol says.
WIRE_TYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(code)
    for name, code in {
        "FP32": "<f4",
        "FP64": "<f8",
        "FP16": "<f2",
        "BF16": "<u2",  # the upper half of a float32: widened by a shift (numpy has no bfloat16)
        "INT8": "i1",
        "INT16": "<i2",
        "INT32": "<i4",
        "INT64": "<i8",
        "UINT8": "u1",
        "UINT16": "<u2",
        "UINT32": "<u4",
        "UINT64": "<u8",
    }.items()
}
INTEGER_TYPES = frozenset(name for name in WIRE_TYPES if "INT" in name)
# The rest of the protocol's datatypes name no numbers a model of this service could take.
REFUSED_TYPES = frozenset({"BOOL", "BYTES"})


def wire_type(datatype: Any) -> np.dtype[Any]:
    """The numpy dtype of ``datatype`` on the wire, or 400 invalid_type naming what is accepted."""
    if type(datatype) is str and datatype in WIRE_TYPES:
        return WIRE_TYPES[datatype]
    accepted = "send FP32 (FP64, FP16, BF16 and INT8..INT64, UINT8..UINT64 are converted to it)"
    if type(datatype) is str and datatype in REFUSED_TYPES:
        raise ApiError("invalid_type", f"datatype {datatype} is not accepted: {accepted}")
    shown = repr(datatype[:16]) if type(datatype) is str else describe(datatype)
    raise ApiError("invalid_type", f"datatype {shown} is not a numeric V2 datatype: {accepted}")


def declared_shape(shape: Any, accepted: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """The declared shape when it is [N, *one of the accepted shapes of one input], N >= 0."""
    expected = " or ".join(str(["N", *item]).replace("'", "") for item in accepted)
    if type(shape) is not list or not all(type(dim) is int for dim in shape):
        raise ApiError("invalid_shape", f'"shape" must be a list of whole numbers, {expected}')
    if any(dim < 0 for dim in shape):
        raise ApiError("invalid_shape", f'"shape" has a negative dimension; expected {expected}')
    if not shape or tuple(shape[1:]) not in accepted:
        got = f"{len(shape)} dimensions" if len(shape) > 6 else str(shape)  # short: never a long echo
        raise ApiError("invalid_shape", f'"shape" is {got[:80]}; expected {expected}')
    return tuple(shape)


def check_rows(shape: tuple[int, ...], max_rows: int) -> None:
    """The batch dimension: 1 to ``max_rows``, as the JSON API counts rows (413 past the limit)."""
    if shape[0] == 0:
        raise ApiError("invalid_shape", f"the tensor has no rows; send between 1 and {max_rows}")
    if shape[0] > max_rows:
        raise ApiError("too_many_rows", f"the tensor has {shape[0]} rows; at most {max_rows} per request")


def from_bytes(raw: memoryview, datatype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The values in ``raw`` read in place (np.frombuffer, no copy), once their size matches the shape."""
    wire = WIRE_TYPES[datatype]
    needed = math.prod(shape) * wire.itemsize
    if len(raw) != needed:
        raise ApiError(
            "invalid_body",
            f"binary_data_size is {len(raw)} bytes but a {datatype} tensor of the declared shape "
            f"takes {_amount(needed)}",
        )
    values = np.frombuffer(raw, dtype=wire)
    if datatype == "BF16":  # the upper half of a float32: widening is exact
        return (values.astype(np.uint32) << 16).view(np.float32)
    return values


def from_json(data: Any, datatype: str, shape: tuple[int, ...], booleans_possible: bool) -> np.ndarray:
    """The values of ``data`` (flat in row-major order, or nested), once their count matches the shape.

    ``booleans_possible=False`` (no true/false token in the body) lets numpy alone vouch for the types."""
    if type(data) is not list:
        raise ApiError("invalid_type", f'"data" must be a list of numbers, got {describe(data)}')
    if booleans_possible:
        _only_numbers(data)
    with np.errstate(all="ignore"):
        try:
            values = np.array(data)
        except (ValueError, OverflowError):  # ragged nesting
            raise ApiError("invalid_shape", '"data" is ragged: nested lists of different lengths') from None
    if values.dtype.kind not in "iuf":
        values = _numbers_or_refuse(data, datatype)
    count = math.prod(shape)
    if values.size != count:
        raise ApiError(
            "invalid_shape", f'"data" holds {values.size} values; the shape needs {_amount(count)}'
        )
    if datatype in INTEGER_TYPES:
        _check_integers(values, datatype)
    return values.reshape(-1)


def _amount(count: int) -> str:
    return str(count) if count < 10**15 else "more than 10**15"  # a declared shape can be absurd


def _only_numbers(data: list[Any]) -> None:
    """Refuse anything but numbers in nested lists (numpy would silently turn true into 1.0)."""
    pending = [data]
    while pending:
        for value in pending.pop():
            if type(value) is list:
                pending.append(value)
            elif type(value) is not int and type(value) is not float:
                raise ApiError("invalid_type", f'"data" holds {describe(value)}; send numbers only')


def _numbers_or_refuse(data: list[Any], datatype: str) -> np.ndarray:
    """Numbers numpy could not type (integers beyond 64 bits): in float64, or a precise refusal."""
    _only_numbers(data)
    if datatype in INTEGER_TYPES:
        raise ApiError("invalid_type", f'"data" holds integers beyond the range of {datatype}')
    try:
        return np.array(data, dtype=np.float64)
    except OverflowError:
        raise ApiError("not_finite", '"data" holds a number too large for float32') from None


def _check_integers(values: np.ndarray, datatype: str) -> None:
    if values.dtype.kind == "f":
        raise ApiError("invalid_type", f'"data" of a {datatype} tensor must hold whole numbers only')
    limits = np.iinfo(WIRE_TYPES[datatype])
    if values.size and (values.min() < limits.min or values.max() > limits.max):
        raise ApiError("invalid_type", f'"data" holds values outside the range of {datatype}')


def to_batch(
    values: np.ndarray, shape: tuple[int, ...], value_range: tuple[float, float] | None
) -> np.ndarray:
    """Flat values -> the float32 batch of ``shape`` (N, *the model's input shape), finite and within
    ``value_range``. The one copy: torch wants writable, aligned memory, and the body's bytes are neither."""
    if values.dtype.kind == "f":
        _check_finite(values)
    batch = values.astype(np.float32, copy=False)
    if not (batch.flags.writeable and batch.flags.aligned):
        batch = batch.copy()
    batch = batch.reshape(shape)
    if value_range is not None:
        _check_range(batch, *value_range)
    return batch


def _check_finite(values: np.ndarray) -> None:
    # One float64 sum instead of a boolean array as large as the tensor: a NaN or an infinity in,
    # not finite out (float32 values cannot overflow a float64 sum; float64 ones that do are beyond
    # float32 anyway, which the range check below refuses).
    with np.errstate(over="ignore"):
        total = values.sum(dtype=np.float64)
    if not np.isfinite(total):
        finite = np.isfinite(values)
        if not finite.all():
            index = int(np.argmin(finite))
            raise ApiError("not_finite", f"value {index} (row-major) is NaN or infinite; send finite numbers")
    if values.dtype.itemsize > 4 and (values.max() > FLOAT32_MAX or values.min() < -FLOAT32_MAX):
        raise ApiError("not_finite", f"a value is beyond float32 (±{FLOAT32_MAX:.7g})")


def _check_range(batch: np.ndarray, low: float, high: float) -> None:
    if batch.min() < low or batch.max() > high:
        bad = int(((batch < low) | (batch > high)).reshape(len(batch), -1).any(axis=1).argmax())
        raise ApiError("out_of_range", f"row {bad} of the tensor has values outside {low:g}..{high:g}")
