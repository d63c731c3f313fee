"""Malformed V2 requests in-process: each gets a 4xx in the protocol's error shape with the stable code,
the service counts it, logs it without a traceback, allocates nothing from an unbacked shape, and
stays ready and correct afterwards.

Tried (JSON bodies): an empty body, invalid JSON, too deeply nested JSON, a body that is not an object,
no / empty / two / non-object inputs, an input without datatype, an unknown input name, data of the
wrong length, a wrong row width, negative, absurd (10**12 rows behind 10 values), non-integer, boolean
and missing dimensions, zero rows, ragged nested data, strings / booleans (also beside "binary_data": false) / null / an object as data,
NaN, infinity, numbers beyond float32 (and beyond float64), BOOL / BYTES / unknown / non-string
datatypes, fractions and out-of-range values for integer datatypes, unknown / duplicate / classification
outputs, "outputs" and "parameters" of the wrong type, a non-boolean binary_data_output, a numeric id,
a model_name that is not the path's, data and binary_data_size together or neither, digits outside
0..16, image shapes 9x9 and with 2 channels, more rows than SERVING_MAX_ROWS.
(binary bodies): an Inference-Header-Content-Length that is not a number (or a non-ASCII digit), zero,
past the body's end, or cutting the JSON; binary_data_size larger or smaller than the bytes after the
header, negative or a string; bytes after the header that no input claims; a size that does not fit
the declared shape (including an absurd shape); NaN, infinity and FP64 beyond float32 in the bytes;
digits outside 0..16; BYTES data; too many rows.
(HTTP): wrong content types (415), a body over the limit (413, refused before it is read), a bad
X-Request-Deadline-Ms (refused by the load shedder), an unknown path under /v2 and a wrong method.
"""

from __future__ import annotations

import json
import logging
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.service.test_v2 import (
    DIGITS,
    HEADER_LENGTH,
    MAX_ROWS,
    TABULAR,
    assert_v2_error,
    binary_body,
    binary_tensor,
    images,
    outputs_of,
    rows,
    tensor,
    v2_client,
)

TAB, DIG = f"/v2/models/{TABULAR}/infer", f"/v2/models/{DIGITS}/infer"
GOOD = tensor(rows(1))
VALUES = GOOD["data"]


@pytest.fixture(scope="module")
def client(trained_store: Path) -> Iterator[TestClient]:
    yield from v2_client()


def body(**changes: Any) -> bytes:
    """A good one-row tabular request with ``changes`` to its tensor (None removes a field)."""
    described = {**GOOD, **changes}
    return json.dumps({"inputs": [{k: v for k, v in described.items() if v is not None}]}).encode()


def request(**fields: Any) -> bytes:
    return json.dumps({"inputs": [GOOD], **fields}).encode()


