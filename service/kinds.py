"""What the service does per kind of model input (the registry's ``input_schema(...)["kind"]``).

A kind says how a JSON body becomes a float32 batch, how answers are encoded, what one input looks like
(for the warm-up) and what the OpenAPI document shows. Every model of a known kind is served by these,
so a new model of a known kind needs nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from models.digits import UNSURE_BELOW
from service import codecs
from service.schemas import ClassifyRequest, ClassifyResponse, DigitsRequest, DigitsResponse

Schema = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    decode: Callable[[Any, Schema, int, bool], np.ndarray]  # payload, schema, max rows, booleans possible
    # model tag, probabilities, the inputs to show (?explain=1) or None, the model's config -> the answer
    encode: Callable[[str, np.ndarray, np.ndarray | None, Any], bytes]
    explains: bool  # answers ?explain=1 with the inputs the model saw
    input_shape: Callable[[Schema], tuple[int, ...]]  # one row or image, without the batch dimension
    request: type[BaseModel]
    response: type[BaseModel]
    summary: str
    upload_summary: str | None  # not None: also answers one uploaded picture at ROUTE/image
    # The Open Inference Protocol V2 (service/v2/): the input tensor's name, the shapes of one input it
    # accepts (the first is the one its metadata shows), the probabilities of one input, and the labels.
    tensor_name: str
    tensor_shapes: Callable[[Schema], tuple[tuple[int, ...], ...]]
    output_shape: Callable[[Schema], tuple[int, ...]]
    labels: Callable[[np.ndarray], np.ndarray]


def _decode_rows(payload: Any, schema: Schema, max_rows: int, booleans: bool) -> np.ndarray:
    return codecs.decode_rows(payload, schema["n_features"], max_rows, booleans)


def _decode_images(payload: Any, schema: Schema, max_rows: int, booleans: bool) -> np.ndarray:
    size, max_value = schema["shape"][0], schema["value_range"][1]
    return codecs.decode_images(payload, size, max_value, max_rows, booleans)


def _encode_rows(tag: str, probabilities: np.ndarray, inputs: np.ndarray | None, config: Any) -> bytes:
    return codecs.encode_tabular(tag, probabilities)


def _encode_images(tag: str, probabilities: np.ndarray, inputs: np.ndarray | None, config: Any) -> bytes:
    # Unsure below the loaded model's own threshold (DigitsConfig); older entries lack the field.
    threshold = getattr(config, "unsure_below", UNSURE_BELOW)
    return codecs.encode_digits(tag, probabilities, inputs, threshold)


def _image_shapes(schema: Schema) -> tuple[tuple[int, ...], ...]:
    return (tuple(schema["shape"]), (1, *schema["shape"]))  # also with one channel, as CNN clients send


KINDS: dict[str, Kind] = {
    "tabular": Kind(
        decode=_decode_rows,
        encode=_encode_rows,
        explains=False,
        input_shape=lambda schema: (schema["n_features"],),
        request=ClassifyRequest,
        response=ClassifyResponse,
        summary="Probability of class 1 for each row of 10 raw features",
        upload_summary=None,
        tensor_name="rows",
        tensor_shapes=lambda schema: ((schema["n_features"],),),
        output_shape=lambda schema: (),
        labels=codecs.tabular_labels,
    ),
    "image": Kind(
        decode=_decode_images,
        encode=_encode_images,
        explains=True,
        input_shape=lambda schema: tuple(schema["shape"]),
        request=DigitsRequest,
        response=DigitsResponse,
        summary="Class probabilities for each 8x8 image (grey levels 0..16)",
        upload_summary="Classify an uploaded PNG or JPEG of one handwritten digit",
        tensor_name="images",
        tensor_shapes=_image_shapes,
        output_shape=lambda schema: (len(schema["class_names"]),),
        labels=codecs.top_class_labels,
    ),
}


def kind_of(schema: Schema) -> Kind:
    return KINDS[schema["kind"]]
