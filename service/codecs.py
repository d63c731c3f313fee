"""Pure functions between HTTP bodies and arrays: parse, validate exactly, encode.

Validation is strict on purpose: booleans are not numbers, ragged or extra nesting is a shape error,
NaN and infinities (and numbers that overflow float32) are refused, so a request either becomes a
well-formed float32 array or an ApiError with a code from the contract.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from service.errors import ApiError, describe

_NUMBER_TYPES = (int, float)  # exact types: bool is a subclass of int and is refused


def parse_json(body: bytes) -> Any:
    if not body:
        raise ApiError("invalid_json", "the body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = error.msg if isinstance(error, json.JSONDecodeError) else type(error).__name__
        raise ApiError("invalid_json", f"the body is not valid JSON ({reason})") from None


def field_list(payload: Any, field: str, max_rows: int) -> list[Any]:
    """The non-empty list under ``payload[field]``, at most ``max_rows`` long."""
    if not isinstance(payload, dict):
        raise ApiError(
            "invalid_body", f'the body must be a JSON object with a "{field}" list, got {describe(payload)}'
        )
    if field not in payload:
        raise ApiError("invalid_body", f'the body has no "{field}" field')
    items = payload[field]
    if not isinstance(items, list):
        raise ApiError("invalid_shape", f'"{field}" must be a list, got {describe(items)}')
    if not items:
        raise ApiError("invalid_shape", f'"{field}" is empty; send between 1 and {max_rows} entries')
    if len(items) > max_rows:
        raise ApiError("too_many_rows", f'"{field}" has {len(items)} entries; at most {max_rows} per request')
    return items


def _check_numbers(values: list[Any], where: str, width: int) -> None:
    if type(values) is not list:
        raise ApiError("invalid_shape", f"{where} must be a list of {width} numbers, got {describe(values)}")
    if len(values) != width:
        raise ApiError("invalid_shape", f"{where} has {len(values)} values; expected {width}")
    for index, value in enumerate(values):
        if type(value) not in _NUMBER_TYPES:
            if type(value) is list:
                raise ApiError("invalid_shape", f"{where}[{index}] is a list; expected a number")
            raise ApiError("invalid_type", f"{where}[{index}] is {describe(value)}; expected a number")
        if type(value) is float and not math.isfinite(value):
            raise ApiError("not_finite", f"{where}[{index}] is {value}; values must be finite numbers")


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _to_float32(values: list[Any], field: str) -> np.ndarray:
    """Check the range in float64, where nothing has rounded yet, then narrow to float32."""
    try:
        wide = np.array(values, dtype=np.float64)
    except OverflowError:  # integers beyond float range
        raise ApiError("not_finite", f'"{field}" holds a number too large for float32') from None
    if not (np.abs(wide) <= FLOAT32_MAX).all():
        raise ApiError("not_finite", f'"{field}" holds a number beyond float32 (±{FLOAT32_MAX:.7g})')
    return wide.astype(np.float32)


def check_output(probabilities: np.ndarray) -> np.ndarray:
    """Refuse to answer with NaN: inputs far outside the training data can overflow inside the model
    (a client's mistake, so a 422 naming the row, not a 500 or invalid JSON)."""
    finite = np.isfinite(probabilities)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise ApiError(
            "not_finite", f"row {row} is too far outside the training data: the model's output overflowed"
        )
    return probabilities


def decode_rows(payload: Any, n_features: int, max_rows: int) -> np.ndarray:
    """``{"rows": [[n_features numbers], ...]}`` -> float32 array (N, n_features)."""
    rows = field_list(payload, "rows", max_rows)
    for index, row in enumerate(rows):
        _check_numbers(row, f"rows[{index}]", n_features)
    return _to_float32(rows, "rows")


def decode_images(payload: Any, size: int, max_value: float, max_rows: int) -> np.ndarray:
    """``{"images": [size x size numbers in 0..max_value, ...]}`` -> float32 array (N, size, size)."""
    images = field_list(payload, "images", max_rows)
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if type(image) is not list or len(image) != size:
            got = f"{len(image)} rows" if type(image) is list else describe(image)
            raise ApiError("invalid_shape", f"{where} must be {size} rows of {size} numbers, got {got}")
        for row_index, row in enumerate(image):
            _check_numbers(row, f"{where}[{row_index}]", size)
    array = _to_float32(images, "images")
    if array.min() < 0 or array.max() > max_value:
        bad = int(np.argwhere((array < 0) | (array > max_value))[0][0])
        raise ApiError(
            "out_of_range", f"images[{bad}] has values outside 0..{max_value:g} (the digits grey scale)"
        )
    return array


def encode_tabular(model_tag: str, probabilities: np.ndarray) -> bytes:
    """Probabilities of class 1 -> the /classify answer."""
    return json.dumps(
        {
            "model": model_tag,
            "probabilities": probabilities.tolist(),
            "labels": (probabilities >= 0.5).astype(np.int64).tolist(),
        },
        allow_nan=False,
    ).encode()


def encode_digits(model_tag: str, probabilities: np.ndarray) -> bytes:
    """Class probabilities (N, 10) -> the /digits answer."""
    return json.dumps(
        {
            "model": model_tag,
            "probabilities": probabilities.tolist(),
            "labels": probabilities.argmax(axis=1).tolist(),
        },
        allow_nan=False,
    ).encode()
