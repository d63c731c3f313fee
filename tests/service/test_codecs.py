"""Pure request codecs and the error shape: every kind of bad body maps to its contract code and status."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.codecs import (
    decode_images,
    decode_rows,
    encode_digits,
    encode_tabular,
    may_hold_booleans,
    parse_json,
)
from service.errors import RETRY_AFTER_SECONDS, STATUS, ApiError, describe, error_response

N_FEATURES = 10
SIZE = 8
MAX_VALUE = 16.0
MAX_ROWS = 4
HUGE = "x" * 10_000  # a large value that must never come back in an error detail
ROW = [0.5, 1, -2.25, 0, 3.0e38, -0.0, 7, 1e-30, 42, -1]
IMAGE = [[float((r * SIZE + c) % 17) for c in range(SIZE)] for r in range(SIZE)]


def rows_from_body(body: bytes) -> np.ndarray:
    """What /classify does with a body: parse, then validate."""
    return decode_rows(parse_json(body), N_FEATURES, MAX_ROWS)


def images_from_body(body: bytes) -> np.ndarray:
    """What /digits does with a body: parse, then validate."""
    return decode_images(parse_json(body), SIZE, MAX_VALUE, MAX_ROWS)


def row_body(*rows: str) -> bytes:
    """A /classify body whose rows are given as raw JSON text (so NaN, 1e39, 10**400 stay literal)."""
    return ('{"rows": [' + ", ".join(rows) + "]}").encode()


def row_with(value: str, width: int = N_FEATURES) -> str:
    """One row of ``width`` JSON values: zeros with ``value`` in the middle."""
    cells = ["0"] * width
    cells[width // 2] = value
    return "[" + ", ".join(cells) + "]"


def image_body(*images: Any) -> bytes:
    return json.dumps({"images": list(images)}).encode()


def image_with(value: Any, shape: tuple[int, int] = (SIZE, SIZE)) -> list[list[Any]]:
    """One image of ``shape``: ones with ``value`` in one cell."""
    image: list[list[Any]] = [[1.0] * shape[1] for _ in range(shape[0])]
    image[shape[0] // 2][shape[1] // 2] = value
    return image


def assert_refused(error: ApiError, code: str, status: int) -> None:
    """The contract's code and status, and a short detail that does not echo the input."""
    assert (error.code, error.status) == (code, status), error.detail
    assert 0 < len(error.detail) < 300
    assert "x" * 50 not in error.detail


GOOD_ROW = row_with("0.5")