JSON_CASES: list[tuple[str, str, bytes, str]] = [
    # (what, path, body, code)
    ("empty body", TAB, b"", "invalid_json"),
    ("invalid JSON", TAB, b'{"inputs": [', "invalid_json"),
    ("not UTF-8", TAB, b"\xff\xfe", "invalid_json"),
    ("nested 5000 deep", TAB, b"[" * 5000 + b"]" * 5000, "invalid_json"),
    ("not an object", TAB, b"[1, 2]", "invalid_body"),
    ("no inputs", TAB, b"{}", "invalid_body"),
    ("empty inputs", TAB, b'{"inputs": []}', "invalid_body"),
    ("two inputs", TAB, json.dumps({"inputs": [GOOD, GOOD]}).encode(), "invalid_body"),
    ("input not an object", TAB, b'{"inputs": [5]}', "invalid_body"),
    ("no datatype", TAB, body(datatype=None), "invalid_body"),
    ("unknown input name", TAB, body(name="INPUT0"), "invalid_body"),
    ("data too short", TAB, body(data=VALUES[:9]), "invalid_shape"),
    ("data too long", TAB, body(data=[*VALUES, 1.0]), "invalid_shape"),
    ("row width 9", TAB, body(shape=[1, 9], data=VALUES[:9]), "invalid_shape"),
    ("negative dimension", TAB, body(shape=[-1, 10]), "invalid_shape"),
    ("absurd unbacked shape", TAB, body(shape=[10**12, 10]), "invalid_shape"),
    ("huge dimension", TAB, body(shape=[10**30, 10]), "invalid_shape"),
    ("fractional dimension", TAB, body(shape=[1, 10.0]), "invalid_shape"),
    ("boolean dimension", TAB, body(shape=[True, 10]), "invalid_shape"),
    ("shape not a list", TAB, body(shape="1,10"), "invalid_shape"),
    ("one dimension", TAB, body(shape=[10]), "invalid_shape"),
    ("zero rows", TAB, body(shape=[0, 10], data=[]), "invalid_shape"),
    ("ragged data", TAB, body(shape=[2, 10], data=[VALUES, VALUES[:5]]), "invalid_shape"),
    ("a string", TAB, body(data=["1", *VALUES[1:]]), "invalid_type"),
    ("a boolean", TAB, body(data=[True, *VALUES[1:]]), "invalid_type"),
    (
        "a boolean beside binary_data false",
        TAB,
        request(
            inputs=[{**GOOD, "data": [False, *VALUES[1:]]}],
            outputs=[{"name": "labels", "parameters": {"binary_data": False}}],
        ),
        "invalid_type",
    ),
    ("null", TAB, body(data=[None, *VALUES[1:]]), "invalid_type"),
    ("data an object", TAB, body(data={"a": 1}), "invalid_type"),
    (
        "NaN",
        TAB,
        json.dumps({"inputs": [{**GOOD, "data": [float("nan"), *VALUES[1:]]}]}).encode(),
        "not_finite",
    ),
    (
        "Infinity",
        TAB,
        json.dumps({"inputs": [{**GOOD, "data": [float("inf"), *VALUES[1:]]}]}).encode(),
        "not_finite",
    ),
    ("beyond float32", TAB, body(data=[1e39, *VALUES[1:]]), "not_finite"),
    ("FP64 beyond float32", TAB, body(datatype="FP64", data=[-1e39, *VALUES[1:]]), "not_finite"),
    ("beyond float64", TAB, body(data=[10**400, *VALUES[1:]]), "not_finite"),
    ("BOOL", TAB, body(datatype="BOOL"), "invalid_type"),
    ("BYTES", TAB, body(datatype="BYTES"), "invalid_type"),
    ("unknown datatype", TAB, body(datatype="FP128"), "invalid_type"),
    ("datatype a number", TAB, body(datatype=32), "invalid_type"),
    ("INT32 fraction", TAB, body(datatype="INT32", data=[1.5, *range(9)]), "invalid_type"),
    ("UINT8 out of range", TAB, body(datatype="UINT8", data=[300, *range(9)]), "invalid_type"),
    ("INT64 beyond 64 bits", TAB, body(datatype="INT64", data=[2**70, *range(9)]), "invalid_type"),
    ("unknown output", TAB, request(outputs=[{"name": "OUTPUT0"}]), "invalid_body"),
    ("duplicate output", TAB, request(outputs=[{"name": "labels"}, {"name": "labels"}]), "invalid_body"),
    (
        "classification",
        TAB,
        request(outputs=[{"name": "labels", "parameters": {"classification": 2}}]),
        "invalid_body",
    ),
    ("outputs an object", TAB, request(outputs={"name": "labels"}), "invalid_body"),
    ("output not an object", TAB, request(outputs=["labels"]), "invalid_body"),
    (
        "binary_data not a flag",
        TAB,
        request(outputs=[{"name": "labels", "parameters": {"binary_data": 1}}]),
        "invalid_body",
    ),
    ("parameters a list", TAB, request(parameters=[]), "invalid_body"),
    ("binary_data_output a string", TAB, request(parameters={"binary_data_output": "yes"}), "invalid_body"),
    ("id a number", TAB, request(id=7), "invalid_body"),
    ("another model_name", TAB, request(model_name=DIGITS), "invalid_body"),
    ("data and binary size", TAB, body(parameters={"binary_data_size": 40}), "invalid_body"),
    ("neither data nor binary", TAB, body(data=None), "invalid_body"),
    (
        "digit 17",
        DIG,
        json.dumps({"inputs": [tensor(np.full((1, 8, 8), 17.0), name="images")]}).encode(),
        "out_of_range",
    ),
    (
        "digit -1",
        DIG,
        json.dumps({"inputs": [tensor(np.full((2, 8, 8), -1.0), name="images")]}).encode(),
        "out_of_range",
    ),
    (
        "image 9x9",
        DIG,
        json.dumps({"inputs": [tensor(np.zeros((1, 9, 9)), name="images")]}).encode(),
        "invalid_shape",
    ),
    (
        "two channels",
        DIG,
        json.dumps({"inputs": [tensor(np.zeros((1, 2, 8, 8)), name="images")]}).encode(),
        "invalid_shape",
    ),
    ("too many rows", TAB, json.dumps({"inputs": [tensor(rows(MAX_ROWS + 1))]}).encode(), "too_many_rows"),
]


