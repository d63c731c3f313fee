"""Pure model definitions: nn.Modules and their config dataclasses. No I/O, no BentoML."""

from models.digits import DigitsCNN, DigitsConfig
from models.registry import (
    CONFIG_FILE,
    DIGITS,
    FORMAT_VERSION,
    SPECS,
    TABULAR,
    WEIGHTS_FILE,
    ModelSpec,
    config_from_dict,
    config_to_dict,
)
from models.tabular import TabularClassifier, TabularConfig

__all__ = [
    "CONFIG_FILE",
    "DIGITS",
    "FORMAT_VERSION",
    "SPECS",
    "TABULAR",
    "WEIGHTS_FILE",
    "DigitsCNN",
    "DigitsConfig",
    "ModelSpec",
    "TabularClassifier",
    "TabularConfig",
    "config_from_dict",
    "config_to_dict",
]