ROW_CASES: dict[str, tuple[bytes, str, int]] = {
    "empty body": (b"", "invalid_json", 400),
    "non-JSON bytes": (b"\x00\x01\x02 not json at all", "invalid_json", 400),
    "invalid UTF-8": (b'{"rows": [[\xff\xfe]]}', "invalid_json", 400),
    "lone invalid UTF-8 byte": (b"\xff", "invalid_json", 400),
    "truncated JSON": (b'{"rows": [[1, 2, 3', "invalid_json", 400),
    "trailing garbage": (b'{"rows": []} extra', "invalid_json", 400),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, "invalid_json", 400),
    "a list": (f"[{GOOD_ROW}]".encode(), "invalid_body", 400),
    "an empty list": (b"[]", "invalid_body", 400),
    "a number": (b"3.5", "invalid_body", 400),
    "a string": (b'"rows"', "invalid_body", 400),
    "null": (b"null", "invalid_body", 400),
    "a boolean": (b"true", "invalid_body", 400),
    "no rows field": (b"{}", "invalid_body", 400),
    "images instead of rows": (f'{{"images": [{GOOD_ROW}]}}'.encode(), "invalid_body", 400),
    "rows is an object": (b'{"rows": {"0": [1]}}', "invalid_shape", 422),
    "rows is a string": (b'{"rows": "1,2,3"}', "invalid_shape", 422),
    "rows is a number": (b'{"rows": 10}', "invalid_shape", 422),
    "rows is null": (b'{"rows": null}', "invalid_shape", 422),
    "rows is empty": (b'{"rows": []}', "invalid_shape", 422),
    "too many rows": (row_body(*[GOOD_ROW] * (MAX_ROWS + 1)), "too_many_rows", 413),
    "too many bad rows": (row_body(*["[]"] * (MAX_ROWS + 1)), "too_many_rows", 413),
    "row of 9": (row_body(row_with("1", 9)), "invalid_shape", 422),
    "row of 11": (row_body(row_with("1", 11)), "invalid_shape", 422),
    "empty row": (row_body("[]"), "invalid_shape", 422),
    "ragged rows": (row_body(GOOD_ROW, row_with("1", 9)), "invalid_shape", 422),
    "flat list of numbers": (row_body(*["1"] * MAX_ROWS), "invalid_shape", 422),
    "row is an object": (row_body('{"a": 1}'), "invalid_shape", 422),
    "row is a string": (row_body('"0,0,0,0,0,0,0,0,0,0"'), "invalid_shape", 422),
    "row is null": (row_body("null"), "invalid_shape", 422),
    "3-D rows": (row_body(f"[{', '.join([GOOD_ROW] * N_FEATURES)}]"), "invalid_shape", 422),
    "one nested value": (row_body(row_with("[1]")), "invalid_shape", 422),
    "string value": (row_body(row_with('"1.5"')), "invalid_type", 422),
    "true": (row_body(row_with("true")), "invalid_type", 422),
    "false": (row_body(row_with("false")), "invalid_type", 422),
    "null value": (row_body(row_with("null")), "invalid_type", 422),
    "object value": (row_body(row_with("{}")), "invalid_type", 422),
    "NaN": (row_body(row_with("NaN")), "not_finite", 422),
    "Infinity": (row_body(row_with("Infinity")), "not_finite", 422),
    "-Infinity": (row_body(row_with("-Infinity")), "not_finite", 422),
    "1e400 (inf in float64)": (row_body(row_with("1e400")), "not_finite", 422),
    "1e39 (inf in float32)": (row_body(row_with("1e39")), "not_finite", 422),
    "-1e39": (row_body(row_with("-1e39")), "not_finite", 422),
    "10**39 as an integer": (row_body(row_with(str(10**39))), "not_finite", 422),
    "10**400 as an integer": (row_body(row_with(str(10**400))), "not_finite", 422),
    "-(10**400) as an integer": (row_body(GOOD_ROW, row_with(str(-(10**400)))), "not_finite", 422),
}


@pytest.mark.parametrize(("body", "code", "status"), list(ROW_CASES.values()), ids=list(ROW_CASES))
def test_bad_rows_body_is_refused_with_its_code(body: bytes, code: str, status: int) -> None:
    """Each kind of bad /classify body gets the code and status the contract gives it, not a 500."""
    with pytest.raises(ApiError) as caught:
        rows_from_body(body)
    assert_refused(caught.value, code, status)


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers_even_in_a_valid_row(value: bool) -> None:
    """bool is an int subclass in Python; the contract still refuses it (checked on the decoded payload)."""
    row: list[Any] = [0.0] * N_FEATURES
    row[3] = value
    with pytest.raises(ApiError) as caught:
        decode_rows({"rows": [row]}, N_FEATURES, MAX_ROWS)
    assert_refused(caught.value, "invalid_type", 422)
    assert "rows[0][3]" in caught.value.detail


def test_detail_points_at_the_bad_row_and_value() -> None:
    """A client fixing a large batch needs the index of the offending value."""
    with pytest.raises(ApiError) as caught:
        rows_from_body(row_body(GOOD_ROW, GOOD_ROW, row_with('"a"')))
    assert f"rows[2][{N_FEATURES // 2}]" in caught.value.detail


