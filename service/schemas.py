"""Pydantic models of the HTTP contract, for the OpenAPI document and Swagger UI.

Requests are validated by service.codecs (exact shapes, no lax coercion of booleans), so these models
describe the bodies rather than parse them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

_ROW: list[JsonValue] = [0.42, -1.3, 0.8, 2.1, -0.5, 0.0, 1.7, -2.2, 0.3, 0.9]
_DIGIT_ZERO: list[JsonValue] = [
    [0, 0, 5, 13, 9, 1, 0, 0],
    [0, 0, 13, 15, 10, 15, 5, 0],
    [0, 3, 15, 2, 0, 11, 8, 0],
    [0, 4, 12, 0, 0, 8, 8, 0],
    [0, 5, 8, 0, 0, 9, 8, 0],
    [0, 4, 11, 0, 1, 12, 7, 0],
    [0, 2, 14, 5, 10, 12, 0, 0],
    [0, 0, 6, 13, 10, 0, 0, 0],
]


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
    model_config = ConfigDict(json_schema_extra={"examples": [{"rows": [_ROW]}]})
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
    model_config = ConfigDict(json_schema_extra={"examples": [{"images": [_DIGIT_ZERO]}]})
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
                }
            ]
        }
    )
    model: str = Field(description="the exact store tag that answered")
    probabilities: list[list[float]] = Field(description="10 class probabilities per image")
    labels: list[int] = Field(description="the most probable class per image")


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


class ModelInfo(BaseModel):
    name: str
    tag: str
    input: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any]
    created: str


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """An OpenAPI requestBody for routes that read the raw body themselves."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


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
                            "description": "a PNG or JPEG of one digit",
                        }
                    },
                }
            }
        },
    }
}

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "invalid_json, invalid_body",
        408: "request_timeout (the body did not arrive before the deadline)",
        413: "body_too_large, too_many_rows, image_too_large",
        415: "unsupported_media_type",
        422: "invalid_shape, invalid_type, not_finite, out_of_range, invalid_image",
        503: "overloaded, deadline_exceeded, not_ready (with Retry-After)",
    }.items()
}
