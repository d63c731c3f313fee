"""Pydantic models of the V2 answers, for the OpenAPI document (the handlers write the JSON themselves)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, JsonValue


class ServerMetadata(BaseModel):
    name: str = Field(description="the server's name")
    version: str = Field(description="the project's version")
    extensions: list[str] = Field(description="protocol extensions: binary_tensor_data")


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool = Field(description="true once every model is loaded and warmed up, false while draining")


class TensorMetadata(BaseModel):
    name: str
    datatype: str = Field(description="a V2 datatype: FP32, INT64, ...")
    shape: list[int] = Field(description="-1 for the batch dimension")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = Field(description="the store version this server serves")
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]


class ModelReady(BaseModel):
    name: str
    ready: bool


class V2Error(BaseModel):
    error: str = Field(description="what was wrong and what is expected")
    code: str = Field(description="a stable code, e.g. not_found, invalid_body, invalid_shape, overloaded")


class InferInputTensor(BaseModel):
    name: str = Field(description="the model's input: rows (tabular-classifier) or images (digits-cnn)")
    shape: list[int] = Field(description="[N, 10], or [N, 8, 8] / [N, 1, 8, 8]")
    datatype: str = Field(description="FP32; FP64, FP16, INT*, UINT* are converted; BF16 in binary only")
    data: list[JsonValue] | None = Field(default=None, description="flat (row-major) or nested")
    parameters: dict[str, JsonValue] | None = Field(default=None, description="binary_data_size")


class RequestedOutput(BaseModel):
    name: str = Field(description="probabilities or labels")
    parameters: dict[str, JsonValue] | None = Field(default=None, description="binary_data")


class InferRequest(BaseModel):
    id: str | None = None
    parameters: dict[str, JsonValue] | None = Field(default=None, description="binary_data_output")
    inputs: list[InferInputTensor] = Field(min_length=1, max_length=1)
    outputs: list[RequestedOutput] | None = None


class InferOutputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[JsonValue] | None = Field(default=None, description="absent when sent as binary data")
    parameters: dict[str, JsonValue] | None = Field(default=None, description="binary_data_size")


class InferResponse(BaseModel):
    model_name: str
    model_version: str = Field(description="the store version that computed the answer")
    id: str | None = None
    outputs: list[InferOutputTensor]


def infer_body(example: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI requestBody of an infer route: its JSON form, references inlined (the handler reads
    the raw body, so FastAPI does not collect these models into the document's components)."""
    schema = InferRequest.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    media = {"schema": inline(schema), **({"example": example} if example is not None else {})}
    return {"requestBody": {"required": True, "content": {"application/json": media}}}