def test_huge_integer_literal_is_a_clean_client_error() -> None:
    """A 5,000-digit integer is beyond Python's int-parsing limit; it must still be a short 4xx, not a crash."""
    with pytest.raises(ApiError) as caught:
        rows_from_body(row_body(row_with("9" * 5_000)))
    assert caught.value.code in {"invalid_json", "not_finite"}
    assert 400 <= caught.value.status < 500
    assert len(caught.value.detail) < 300


HUGE_CASES: dict[str, tuple[bytes, str, int]] = {
    "huge value in a row": (row_body(row_with(json.dumps(HUGE))), "invalid_type", 422),
    "huge string as rows": (json.dumps({"rows": HUGE}).encode(), "invalid_shape", 422),
    "huge string as a row": (json.dumps({"rows": [HUGE]}).encode(), "invalid_shape", 422),
    "huge string as the body": (json.dumps(HUGE).encode(), "invalid_body", 400),
    "huge key instead of rows": (json.dumps({HUGE: [[0] * N_FEATURES]}).encode(), "invalid_body", 400),
    "huge non-JSON body": (HUGE.encode(), "invalid_json", 400),
    "huge truncated string": (b'{"rows": [["' + HUGE.encode(), "invalid_json", 400),
    "huge bad number": (row_body(row_with("1" + "x" * 10_000)), "invalid_json", 400),
}


@pytest.mark.parametrize(("body", "code", "status"), list(HUGE_CASES.values()), ids=list(HUGE_CASES))
def test_detail_never_echoes_a_large_input(body: bytes, code: str, status: int) -> None:
    """Error details describe the input's type, never its content: a 10,000-character value stays out."""
    with pytest.raises(ApiError) as caught:
        rows_from_body(body)
    assert_refused(caught.value, code, status)
    assert HUGE not in caught.value.detail


def test_good_rows_become_float32_equal_to_the_input() -> None:
    """Floats, integers, -0.0 and values near float32's limit all pass, unchanged but for float32 rounding."""
    rows = [ROW, [float(i) for i in range(N_FEATURES)], list(range(N_FEATURES))]
    array = decode_rows({"rows": rows}, N_FEATURES, MAX_ROWS)
    assert array.dtype == np.float32
    assert array.shape == (3, N_FEATURES)
    np.testing.assert_array_equal(array, np.array(rows, dtype=np.float32))


def test_integer_rows_are_accepted() -> None:
    """JSON has no int/float distinction a client controls reliably; 1 and 1.0 must both work."""
    array = rows_from_body(row_body(*["[" + ", ".join(str(i) for i in range(N_FEATURES)) + "]"] * 2))
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, np.tile(np.arange(N_FEATURES, dtype=np.float32), (2, 1)))


def test_exactly_max_rows_is_accepted() -> None:
    """The limit is inclusive: max_rows rows are fine, one more is too_many_rows."""
    assert rows_from_body(row_body(*[GOOD_ROW] * MAX_ROWS)).shape == (MAX_ROWS, N_FEATURES)


GOOD_IMAGE = image_with(16.0)

