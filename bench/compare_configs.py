"""What ``python -m bench compare`` measures: the configurations (a peer and how it is started) and the
digits CNN workloads (path, images per request, connections). No heavy imports: ``--help`` reads these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bench.peers import PEERS
from load.server import SERVER_CPUS


@dataclass(frozen=True)
class Config:
    label: str
    peer: str
    env: dict[str, str] = field(default_factory=dict)
    server_cpus: str = SERVER_CPUS
    note: str = ""

    def describe(self) -> str:
        """One line for the report."""
        return f"{PEERS[self.peer].what}{'; ' + self.note if self.note else ''}{'; env ' + str(self.env) if self.env else ''}"


CONFIGS = [
    Config("ours", "ours"),
    Config("stock-bentoml", "stock-bentoml"),
    Config("starlette", "starlette"),
    Config("litserve", "litserve"),
    Config("torchserve", "torchserve"),
    Config("ours-unbatched", "ours", {"SERVING_BATCHING": "false"}),
    Config(
        "ours-2-workers",
        "ours",
        {"SERVING_WORKERS": "2", "SERVING_TORCH_THREADS": "1"},
        "0,1",
        "both cores for the server; wrk shares core 1 with one of its workers",
    ),
]
# A quick run measures these alone: the peers that need no venv of their own, and ours once.
QUICK_LABELS = ("ours", "stock-bentoml", "starlette")


def on_device(config: Config, device: str) -> Config:
    """``config`` with our service on ``device`` ("cpu": as it is; the peers always run on the CPU)."""
    if device == "cpu" or config.peer != "ours":
        return config
    return replace(config, env={**config.env, "SERVING_DEVICE": device})


@dataclass(frozen=True)
class Workload:
    """One digits CNN path measured on every server that serves it."""

    key: str  # its name in bench.json and the summary's figure names
    title: str  # for the report
    route: str  # "digits" (JSON images), "upload" (one picture) or "v2" (ours only, binary tensor)
    images: int  # per request
    connections: int  # under load (the lone step uses one)


WORKLOADS = (
    Workload("digits1", "/digits, 1 image (JSON)", "digits", 1, 64),
    Workload("digits32", "/digits, 32 images (JSON)", "digits", 32, 8),
    Workload("upload", "/digits/image, one PNG (multipart)", "upload", 1, 8),
    Workload("v2_digits32", "V2 binary, digits-cnn [32,8,8] FP32", "v2", 32, 8),
)
