"""Save a trained model to the BentoML model store: safetensors weights, JSON config, metadata."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import bentoml
from safetensors.torch import save
from torch import nn

from models import CONFIG_FILE, FORMAT_VERSION, SPECS, WEIGHTS_FILE, config_to_dict
from models.registry import PLOTS_FOLDER

_VERSIONED = ("torch", "numpy", "scikit-learn", "safetensors", "bentoml")


def library_versions() -> dict[str, str]:
    versions = {name: importlib_metadata.version(name) for name in _VERSIONED}
    return {"python": platform.python_version(), **versions}


def save_model(
    model: nn.Module, name: str, run_info: dict[str, Any], plots: Sequence[str | Path] = ()
) -> bentoml.Model:
    """Write ``model`` to the store under ``name``; ``run_info`` (metrics, data, seed, ...) joins the
    metadata, and the PNG ``plots`` of the run are copied into the entry's ``plots/`` folder (their file
    names listed in the metadata), so they travel with the model. Returns the stored entry (its ``tag``
    names the new version)."""
    plot_files = _plot_files(plots)
    spec = SPECS[name]
    config = model.config  # type: ignore[attr-defined]
    if not isinstance(config, spec.config_type):
        raise TypeError(f"{name} expects a {spec.config_type.__name__}, got {type(config).__name__}")
    # safetensors refuses shared or non-contiguous storage; copies make every tensor its own.
    tensors = {key: value.detach().contiguous().clone() for key, value in model.state_dict().items()}
    weights = save(tensors, metadata={"model": name})
    metadata = {
        "format_version": FORMAT_VERSION,
        "weights_file": WEIGHTS_FILE,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "config": config_to_dict(config),
        "input_schema": spec.input_schema(config),
        "versions": library_versions(),
        **run_info,
        "plots": list(plot_files),  # in the order training wrote them
    }
    labels = {"framework": "pytorch", "format": "safetensors"}
    with bentoml.models.create(name, labels=labels, metadata=metadata) as entry:
        Path(entry.path_of(WEIGHTS_FILE)).write_bytes(weights)
        Path(entry.path_of(CONFIG_FILE)).write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
        for file_name, source in plot_files.items():
            target = Path(entry.path_of(f"{PLOTS_FOLDER}/{file_name}"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    # The entry written in the block lives in a temporary folder; hand back the stored copy.
    return bentoml.models.get(entry.tag)


def _plot_files(plots: Sequence[str | Path]) -> dict[str, Path]:
    """The plots by the file name they get in the entry; refuses non-PNGs and two plots of one name."""
    files: dict[str, Path] = {}
    for plot in map(Path, plots):
        if plot.suffix.lower() != ".png" or not plot.is_file():
            raise ValueError(f"{plot}: a plot must be an existing PNG file")
        if plot.name in files:
            raise ValueError(f"two plots are named {plot.name!r}: {files[plot.name]} and {plot}")
        files[plot.name] = plot
    return files