IMAGE_CASES: dict[str, tuple[bytes, str, int]] = {
    "rows instead of images": (json.dumps({"rows": [GOOD_IMAGE]}).encode(), "invalid_body", 400),
    "not an object": (json.dumps([GOOD_IMAGE]).encode(), "invalid_body", 400),
    "images is an object": (b'{"images": {}}', "invalid_shape", 422),
    "images is a string": (b'{"images": "digits"}', "invalid_shape", 422),
    "images is empty": (b'{"images": []}', "invalid_shape", 422),
    "too many images": (image_body(*[GOOD_IMAGE] * (MAX_ROWS + 1)), "too_many_rows", 413),
    "8x9 image": (image_body(image_with(1.0, (8, 9))), "invalid_shape", 422),
    "9x8 image": (image_body(image_with(1.0, (9, 8))), "invalid_shape", 422),
    "7x8 image": (image_body(image_with(1.0, (7, 8))), "invalid_shape", 422),
    "flat list of 64": (image_body([1.0] * SIZE * SIZE), "invalid_shape", 422),
    "flat list of 8": (image_body([1.0] * SIZE), "invalid_shape", 422),
    "image is a string": (image_body("8x8"), "invalid_shape", 422),
    "image is a number": (image_body(3), "invalid_shape", 422),
    "image row is a number": (image_body([*GOOD_IMAGE[:7], 1.0]), "invalid_shape", 422),
    "ragged image": (image_body([*GOOD_IMAGE[:7], [1.0] * 7]), "invalid_shape", 422),
    "4-D images": (image_body([[[1.0] * SIZE] * SIZE] * SIZE), "invalid_shape", 422),
    "string pixel": (image_body(image_with("1")), "invalid_type", 422),
    "true pixel": (image_body(image_with(True)), "invalid_type", 422),
    "false pixel": (image_body(image_with(False)), "invalid_type", 422),
    "null pixel": (image_body(image_with(None)), "invalid_type", 422),
    "NaN pixel": (image_body(image_with(math.nan)), "not_finite", 422),
    "inf pixel": (image_body(image_with(math.inf)), "not_finite", 422),
    "1e39 pixel": (image_body(image_with(1e39)), "not_finite", 422),
    "-1 pixel": (image_body(GOOD_IMAGE, image_with(-1)), "out_of_range", 422),
    "16.5 pixel": (image_body(GOOD_IMAGE, image_with(16.5)), "out_of_range", 422),
    "huge string pixel": (image_body(image_with(HUGE)), "invalid_type", 422),
}


@pytest.mark.parametrize(("body", "code", "status"), list(IMAGE_CASES.values()), ids=list(IMAGE_CASES))
def test_bad_images_body_is_refused_with_its_code(body: bytes, code: str, status: int) -> None:
    """Each kind of bad /digits body gets the code and status the contract gives it."""
    with pytest.raises(ApiError) as caught:
        images_from_body(body)
    assert_refused(caught.value, code, status)
    assert HUGE not in caught.value.detail


def test_out_of_range_names_the_offending_image() -> None:
    """The detail says which image of the batch is outside the grey scale."""
    with pytest.raises(ApiError) as caught:
        images_from_body(image_body(GOOD_IMAGE, GOOD_IMAGE, image_with(17)))
    assert "images[2]" in caught.value.detail


def test_good_images_become_float32_n_8_8() -> None:
    """Integers and floats, including both ends of 0..16, are accepted and kept exactly."""
    images = [IMAGE, [[0] * SIZE] * SIZE, [[16] * SIZE] * SIZE]
    array = images_from_body(image_body(*images))
    assert array.dtype == np.float32
    assert array.shape == (3, SIZE, SIZE)
    np.testing.assert_array_equal(array, np.array(images, dtype=np.float32))


def test_encode_tabular_answers_one_label_per_row_in_order() -> None:
    """labels are probability >= 0.5 (0.5 itself is class 1), in the order of the rows."""
    probabilities = np.array([0.1, 0.5, 0.9, 0.4999], dtype=np.float32)
    answer = json.loads(encode_tabular("tabular-classifier:v1", probabilities))
    assert set(answer) == {"model", "probabilities", "labels"}
    assert answer["model"] == "tabular-classifier:v1"
    assert answer["probabilities"] == pytest.approx(probabilities.tolist())
    assert answer["labels"] == [0, 1, 1, 0]


def test_encode_digits_answers_argmax_per_row_in_order() -> None:
    """labels are each row's argmax; probabilities keep their (N, 10) nesting."""
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10), size=5).astype(np.float32)
    answer = json.loads(encode_digits("digits-cnn:v2", probabilities, unsure_below=0.5))
    assert set(answer) == {"model", "probabilities", "labels", "margins", "unsure"}  # no inputs unasked
    assert answer["model"] == "digits-cnn:v2"
    assert len(answer["probabilities"]) == 5
    assert all(len(row) == 10 for row in answer["probabilities"])
    np.testing.assert_allclose(answer["probabilities"], probabilities, rtol=1e-6)
    assert answer["labels"] == [int(i) for i in probabilities.argmax(axis=1)]
    assert all(type(label) is int for label in answer["labels"])
    ordered = np.sort(probabilities, axis=1)
    np.testing.assert_allclose(answer["margins"], ordered[:, -1] - ordered[:, -2], rtol=1e-6)
    assert answer["unsure"] == [bool(top < 0.5) for top in ordered[:, -1]]


