"""What the rest of the code needs to know about each model, without I/O: names, how to build the
module from its config, the input schema a saved model must match, and where it is served.

``SPECS`` is the one table of models: training (its recipes), the service (settings, runtimes,
routes, version pins) and the load tools iterate over it, so a new model of a kind the service
already knows (``input_schema(...)["kind"]``: "tabular" or "image") is its module and its entry here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from models.digits import DigitsCNN, DigitsConfig
from models.tabular import TabularClassifier, TabularConfig

TABULAR = "tabular-classifier"
DIGITS = "digits-cnn"

Config = TabularConfig | DigitsConfig


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the model store name
    key: str  # short name: `python -m training KEY`, SERVING_<KEY>_MODEL and the other per-model settings
    route: str  # POST path of its JSON predictions (an image model also takes uploads at ROUTE/image)
    config_type: type[TabularConfig] | type[DigitsConfig]
    build: Callable[[Any], nn.Module]
    input_schema: Callable[[Any], dict[str, Any]]


def tabular_schema(config: TabularConfig) -> dict[str, Any]:
    return {
        "kind": "tabular",
        "n_features": config.n_features,
        "dtype": "float32",
        "class_names": ["0", "1"],
        "output": "probability of class 1",
    }


def digits_schema(config: DigitsConfig) -> dict[str, Any]:
    return {
        "kind": "image",
        "shape": [config.image_size, config.image_size],
        "dtype": "float32",
        "value_range": [0.0, config.max_value],
        "class_names": [str(i) for i in range(config.n_classes)],
        "output": "class probabilities",
    }


SPECS: dict[str, ModelSpec] = {
    TABULAR: ModelSpec(TABULAR, "tabular", "/classify", TabularConfig, TabularClassifier, tabular_schema),
    DIGITS: ModelSpec(DIGITS, "digits", "/digits", DigitsConfig, DigitsCNN, digits_schema),
}


def config_to_dict(config: Config) -> dict[str, Any]:
    """A JSON-ready dict of a config (tuples become lists, as JSON would make them)."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(config).items()
    }


def config_from_dict(config_type: type[Config], data: Mapping[str, Any]) -> Config:
    """Rebuild a config from JSON, refusing unknown or missing fields instead of guessing."""
    fields = {field.name: field for field in dataclasses.fields(config_type)}
    unknown = set(data) - set(fields)
    missing = {name for name, f in fields.items() if name not in data and f.default is dataclasses.MISSING}
    if unknown or missing:
        raise ValueError(
            f"{config_type.__name__} does not match the code: unknown {sorted(unknown)}, missing {sorted(missing)}"
        )
    values: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value for name, value in data.items()
    }
    return config_type(**values)


# The layout of a saved model, shared by the writer (training) and the reader (service).
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
PLOTS_FOLDER = "plots"  # the training plots (PNG), listed by file name in the metadata's "plots"
FORMAT_VERSION = 1
