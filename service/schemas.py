"""Pydantic models of the HTTP contract, for the OpenAPI document and Swagger UI.

Requests are validated by service.codecs (exact shapes, no lax coercion of booleans), so these models
describe the bodies rather than parse them.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from service.errors import STATUS

# Examples that the OpenAPI document shows and Swagger UI's "Try it out" sends: real data, so that the
# answers make sense. Rows 5 and 0 of the tabular data, make_classification(n_samples=500, n_features=10,
# n_informative=5, n_redundant=2, random_state=42), rounded to 4 decimals: their classes are 1 and 0.
# The digit is load_digits().images[7], a 7 (the same picture as load/data/digit-7.png).
EXAMPLE_ROWS: list[JsonValue] = [
    [1.3708, 1.3247, 2.191, 2.9561, -0.5778, -0.0983, -0.6042, -1.9826, 1.0751, 0.1428],
    [2.3654, -2.4051, 1.4545, 0.6355, 0.3315, 0.2555, 0.1418, -1.8845, -1.6198, 0.4232],
]
EXAMPLE_ROW_CLASSES = [1, 0]
EXAMPLE_DIGIT: list[JsonValue] = [
    [0, 0, 7, 8, 13, 16, 15, 1],
    [0, 0, 7, 7, 4, 11, 12, 0],
    [0, 0, 0, 0, 8, 13, 1, 0],
    [0, 4, 8, 8, 15, 15, 6, 0],
    [0, 2, 11, 15, 15, 4, 0, 0],
    [0, 0, 0, 16, 5, 0, 0, 0],
    [0, 0, 9, 15, 1, 0, 0, 0],
    [0, 0, 13, 5, 0, 0, 0, 0],
]
EXAMPLE_DIGIT_CLASS = 7


# Exact shapes and ranges, so that the document says what validation enforces (float32's range for
# features; the digits grey scale for pixels). The rows-per-request limit is a setting (413 past it).
FLOAT32_MAX = 3.4028234663852886e38
Feature = Annotated[float, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
Row = Annotated[list[Feature], Field(min_length=10, max_length=10)]
Pixel = Annotated[float, Field(ge=0, le=16)]
Image = Annotated[
    list[Annotated[list[Pixel], Field(min_length=8, max_length=8)]], Field(min_length=8, max_length=8)
]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rows": EXAMPLE_ROWS}]})
    # What validation (service/codecs.py) can refuse a body with, besides the errors of every JSON route.
    refusals: ClassVar[tuple[str, ...]] = ("invalid_shape", "invalid_type", "not_finite")
    rows: list[Row] = Field(min_length=1, description="1 to max_rows rows of 10 raw (unscaled) features each")


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"model": "tabular-classifier:3yor2cxiz2qhsax4", "probabilities": [0.93], "labels": [1]}
            ]
        }
    )
    model: str = Field(description="the exact store tag that answered")
    probabilities: list[float] = Field(description="probability of class 1, one per row, in order")
    labels: list[int] = Field(description="1 where the probability is at least 0.5, else 0")


class DigitsRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"images": [EXAMPLE_DIGIT]}]})
    refusals: ClassVar[tuple[str, ...]] = ("invalid_shape", "invalid_type", "not_finite", "out_of_range")
    images: list[Image] = Field(
        min_length=1, description="1 to max_rows images, each 8 rows of 8 grey levels in 0..16"
    )


class DigitsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "digits-cnn:323hmrhiz2qhsax4",
                    "probabilities": [[0.99, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001]],
                    "labels": [0],
                    "margins": [0.98],
                    "unsure": [False],
                }
            ]
        }
    )
    model: str = Field(description="the exact store tag that answered")
    probabilities: list[list[float]] = Field(
        description="10 calibrated class probabilities per image (temperature-scaled: 0.9 is right about "
        "9 times in 10 on the validation styles)"
    )
    labels: list[int] = Field(description="the most probable class per image")
    margins: list[float] = Field(description="per image, the top probability minus the second")
    unsure: list[bool] = Field(
        description="per image, true when the top probability is below the model's threshold "
        "(unsure_below in GET /models' metrics, 0.8 by default): show 'not sure' or ask again"
    )
    inputs: list[Image] | None = Field(
        default=None,
        description="only with ?explain=1: the 8x8 grid (0..16) the model saw, per image",
    )


class ErrorResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": "invalid_shape", "detail": "rows[0] has 9 values; expected 10"}]
        }
    )
    error: str = Field(
        description="a stable code, e.g. invalid_json, invalid_shape, too_many_rows, overloaded"
    )
    detail: str = Field(description="what was wrong and what is expected")


class ServedVersion(BaseModel):
    version: str
    tag: str
    created: str
    metrics: dict[str, Any]
    default: bool = Field(description="true for the version the routes answer with when none is asked for")


class ModelInfo(BaseModel):
    name: str
    tag: str
    input: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]
    created: str
    version: str
    device: str
    plots: list[str] = Field(description="URLs of the training plots (PNG) saved with this version")
    feature_scaling: dict[str, list[float]] | None = Field(
        None, description="tabular models: the training mean and scale of each feature"
    )
    served_versions: list[ServedVersion] = Field(
        description="every version this worker serves, newest first (SERVING_<KEY>_VERSION_POLICY); the "
        "fields above describe the default one"
    )


# ?version=<store version> on the JSON prediction routes: that version answers (404 if not served).
VERSION_QUERY: dict[str, Any] = {
    "name": "version",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "a store version this server serves (GET /models: served_versions); default: the "
    "model's default version. Any other value: 404 not_found",
}


def with_version_query(extra: dict[str, Any]) -> dict[str, Any]:
    """A route's ``openapi_extra`` with the ``version`` query parameter added."""
    return {**extra, "parameters": [*extra.get("parameters", []), VERSION_QUERY]}


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI requestBody for routes that read the raw body themselves. The example sits on the media
    type: Swagger UI (OpenAPI 3.0) fills "Try it out" from there and ignores examples inside a schema."""
    schema = model.model_json_schema()
    media: dict[str, Any] = {"schema": schema}
    if schema.get("examples"):
        media["example"] = schema["examples"][0]
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "format": "binary",
                            "description": "a PNG or JPEG of one digit, e.g. load/data/digit-7.png",
                        }
                    },
                }
            }
        },
    }
}

# The refusals each kind of route can answer with (service/errors.py has the codes and their statuses).
SHED = ("overloaded", "deadline_exceeded", "not_ready")  # the load shedder, deadlines, loading models
BODY = ("invalid_body", "request_timeout", "body_too_large", "unsupported_media_type")
JSON_REFUSALS = ("invalid_json", *BODY, "not_found", "too_many_rows", *SHED)  # not_found: ?version=
UPLOAD_REFUSALS = (*BODY, "not_found", "image_too_large", "invalid_image", *SHED)
_NOTES = {408: " (the body did not arrive before the deadline)", 503: " (always with Retry-After)"}


def error_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses for ``codes``: one entry per status, listing that status's codes."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS[code], []).append(code)
    return {
        status: {"model": ErrorResponse, "description": ", ".join(by_status[status]) + _NOTES.get(status, "")}
        for status in sorted(by_status)
    }


def json_errors(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """What a JSON prediction route can refuse a body with: the JSON API's refusals and its model's."""
    return error_responses(*JSON_REFUSALS, *getattr(model, "refusals", ()))


UPLOAD_ERRORS = error_responses(*UPLOAD_REFUSALS)

# What GET /models shows in the document (instead of Swagger UI's "additionalProp1"): one entry as the
# service answers it, shortened (the real answer has one entry per model and the full metrics).
MODELS_EXAMPLE: list[JsonValue] = [
    {
        "name": "digits-cnn",
        "tag": "digits-cnn:7og73uxmk6eciax4",
        "version": "7og73uxmk6eciax4",
        "input": {
            "kind": "image",
            "shape": [8, 8],
            "dtype": "float32",
            "value_range": [0.0, 16.0],
            "class_names": ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            "output": "class probabilities",
        },
        "metrics": {"accuracy": 0.986, "macro_f1": 0.986},
        "data": {
            "generator": "sklearn.datasets.load_digits",
            "params": {},
            "sha256": "dbfb2770e14655342f4e3f43cec7e39853eb20a007da8d9e28f31fbecbff82c3",
            "rows": 1797,
            "split_sizes": {"train": 1149, "val": 288, "test": 360},
        },
        "created": "2026-11-30T00:50:05.189605+00:00",
        "device": "cpu",
        "plots": [],
        "feature_scaling": None,
        "served_versions": [
            {
                "version": "7og73uxmk6eciax4",
                "tag": "digits-cnn:7og73uxmk6eciax4",
                "created": "2026-11-30T00:50:05.189605+00:00",
                "metrics": {"accuracy": 0.986, "macro_f1": 0.986},
                "default": True,
            }
        ],
    }
]
MODELS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": MODELS_EXAMPLE}}}
}