def _binary(
    described: dict[str, Any], raw: bytes, length: str | None = None, path: str = TAB
) -> tuple[str, bytes, dict[str, Any]]:
    content, headers = binary_body({"inputs": [described]}, raw)
    # Header values travel as latin-1 bytes: a non-ASCII digit like "²" reaches the server as is.
    return path, content, headers if length is None else {HEADER_LENGTH: length.encode("latin-1")}


ONE_ROW = binary_tensor(rows(1), "FP32")
WITH_NAN = binary_tensor(np.array([[np.nan, *range(9)]], dtype="<f4"), "FP32")
HEADER_SIZE = len(json.dumps({"inputs": [ONE_ROW[0]]}))

BINARY_CASES: list[tuple[str, tuple[str, bytes, dict[str, Any]], str]] = [
    ("header length not a number", _binary(*ONE_ROW, length="forty"), "invalid_body"),
    ("header length a non-ASCII digit", _binary(*ONE_ROW, length="²"), "invalid_body"),
    ("header length very long", _binary(*ONE_ROW, length="9" * 5000), "invalid_body"),
    ("header length zero", _binary(*ONE_ROW, length="0"), "invalid_body"),
    ("header length past the body", _binary(*ONE_ROW, length=str(HEADER_SIZE + 41)), "invalid_body"),
    ("header length cuts the JSON", _binary(*ONE_ROW, length=str(HEADER_SIZE - 3)), "invalid_json"),
    ("more bytes than binary_data_size", _binary(ONE_ROW[0], ONE_ROW[1] + b"\0" * 4), "invalid_body"),
    ("fewer bytes than binary_data_size", _binary(ONE_ROW[0], ONE_ROW[1][:-4]), "invalid_body"),
    ("bytes nobody claims", _binary(GOOD, ONE_ROW[1]), "invalid_body"),
    (
        "negative binary_data_size",
        _binary({**ONE_ROW[0], "parameters": {"binary_data_size": -40}}, b""),
        "invalid_body",
    ),
    (
        "binary_data_size a string",
        _binary({**ONE_ROW[0], "parameters": {"binary_data_size": "40"}}, ONE_ROW[1]),
        "invalid_body",
    ),
    ("size does not fit the shape", _binary({**ONE_ROW[0], "shape": [2, 10]}, ONE_ROW[1]), "invalid_body"),
    ("absurd shape", _binary({**ONE_ROW[0], "shape": [10**12, 10]}, ONE_ROW[1]), "invalid_body"),
    ("FP32 bytes declared FP16", _binary({**ONE_ROW[0], "datatype": "FP16"}, ONE_ROW[1]), "invalid_body"),
    ("NaN", _binary(*WITH_NAN), "not_finite"),
    ("infinity", _binary(*binary_tensor(np.full((1, 10), np.inf, dtype="<f4"), "FP32")), "not_finite"),
    (
        "FP64 beyond float32",
        _binary(*binary_tensor(np.full((1, 10), 1e300, dtype="<f8"), "FP64")),
        "not_finite",
    ),
    (
        "FP64 sum overflows",
        _binary(*binary_tensor(np.full((1, 10), 1.7e308, dtype="<f8"), "FP64")),
        "not_finite",
    ),
    (
        "digit 17",
        _binary(*binary_tensor(np.full((1, 8, 8), 17, dtype="u1"), "UINT8", "images"), path=DIG),
        "out_of_range",
    ),
    ("BYTES", _binary({**ONE_ROW[0], "datatype": "BYTES"}, ONE_ROW[1]), "invalid_type"),
    ("too many rows", _binary(*binary_tensor(rows(MAX_ROWS + 1), "FP32")), "too_many_rows"),
]


