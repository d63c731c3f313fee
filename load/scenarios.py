"""What the load tests send and how an answer is judged; shared by the locustfile and the sweep.

Pure Python (no locust, no gevent), so tests and the asyncio sweep can import it. Every scenario's
request name carries its row count (``/classify [64 rows]``) so that rows per second can be worked
out from locust's CSVs alone.
"""

from __future__ import annotations

import json
import math
import random
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DIGIT_7_PNG = Path(__file__).resolve().parent / "data" / "digit-7.png"
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"
HEADER_LENGTH = "Inference-Header-Content-Length"
MULTIPART_BOUNDARY = "load-test-boundary-5c1d3a"

Model = Literal["tabular", "digits"]
MODEL_NAMES: dict[Model, str] = {"tabular": "tabular-classifier", "digits": "digits-cnn"}
V2_TABULAR = "/v2/models/tabular-classifier/infer"
CLASSES: dict[Model, int] = {"tabular": 2, "digits": 10}


@dataclass(frozen=True)
class Scenario:
    """One kind of request: where it goes, its body (built once), and what a right answer holds."""

    tag: str
    path: str
    rows: int
    model: Model
    weight: int  # share in the weighted mix
    body: bytes
    content_type: str
    expected_labels: tuple[int, ...] | None = None
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers (X-Request-Deadline-Ms, ...)
    protocol: Literal["json", "v2"] = "json"  # the friendly JSON API, or the Open Inference Protocol V2
    variant: str = ""  # tells apart scenarios on one path in the statistics ("binary")

    @property
    def name(self) -> str:
        """The request name in locust's statistics; ends with the row count."""
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.path}{variant} [{self.rows} {'row' if self.rows == 1 else 'rows'}]"

    @property
    def tags(self) -> tuple[str, ...]:
        """Tags that select it: its own, its endpoint family, and ``mix``."""
        return (self.tag, self.tag.split("-")[0], "mix")


def tabular_rows(count: int, seed: int = 0) -> list[list[float]]:
    """``count`` rows of 10 features, roughly the spread of the training data."""
    rng = random.Random(seed)
    return [[round(rng.gauss(0.0, 2.0), 4) for _ in range(10)] for _ in range(count)]


def digit_images(count: int, seed: int = 0) -> list[list[list[int]]]:
    """``count`` 8x8 images of grey levels 0..16 (noise: valid input, any label is fine)."""
    rng = random.Random(seed)
    return [[[rng.randint(0, 16) for _ in range(8)] for _ in range(8)] for _ in range(count)]


