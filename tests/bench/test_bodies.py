"""The benchmark's request bodies: the multipart upload parses back to the picture under field "image",
the V2 binary body carries the tensor's exact bytes after its header, the digits are real ones."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Message

from bench.bodies import (
    DIGIT_PNG,
    DIGITS_32,
    UPLOAD_PNG,
    V2_DIGITS_BINARY_32,
    multipart_body,
    v2_bodies,
)
from bench.wrk import RawBody, _script


def parsed_upload(body: RawBody) -> tuple[str, bytes, str | None]:
    """What Starlette's form parser (as our service and the Starlette peer use it) reads from ``body``:
    the file field's name, its bytes and its filename."""
    headers = [(name.lower().encode(), value.encode()) for name, value in body.headers]
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": body.payload, "more_body": False}

    async def parse() -> tuple[str, bytes, str | None]:
        async with Request(scope, receive).form() as form:
            name, upload = next(iter(form.multi_items()))
            assert isinstance(upload, UploadFile)
            return name, await upload.read(), upload.filename

    return asyncio.run(parse())


def test_multipart_body_parses_back_to_the_picture() -> None:
    png = DIGIT_PNG.read_bytes()
    assert parsed_upload(UPLOAD_PNG) == ("image", png, DIGIT_PNG.name)
    other = multipart_body(
        b"\x00\r\n--not-a-boundary\r\n\xff", field="file", filename="x.jpg", boundary="b0und"
    )
    assert dict(other.headers)["Content-Type"] == "multipart/form-data; boundary=b0und"
    assert parsed_upload(other) == ("file", b"\x00\r\n--not-a-boundary\r\n\xff", "x.jpg")


def test_wrk_script_carries_the_multipart_headers_and_every_byte() -> None:
    path = Path(_script(UPLOAD_PNG))
    try:
        script = path.read_text()
    finally:
        path.unlink()
    assert 'wrk.headers["Content-Type"] = "multipart/form-data; boundary=' in script
    literal = script.split("wrk.body = ", 1)[1].strip()
    # the Lua literal decodes back to the exact payload (\ddd escapes for every unprintable byte)
    decoded, index, text = bytearray(), 1, literal
    while index < len(text) - 1:
        if text[index] == "\\":
            decoded.append(int(text[index + 1 : index + 4]))
            index += 4
        else:
            decoded.append(ord(text[index]))
            index += 1
    assert bytes(decoded) == UPLOAD_PNG.payload


def test_v2_binary_body_is_header_then_tensor_bytes() -> None:
    images = np.asarray(DIGITS_32["images"], dtype=np.float32)
    length = int(dict(V2_DIGITS_BINARY_32.headers)["Inference-Header-Content-Length"])
    header = json.loads(V2_DIGITS_BINARY_32.payload[:length])
    tensor = header["inputs"][0]
    assert (tensor["name"], tensor["shape"], tensor["datatype"]) == ("images", [32, 8, 8], "FP32")
    assert tensor["parameters"]["binary_data_size"] == images.nbytes
    assert header["parameters"]["binary_data_output"] is True
    data = np.frombuffer(V2_DIGITS_BINARY_32.payload[length:], dtype="<f4").reshape(32, 8, 8)
    assert np.array_equal(data, images)
    as_json, _ = v2_bodies(np.ones((2, 10)), "rows")
    assert as_json["inputs"][0]["data"] == [1.0] * 20


def test_digits_are_real_grey_levels() -> None:
    images = np.asarray(DIGITS_32["images"])
    assert images.shape == (32, 8, 8)
    assert images.min() == 0
    assert images.max() == 16
    assert isinstance(DIGITS_32["images"][0][0][0], float)  # floats, as scikit-learn ships them