@pytest.mark.parametrize(
    ("path", "content", "code"), [case[1:] for case in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_malformed_json_requests(client: TestClient, path: str, content: bytes, code: str) -> None:
    assert_v2_error(client.post(path, content=content, headers={"content-type": "application/json"}), code)


@pytest.mark.parametrize(
    ("sent", "code"), [case[1:] for case in BINARY_CASES], ids=[c[0] for c in BINARY_CASES]
)
def test_malformed_binary_requests(
    client: TestClient, sent: tuple[str, bytes, dict[str, Any]], code: str
) -> None:
    path, content, headers = sent
    assert_v2_error(client.post(path, content=content, headers=headers), code)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
)
def test_other_content_types_are_415(client: TestClient, content_type: str) -> None:
    response = client.post(TAB, content=request(), headers={"content-type": content_type})
    assert "application/json" in assert_v2_error(response, "unsupported_media_type")["error"]


def test_oversized_body_is_413_before_it_is_read(client: TestClient) -> None:
    raw = rows(2000).tobytes()  # 80,000 bytes > the 65,536-byte limit
    content, headers = binary_body(
        {
            "inputs": [
                {
                    "name": "rows",
                    "datatype": "FP32",
                    "shape": [2000, 10],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        },
        raw,
    )
    error = assert_v2_error(client.post(TAB, content=content, headers=headers), "body_too_large")
    assert "65536" in error["error"]


def test_bad_deadline_header_is_refused_by_the_shedder_in_v2_shape(client: TestClient) -> None:
    response = client.post(TAB, content=request(), headers={"X-Request-Deadline-Ms": "soon"})
    assert "X-Request-Deadline-Ms" in assert_v2_error(response, "invalid_body")["error"]


def test_unknown_paths_and_methods_under_v2(client: TestClient) -> None:
    assert_v2_error(client.get("/v2/repository/index"), "not_found")
    assert_v2_error(client.post("/v2/models/x/y/z/infer", content=request()), "not_found")
    assert_v2_error(client.get(TAB), "method_not_allowed")
    assert client.get(TAB).headers["allow"] == "POST"
    # The JSON API keeps its own error shape.
    friendly = client.post("/classify", content=b"{", headers={"content-type": "application/json"}).json()
    assert set(friendly) == {"error", "detail"}
    assert friendly["error"] == "invalid_json"


def test_an_unbacked_shape_allocates_nothing(client: TestClient) -> None:
    """10**9 rows declared, ten values (or 40 bytes) sent: refused without a large allocation."""
    tracemalloc.start()
    try:
        client.post(TAB, content=body(shape=[10**9, 10]), headers={"content-type": "application/json"})
        path, content, headers = _binary({**ONE_ROW[0], "shape": [10**9, 10]}, ONE_ROW[1])
        client.post(path, content=content, headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak


def test_errors_are_counted_logged_without_traceback_and_harm_nothing(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    before = client.get("/metrics").text
    with caplog.at_level(logging.DEBUG):
        for _, path, content, _code in JSON_CASES:
            client.post(path, content=content, headers={"content-type": "application/json"})
        for _, (path, content, headers), _code in BINARY_CASES:
            client.post(path, content=content, headers=headers)
    assert "-> invalid_shape" in caplog.text  # the refusals were logged, one line each ...
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text  # ... and never with a traceback
    after = client.get("/metrics").text
    assert _count(after, "invalid_body") > _count(before, "invalid_body")
    assert client.get("/v2/health/ready").status_code == 200
    batch = images(4)
    expected = client.post("/digits", json={"images": batch.tolist()}).json()
    answer = outputs_of(client.post(DIG, json={"inputs": [tensor(batch, name="images")]}))
    np.testing.assert_allclose(answer["probabilities"][0], expected["probabilities"], atol=1e-5)


def _count(metrics: str, code: str) -> float:
    prefix = f'serving_errors_total{{code="{code}"}}'
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith(prefix))
