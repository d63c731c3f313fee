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
import orjson

from models.digits import UNSURE_BELOW
from service.errors import ApiError, describe

_NUMBER_TYPES = (int, float)  # exact types: bool is a subclass of int and is refused


def parse_json(body: bytes) -> Any:
    if not body:
        raise ApiError("invalid_json", "the body is empty; send a JSON object")
    try:
        return orjson.loads(body)  # strict JSON, about 4x faster than the standard library
    except orjson.JSONDecodeError:
        pass  # refused by orjson: let the standard parser say why, or accept NaN and huge integers,
    try:  # which validation then reports precisely (not_finite)
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


def _fast_array(items: list[Any], tail: tuple[int, ...]) -> np.ndarray | None:
    """The float32 array, when numpy alone can vouch for it: a numeric dtype (no strings, nulls,
    objects or huge integers), the exact shape, every value within float32's range. None: take the
    slow path, which also finds the precise error. Booleans are the one thing numpy would silently
    turn into numbers next to floats, so the caller uses this only for bodies without them."""
    try:
        with np.errstate(all="ignore"):
            wide = np.array(items)
    except (ValueError, OverflowError):  # ragged
        return None
    if wide.dtype.kind not in "fi" or wide.shape[1:] != tail:
        return None
    if wide.dtype.kind == "f" and not (np.abs(wide) <= FLOAT32_MAX).all():
        return None
    if wide.dtype.kind == "i" and not (np.abs(wide) <= FLOAT32_MAX).all():
        return None
    return wide.astype(np.float32)


def decode_rows(payload: Any, n_features: int, max_rows: int, booleans_possible: bool = True) -> np.ndarray:
    """``{"rows": [[n_features numbers], ...]}`` -> float32 array (N, n_features).

    ``booleans_possible=False`` (the body has no ``true``/``false`` token) allows the fast path."""
    rows = field_list(payload, "rows", max_rows)
    if not booleans_possible and (fast := _fast_array(rows, (n_features,))) is not None:
        return fast
    for index, row in enumerate(rows):
        _check_numbers(row, f"rows[{index}]", n_features)
    return _to_float32(rows, "rows")


def decode_images(
    payload: Any, size: int, max_value: float, max_rows: int, booleans_possible: bool = True
) -> np.ndarray:
    """``{"images": [size x size numbers in 0..max_value, ...]}`` -> float32 array (N, size, size)."""
    images = field_list(payload, "images", max_rows)
    array = None if booleans_possible else _fast_array(images, (size, size))
    if array is None:
        array = _slow_images(images, size)
    if array.min() < 0 or array.max() > max_value:
        bad = int(np.argwhere((array < 0) | (array > max_value))[0][0])
        raise ApiError(
            "out_of_range", f"images[{bad}] has values outside 0..{max_value:g} (the digits grey scale)"
        )
    return array


def _slow_images(images: list[Any], size: int) -> np.ndarray:
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if type(image) is not list or len(image) != size:
            got = f"{len(image)} rows" if type(image) is list else describe(image)
            raise ApiError("invalid_shape", f"{where} must be {size} rows of {size} numbers, got {got}")
        for row_index, row in enumerate(image):
            _check_numbers(row, f"{where}[{row_index}]", size)
    return _to_float32(images, "images")


def may_hold_booleans(body: bytes) -> bool:
    """False only when the body has no ``true``/``false`` token anywhere (a substring test, so a
    string containing "true" just takes the slow path)."""
    return b"true" in body or b"false" in body


_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def tabular_labels(probabilities: np.ndarray) -> np.ndarray:
    """Class 1 where its probability is at least 0.5, else 0 (int64)."""
    return (probabilities >= 0.5).astype(np.int64)


def top_class_labels(probabilities: np.ndarray) -> np.ndarray:
    """The most probable class of each row (int64)."""
    labels: np.ndarray = probabilities.argmax(axis=1).astype(np.int64)
    return labels


def encode_tabular(model_tag: str, probabilities: np.ndarray) -> bytes:
    """Probabilities of class 1 -> the /classify answer."""
    # float32 values are written in their shortest exact form (0.9364689, not 0.9364688396453857).
    labels = tabular_labels(probabilities)
    return orjson.dumps({"model": model_tag, "probabilities": probabilities, "labels": labels}, option=_NUMPY)


def encode_digits(
    model_tag: str,
    probabilities: np.ndarray,
    inputs: np.ndarray | None = None,
    unsure_below: float = UNSURE_BELOW,
) -> bytes:
    """Class probabilities (N, 10) -> the /digits answer: probabilities, labels, the margin between the
    top two probabilities, ``unsure`` where the top probability is below ``unsure_below``, and, when
    ``inputs`` is given (``?explain=1``), the 8x8 grids the model saw."""
    labels = top_class_labels(probabilities)
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    answer: dict[str, Any] = {
        "model": model_tag,
        "probabilities": probabilities,
        "labels": labels,
        "margins": (top_two[:, 1] - top_two[:, 0]).astype(np.float32),
        "unsure": top_two[:, 1] < unsure_below,
    }
    if inputs is not None:
        answer["inputs"] = inputs.reshape(len(probabilities), *inputs.shape[-2:]).astype(np.float32)
    return orjson.dumps(answer, option=_NUMPY)