def multipart_image(png: bytes, field: str = "image", filename: str = "digit-7.png") -> bytes:
    """A multipart/form-data body with one file field, boundary MULTIPART_BOUNDARY."""
    head = (
        f"--{MULTIPART_BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    return head.encode() + png + f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode()


def _json(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def v2_json(rows: list[list[float]]) -> bytes:
    """A V2 infer request for the tabular model with ``rows`` as JSON data."""
    tensor = {
        "name": "rows",
        "shape": [len(rows), 10],
        "datatype": "FP32",
        "data": [x for r in rows for x in r],
    }
    return _json({"inputs": [tensor]})


def v2_binary(rows: list[list[float]]) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The same as binary tensor data (little-endian float32 after the JSON header), every output asked
    back binary; and the header that says where the JSON ends."""
    data = struct.pack(f"<{len(rows) * 10}f", *(x for r in rows for x in r))
    tensor = {"name": "rows", "shape": [len(rows), 10], "datatype": "FP32"}
    header = _json(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": len(data)}}],
            "parameters": {"binary_data_output": True},
        }
    )
    return header + data, ((HEADER_LENGTH, str(len(header))),)


def build_scenarios() -> dict[str, Scenario]:
    multipart = f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    binary, headers = v2_binary(tabular_rows(64))
    scenarios = [
        Scenario("classify-1", "/classify", 1, "tabular", 40, _json({"rows": tabular_rows(1)}), JSON_TYPE),
        Scenario("classify-64", "/classify", 64, "tabular", 10, _json({"rows": tabular_rows(64)}), JSON_TYPE),
        Scenario("digits-1", "/digits", 1, "digits", 25, _json({"images": digit_images(1)}), JSON_TYPE),
        Scenario("digits-32", "/digits", 32, "digits", 10, _json({"images": digit_images(32)}), JSON_TYPE),
        Scenario(
            "digits-image",
            "/digits/image",
            1,
            "digits",
            15,
            multipart_image(DIGIT_7_PNG.read_bytes()),
            multipart,
            expected_labels=(7,),
        ),
        Scenario(
            "v2-json",
            V2_TABULAR,
            64,
            "tabular",
            5,
            v2_json(tabular_rows(64)),
            JSON_TYPE,
            protocol="v2",
            variant="json",
        ),
        Scenario(
            "v2-binary", V2_TABULAR, 64, "tabular", 5, binary, BINARY_TYPE, headers=headers, protocol="v2"
        ),
    ]
    return {scenario.tag: scenario for scenario in scenarios}


SCENARIOS = build_scenarios()
TAGS = sorted({tag for scenario in SCENARIOS.values() for tag in scenario.tags})

_ROWS_IN_NAME = re.compile(r"\[(\d+) rows?\]$")


def rows_in_name(name: str) -> int | None:
    """The row count a request name carries (``/digits [32 rows]`` -> 32), or None."""
    found = _ROWS_IN_NAME.search(name)
    return int(found.group(1)) if found else None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_entries(probabilities: list[object], labels: list[object], model: Model) -> str | None:
    classes = CLASSES[model]
    for index, (probability, label) in enumerate(zip(probabilities, labels, strict=True)):
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < classes:
            return f"labels[{index}] is {label!r}; expected an integer in 0..{classes - 1}"
        values = [probability] if model == "tabular" else probability
        if not isinstance(values, list) or len(values) != (1 if model == "tabular" else classes):
            return f"probabilities[{index}] has the wrong shape"
        if not all(_is_number(value) and 0.0 <= value <= 1.0 for value in values):
            return f"probabilities[{index}] holds something that is not a probability"
    return None


def check_answer(status: int, body: bytes, scenario: Scenario) -> str | None:
    """None when ``body`` is a right answer to ``scenario``; else what is wrong with it."""
    if status != 200:
        return f"HTTP {status}: {body[:200].decode(errors='replace')}"
    if scenario.protocol == "v2":
        return _check_v2(body, scenario)
    try:
        answer = json.loads(body)
    except ValueError:
        return "the answer is not JSON"
    if not isinstance(answer, dict):
        return "the answer is not a JSON object"
    model = answer.get("model")
    if not isinstance(model, str) or not model.startswith(MODEL_NAMES[scenario.model] + ":"):
        return f"model is {model!r}; expected '{MODEL_NAMES[scenario.model]}:<version>'"
    probabilities, labels = answer.get("probabilities"), answer.get("labels")
    if not isinstance(probabilities, list) or not isinstance(labels, list):
        return "probabilities and labels must be lists"
    if not len(probabilities) == len(labels) == scenario.rows:
        return f"{len(probabilities)} probabilities and {len(labels)} labels for {scenario.rows} rows sent"
    wrong = _check_entries(probabilities, labels, scenario.model)
    if wrong is None and scenario.expected_labels is not None and tuple(labels) != scenario.expected_labels:
        return f"labels {labels}; expected {list(scenario.expected_labels)}"
    return wrong


def _v2_outputs(body: bytes) -> tuple[dict[str, object], dict[str, list[object]]]:
    """A V2 answer's JSON header and its outputs' values, JSON or binary (after the header)."""
    header, end = json.JSONDecoder().raw_decode(body.decode("latin-1"))
    values: dict[str, list[object]] = {}
    for output in header.get("outputs", []):
        size = output.get("parameters", {}).get("binary_data_size")
        if size is None:
            values[output["name"]] = list(output["data"])
            continue
        code = {"FP32": "f", "INT64": "q"}[output["datatype"]]
        values[output["name"]] = list(
            struct.unpack(f"<{size // struct.calcsize(code)}{code}", body[end : end + size])
        )
        end += size
    return header, values


def _check_v2(body: bytes, scenario: Scenario) -> str | None:
    try:
        header, values = _v2_outputs(body)
    except (ValueError, KeyError, TypeError, struct.error) as error:
        return f"the V2 answer cannot be read: {error}"
    if header.get("model_name") != MODEL_NAMES[scenario.model] or not header.get("model_version"):
        return f"model_name {header.get('model_name')!r} / model_version {header.get('model_version')!r}"
    probabilities, labels = values.get("probabilities"), values.get("labels")
    if probabilities is None or labels is None:
        return "the V2 answer lacks probabilities or labels"
    if len(labels) != scenario.rows:
        return f"{len(labels)} labels for {scenario.rows} rows sent"
    if scenario.model != "tabular":  # a binary [N, 10] answer comes flat: check the labels' count only
        return None
    return _check_entries(probabilities, labels, scenario.model)
