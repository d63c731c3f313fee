"""Which model a V2 path names, and what the protocol says of the server and of each model.

Everything comes from the registry (models.SPECS) and the runtimes the service loaded, so a new model
of a known kind is described and served here by its registry entry alone.
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
from typing import Any

from models import SPECS
from service.errors import ApiError
from service.handlers import ServesModels, served_version
from service.kinds import kind_of
from service.runtime import ModelRuntime
from service.v2.answer import DATATYPES

SERVER_NAME = "bento-serving"
EXTENSIONS = ("binary_tensor_data",)
PLATFORM = "pytorch"  # every registry entry builds a torch nn.Module


@lru_cache(maxsize=1)
def server_version() -> str:
    """The project's version, from its installed metadata (a bento runs it uninstalled: "unknown")."""
    try:
        return importlib.metadata.version(SERVER_NAME)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def server_metadata() -> dict[str, Any]:
    return {"name": SERVER_NAME, "version": server_version(), "extensions": list(EXTENSIONS)}


def version_of(runtime: ModelRuntime) -> str:
    """The store version a runtime serves: the part of its tag after "name:"."""
    return runtime.tag.split(":", 1)[1]


def served_model(service: ServesModels, name: str, version: str | None) -> ModelRuntime:
    """The runtime that answers for model ``name`` at ``version`` (None: its default version); 404
    otherwise. The one place that maps a V2 path to a model."""
    if name not in service.runtimes:
        raise unknown_model(name)
    return served_version(service, name, version)


def unknown_model(name: str) -> ApiError:
    return ApiError("not_found", f"there is no model {name[:64]!r}; this server serves {sorted(SPECS)}")


def model_metadata(runtime: ModelRuntime, versions: list[str] | None = None) -> dict[str, Any]:
    """Name, the versions served (``versions``, newest first; default: the runtime's), platform, and
    the input and output tensors (-1: any batch size)."""
    kind = kind_of(runtime.schema)
    tensor = {
        "name": kind.tensor_name,
        "datatype": "FP32",
        "shape": [-1, *kind.tensor_shapes(runtime.schema)[0]],
    }
    shapes = {"probabilities": [-1, *kind.output_shape(runtime.schema)], "labels": [-1]}
    return {
        "name": runtime.loaded.name,
        "versions": versions or [version_of(runtime)],
        "platform": PLATFORM,
        "inputs": [tensor],
        "outputs": [
            {"name": name, "datatype": datatype, "shape": shapes[name]}
            for name, (datatype, _) in DATATYPES.items()
        ],
    }