def test_encode_digits_explains_with_the_grids_the_model_saw() -> None:
    grids = np.arange(2 * 64, dtype=np.float32).reshape(2, 8, 8) % 17
    probabilities = np.full((2, 10), 0.1, dtype=np.float32)
    answer = json.loads(encode_digits("digits-cnn:v2", probabilities, grids))
    assert np.asarray(answer["inputs"]).shape == (2, 8, 8)
    np.testing.assert_array_equal(answer["inputs"], grids)
    assert answer["unsure"] == [True, True]  # ten equal probabilities: nothing to be sure of


EXPECTED_STATUS = {
    "invalid_json": 400,
    "invalid_body": 400,
    "unauthorized": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "reload_refused": 409,
    "request_timeout": 408,
    "body_too_large": 413,
    "too_many_rows": 413,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_shape": 422,
    "invalid_type": 422,
    "not_finite": 422,
    "out_of_range": 422,
    "invalid_image": 422,
    "internal_error": 500,
    "overloaded": 503,
    "deadline_exceeded": 503,
    "not_ready": 503,
}


def test_status_table_matches_the_contract() -> None:
    """Clients key on these codes and statuses (docs/serving.md, "Errors"); a change is a breaking change."""
    assert STATUS == EXPECTED_STATUS


@pytest.mark.parametrize("code", sorted(EXPECTED_STATUS))
def test_error_response_shape(code: str) -> None:
    """Every error is JSON {"error", "detail"} with the code's status; only the 503s carry Retry-After."""
    response = error_response(code, "what was wrong")
    assert response.status_code == EXPECTED_STATUS[code]
    assert response.headers["content-type"] == "application/json"
    assert json.loads(bytes(response.body)) == {"error": code, "detail": "what was wrong"}
    if EXPECTED_STATUS[code] == 503:
        assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert int(response.headers["retry-after"]) > 0
    else:
        assert "retry-after" not in response.headers


def test_api_error_refuses_unknown_codes() -> None:
    """A typo in a code would otherwise reach clients as a code the contract does not list."""
    with pytest.raises(ValueError, match="unknown error code"):
        ApiError("bad_request", "nope")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "a boolean"),
        (False, "a boolean"),
        (0, "a number"),
        (1.5, "a number"),
        (HUGE, "a string"),
        (None, "null"),
        ({"k": HUGE}, "an object"),
        ([HUGE], "a list"),
    ],
)
def test_describe_names_the_type_not_the_content(value: object, expected: str) -> None:
    """describe() is what keeps details short: booleans are not numbers, strings are not echoed."""
    assert describe(value) == expected


# JSON-like values, with NaN and infinities, plus lists that look almost like valid rows.
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=40,
)
numbers = st.integers() | st.floats()
row_like = st.lists(numbers, min_size=N_FEATURES, max_size=N_FEATURES) | st.lists(
    numbers | scalars, min_size=N_FEATURES - 1, max_size=N_FEATURES + 1
)
near_rows = st.lists(row_like, max_size=MAX_ROWS + 1)
image_row_like = st.lists(numbers, min_size=SIZE, max_size=SIZE) | st.lists(
    numbers | scalars, min_size=SIZE - 1, max_size=SIZE + 1
)
near_images = st.lists(
    st.lists(image_row_like, min_size=SIZE, max_size=SIZE) | st.lists(image_row_like, max_size=SIZE + 1),
    max_size=MAX_ROWS + 1,
)


