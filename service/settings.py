"""Typed service settings, read from SERVING_* environment variables once per process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models import SPECS

# ModelSettings fields that `bentoml serve` sets for its workers at start (service/versions.py), not
# knobs for users: deployment files leave them out.
PINNED_FIELDS = ("served", "served_default")


class ModelSettings(BaseSettings):
    """The knobs of one model, read from SERVING_<KEY>_* (KEY is its registry key: TABULAR, DIGITS)."""

    model_config = SettingsConfigDict(frozen=True, protected_namespaces=())

    model: str = Field(default="", description="store reference: name or name:version (default: the name)")
    version_policy: str = Field(
        default="latest", description="latest, latest:N or specific:v1,v2 (service/versions.py)"
    )
    served: str = Field(default="", description="set by the server at start: the versions it pinned")
    served_default: str = Field(default="", description="set by the server at start: the default one")
    max_batch_rows: int = Field(default=1024, ge=1, description="rows merged into one forward pass")
    max_wait_ms: float = Field(default=0.0, ge=0, description="how long a batch may wait for more rows")


class ServingSettings(BaseSettings):
    """Every knob of the service; docs/serving.md's configuration table lists them."""

    model_config = SettingsConfigDict(env_prefix="SERVING_", frozen=True)

    device: Literal["auto", "cpu", "cuda"] = "auto"
    workers: int = Field(default=1, ge=1)
    torch_threads: int | None = Field(default=None, ge=1, description="per worker; default cores / workers")

    max_rows: int = Field(default=1024, ge=1, description="rows or images in one request")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=4096 * 4096, ge=64)

    max_in_flight: int = Field(default=128, ge=1, description="prediction requests per worker before 503")
    deadline_ms: int = Field(default=5000, ge=1, description="default per-request deadline")
    shutdown_grace_s: float = Field(default=20.0, gt=0, description="drain limit after SIGTERM")

    access_log: bool = Field(default=False, description="BentoML's line per request")
    tracing: bool = Field(default=False, description="OpenTelemetry spans for the API routes")

    batching: bool = True

    # The admin routes (reload) are off unless one of these holds a token (service/admin.py).
    admin_token: SecretStr | None = Field(default=None, description="Bearer token of the admin routes")
    admin_token_file: Path | None = Field(default=None, description="a file holding it (a mounted secret)")

    @field_validator("admin_token_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # `${SERVING_ADMIN_TOKEN_FILE:-}` in compose

    def threads_per_worker(self) -> int:
        """Torch intra-op threads so that workers x threads never exceeds the cores."""
        if self.torch_threads is not None:
            return self.torch_threads
        # The cores this process may run on (taskset, cpusets), not the machine's: two OpenMP threads
        # spinning on one core cost more than they compute.
        return max(1, len(os.sched_getaffinity(0)) // self.workers)


def model_variable(key: str, field: str) -> str:
    """The environment variable of one model's setting: ("tabular", "model") -> SERVING_TABULAR_MODEL."""
    return f"SERVING_{key.upper()}_{field.upper()}"


def model_settings(name: str) -> ModelSettings:
    """The settings of model ``name`` (a registry name), from its SERVING_<KEY>_* variables."""
    spec = SPECS[name]
    settings = ModelSettings(_env_prefix=f"SERVING_{spec.key.upper()}_")  # type: ignore[call-arg]
    return settings if settings.model else settings.model_copy(update={"model": name})


@lru_cache(maxsize=1)
def get_settings() -> ServingSettings:
    return ServingSettings()
