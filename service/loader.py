"""Rebuild a trained model from its BentoML store entry, without pickle, and refuse one that is
missing, tampered with, or saved for a different schema than the code serves."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bentoml
import torch
from bentoml.exceptions import NotFound
from safetensors import SafetensorError
from safetensors.torch import load
from torch import nn

from models import CONFIG_FILE, FORMAT_VERSION, SPECS, WEIGHTS_FILE, config_from_dict
from models.registry import PLOTS_FOLDER, Config


def retrain_hint() -> str:
    """How to fix it, naming the store this process searched: `make train` alone writes to the
    repository's .bentoml/, which is not the store a server started elsewhere looks in."""
    home = bentoml_home()
    return (
        f"retrain it into this store with `BENTOML_HOME={home} make train` (or `python -m training all` "
        "with that BENTOML_HOME), or start the server with BENTOML_HOME set to the store that holds it"
    )


class ModelLoadError(RuntimeError):
    """A stored model cannot be served; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class LoadedModel:
    name: str
    tag: str  # the exact "name:version" that was loaded, never "latest"
    module: nn.Module
    config: Config
    metadata: dict[str, Any]
    created: str  # ISO 8601
    folder: Path | None = None  # the store entry it was loaded from (its plots live there)
    device: str = "cpu"

    def describe(self) -> dict[str, Any]:
        """Public facts about the model (for GET /models): the URL of each training plot saved with
        it, and, for a model that folds a scaler in, the features' training mean and scale."""
        facts = {
            "name": self.name,
            "tag": self.tag,
            "version": self.tag.split(":", 1)[1],
            "input": self.metadata["input_schema"],
            "metrics": self.metadata.get("metrics", {}),
            "data": self.metadata.get("data", {}),
            "created": self.created,
            "device": self.device,
            "plots": [f"/models/{self.name}/plots/{file}" for file in self.plot_files()],
        }
        mean, scale = getattr(self.module, "mean", None), getattr(self.module, "scale", None)
        if isinstance(mean, torch.Tensor) and isinstance(scale, torch.Tensor):
            facts["feature_scaling"] = {"mean": mean.tolist(), "scale": scale.tolist()}
        return facts

    def summary(self) -> dict[str, Any]:
        """The short facts of this version (GET /models lists one per version served)."""
        return {
            "version": self.tag.split(":", 1)[1],
            "tag": self.tag,
            "created": self.created,
            "metrics": self.metadata.get("metrics", {}),
        }

    def plot_files(self) -> list[str]:
        """The plot file names that training recorded for this version (none for older entries)."""
        listed = self.metadata.get("plots", [])
        return [file for file in listed if isinstance(file, str)] if isinstance(listed, list) else []

    def plot_path(self, file: str) -> Path | None:
        """Where plot ``file`` lies in the store entry; None unless the metadata lists it by that exact
        name (so no other file, and nothing outside the entry, can be asked for)."""
        if self.folder is None or file not in self.plot_files() or Path(file).name != file:
            return None
        path = self.folder / PLOTS_FOLDER / file
        return path if path.is_file() else None


def load_model(ref: str, device: str | torch.device = "cpu") -> LoadedModel:
    """Load ``ref`` (``name`` or ``name:version``; a bare name means the newest) from the store."""
    name = ref.split(":", 1)[0]
    if name not in SPECS:
        raise ModelLoadError(f"unknown model {name!r}; this code serves {sorted(SPECS)}")
    try:
        entry = bentoml.models.get(ref if ":" in ref else f"{ref}:latest")
    except NotFound:
        raise ModelLoadError(
            f"model {ref!r} is not in the BentoML model store ({bentoml_home()}); {retrain_hint()}"
        ) from None
    tag = str(entry.tag)
    metadata = dict(entry.info.metadata)
    config = _checked_config(tag, Path(entry.path), metadata)
    state = _checked_weights(tag, Path(entry.path), metadata)
    module = SPECS[name].build(config)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelLoadError(
            f"{tag}: weights do not fit the model in the code ({error}); {retrain_hint()}"
        ) from None
    module.eval().requires_grad_(False).to(device)
    created = entry.info.creation_time.isoformat()
    return LoadedModel(name, tag, module, config, metadata, created, Path(entry.path), str(device))


def bentoml_home() -> str:
    from bentoml._internal.configuration.containers import BentoMLContainer

    return str(BentoMLContainer.bentoml_home.get())


def _checked_config(tag: str, folder: Path, metadata: dict[str, Any]) -> Config:
    spec = SPECS[tag.split(":")[0]]
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{tag}: saved in format {metadata.get('format_version')!r}, this code reads {FORMAT_VERSION}; "
            + retrain_hint()
        )
    try:
        stored = json.loads((folder / CONFIG_FILE).read_text())
        config = config_from_dict(spec.config_type, stored)
    except (OSError, ValueError, TypeError) as error:
        raise ModelLoadError(f"{tag}: unreadable {CONFIG_FILE} ({error}); {retrain_hint()}") from None
    # The file as written against the metadata as written: entries saved before a config field with a
    # default existed (DigitsConfig.temperature) still load, with that default.
    if stored != metadata.get("config"):
        raise ModelLoadError(f"{tag}: {CONFIG_FILE} disagrees with the store's metadata; {retrain_hint()}")
    expected = spec.input_schema(spec.config_type())
    if metadata.get("input_schema") != expected or spec.input_schema(config) != expected:
        raise ModelLoadError(
            f"{tag}: its input schema {metadata.get('input_schema')} does not match the one this code "
            f"serves {expected}; {retrain_hint()}"
        )
    return config


def _checked_weights(tag: str, folder: Path, metadata: dict[str, Any]) -> dict[str, torch.Tensor]:
    path = folder / WEIGHTS_FILE
    try:
        weights = path.read_bytes()
    except OSError:
        raise ModelLoadError(f"{tag}: weights file {path} is missing; {retrain_hint()}") from None
    actual = hashlib.sha256(weights).hexdigest()
    if actual != metadata.get("weights_sha256"):
        raise ModelLoadError(
            f"{tag}: weights file {path} does not match its recorded sha256 "
            f"(recorded {metadata.get('weights_sha256')}, found {actual}): it was changed after training; "
            + retrain_hint()
        )
    try:
        return load(weights)  # safetensors: plain tensors, no code runs while reading
    except SafetensorError as error:
        raise ModelLoadError(
            f"{tag}: weights file {path} is not valid safetensors ({error}); {retrain_hint()}"
        ) from None