def assert_valid_or_refused(decode: Callable[[], np.ndarray], expected_tail: tuple[int, ...]) -> None:
    """Either a finite float32 array of the expected shape, or an ApiError with a 4xx contract code."""
    refusal: ApiError | None = None
    try:
        array = decode()
    except ApiError as error:
        refusal = error
    if refusal is not None:
        assert refusal.code in STATUS
        assert 400 <= refusal.status < 500
        assert 0 < len(refusal.detail) < 300
        return
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.float32
    assert array.shape[1:] == expected_tail
    assert 1 <= array.shape[0] <= MAX_ROWS
    assert np.isfinite(array).all()


@settings(max_examples=300, deadline=None)
@given(value=json_values | near_rows)
def test_decode_rows_never_fails_any_other_way(value: Any) -> None:
    """Whatever a client sends, as the rows field or as the whole body, the answer is data or a 4xx."""
    assert_valid_or_refused(lambda: decode_rows({"rows": value}, N_FEATURES, MAX_ROWS), (N_FEATURES,))
    assert_valid_or_refused(lambda: rows_from_body(json.dumps(value).encode()), (N_FEATURES,))
    assert_valid_or_refused(lambda: rows_from_body(json.dumps({"rows": value}).encode()), (N_FEATURES,))


@settings(max_examples=300, deadline=None)
@given(value=json_values | near_images)
def test_decode_images_never_fails_any_other_way(value: Any) -> None:
    """The same guarantee for /digits bodies."""
    assert_valid_or_refused(lambda: images_from_body(json.dumps({"images": value}).encode()), (SIZE, SIZE))
    assert_valid_or_refused(lambda: images_from_body(json.dumps(value).encode()), (SIZE, SIZE))


def decode_both_ways(decode: Callable[[bool], np.ndarray]) -> tuple[object, object]:
    """(result or error code) of the slow path and of the fast path, for comparison."""
    outcomes: list[object] = []
    for booleans_possible in (True, False):
        try:
            outcomes.append(decode(booleans_possible))
        except ApiError as error:
            outcomes.append((error.code, error.detail))
    return outcomes[0], outcomes[1]


@settings(max_examples=400, deadline=None)
@given(value=near_rows | json_values)
def test_fast_path_agrees_with_the_exact_checks(value: Any) -> None:
    """For bodies without booleans the service lets numpy vouch for the rows; it must accept exactly
    what the per-value checks accept, with the same array, and refuse with the same error."""
    body = json.dumps({"rows": value}).encode()
    if may_hold_booleans(body):
        return  # such bodies always take the exact path
    payload = parse_json(body)
    slow, fast = decode_both_ways(lambda possible: decode_rows(payload, N_FEATURES, MAX_ROWS, possible))
    if isinstance(slow, np.ndarray):
        assert isinstance(fast, np.ndarray)
        assert np.array_equal(slow, fast)
        assert fast.dtype == np.float32
    else:
        assert fast == slow


@settings(max_examples=300, deadline=None)
@given(value=near_images | json_values)
def test_fast_image_path_agrees_with_the_exact_checks(value: Any) -> None:
    body = json.dumps({"images": value}).encode()
    if may_hold_booleans(body):
        return
    payload = parse_json(body)
    slow, fast = decode_both_ways(lambda possible: decode_images(payload, SIZE, 16.0, MAX_ROWS, possible))
    if isinstance(slow, np.ndarray):
        assert isinstance(fast, np.ndarray)
        assert np.array_equal(slow, fast)
    else:
        assert fast == slow


def test_booleans_mixed_with_numbers_are_refused_on_the_service_path() -> None:
    """numpy would turn [true, 1.5] into [1.0, 1.5]: the body check keeps such bodies on the exact path."""
    body = json.dumps({"rows": [[True, *[1.5] * 9]]}).encode()
    assert may_hold_booleans(body)
    with pytest.raises(ApiError) as caught:
        decode_rows(parse_json(body), N_FEATURES, MAX_ROWS, may_hold_booleans(body))
    assert caught.value.code == "invalid_type"
