"""Pydantic models of the V2 answers, for the OpenAPI document (the handlers write the JSON themselves)."""

from __future__ import annotations

from pydantic import BaseModel, Field


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
