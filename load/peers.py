"""Peer servers that a benchmark runs beside ours, each serving the same tabular model on POST /classify.

Every peer is started the way its own documentation shows, with its defaults (a baseline is never tuned
down, nor up). LitServe and TorchServe bring their own web stacks (uvloop, httptools, Java), so each runs
from its own virtual environment under ``reports/venvs/`` (git-ignored), built here by ``ensure_venv``;
their code imports the repo's ``models/`` through ``PYTHONPATH``.

``PEERS`` maps a name to how to start it; ``start_peer`` starts one pinned to ``SERVER_CPUS`` and
``stop_peer`` stops it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from load.harness import REPO, SERVER_CPUS, free_port, pinned

VENVS = REPO / "reports" / "venvs"
TORCHSERVE_HOME = REPO / "reports" / "torchserve"
# The CPU wheel on these machines; a looser pin pulls a multi-GB CUDA build.
TORCH = "torch==2.13.0"
MODEL_PACKAGES = [TORCH, "numpy", "safetensors"]
LITSERVE_PACKAGES = [*MODEL_PACKAGES, "litserve==0.2.19"]
# pyyaml: TorchServe's Python worker imports yaml, but torchserve 0.12.0 does not declare it (its own
# install script adds it); without it every worker dies at start while /ping still says "Healthy".
TORCHSERVE_PACKAGES = [*MODEL_PACKAGES, "torchserve==0.12.0", "torch-model-archiver==0.12.0", "pyyaml"]
MODEL_NAME = "tabular-classifier"
_STAMP = ".installed.json"


def ensure_venv(name: str, packages: list[str]) -> Path:
    """The virtual environment ``reports/venvs/<name>`` with ``packages`` installed; instant when its
    stamp file says the same packages are already there."""
    torch_pins = [package for package in packages if package.split("=")[0].strip().lower() == "torch"]
    if torch_pins and torch_pins != [TORCH]:
        raise ValueError(f"pin torch as {TORCH!r}, got {torch_pins}: a looser pin pulls a CUDA build")
    venv = VENVS / name
    stamp = venv / _STAMP
    wanted = sorted(packages)
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return venv
    python = venv / "bin" / "python"
    if not python.exists():
        # python3 -m venv with the interpreter running this (from a venv: its base interpreter), so the
        # peer runs the same Python as the project.
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
        check=True,
    )
    stamp.write_text(json.dumps(wanted))
    return venv


@dataclass(frozen=True)
class Command:
    """A command line to run, with what it adds to the environment and where it runs."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class Peer:
    name: str
    what: str  # one line for reports
    command: Callable[[int], Command]  # port -> how to start it; builds what it needs (venv, archive) first
    classify_path: str  # POST here with {"rows": [...]}
    ready_path: str  # GET answers 200 when it says it is up (TorchServe: before its model; see wait_ready)
    stop: Callable[[int], Command] | None = None  # a documented stop command, run before signalling


def _project_bin(tool: str) -> str:
    """A tool of the project's venv (the one running this)."""
    return str(Path(sys.executable).parent / tool)


def _bentoml(target: str, extra_env: dict[str, str]) -> Callable[[int], Command]:
    def command(port: int) -> Command:
        argv = [_project_bin("bentoml"), "serve", target, "--host", "127.0.0.1", "--port", str(port)]
        return Command(argv, {"BENTOML_DO_NOT_TRACK": "True", **extra_env}, REPO)

    return command


def starlette_command(port: int) -> Command:
    argv = [sys.executable, "-m", "uvicorn", "load.variants.starlette_app:app"]
    return Command([*argv, "--host", "127.0.0.1", "--port", str(port)], {}, REPO)


def litserve_command(port: int) -> list[str]:
    """LitServe's command line (run it with cwd=REPO and PYTHONPATH=REPO); builds its venv if missing."""
    python = ensure_venv("litserve", LITSERVE_PACKAGES) / "bin" / "python"
    return [str(python), "-m", "load.variants.litserve_app", "--port", str(port)]


def _litserve(port: int) -> Command:
    return Command(litserve_command(port), {"PYTHONPATH": str(REPO)}, REPO)


def _store_latest() -> tuple[str, Path]:
    """The newest tabular-classifier version in $BENTOML_HOME, and its folder (no torch import here)."""
    home = Path(os.environ.get("BENTOML_HOME") or Path.home() / "bentoml")
    models = home / "models" / MODEL_NAME
    version = (models / "latest").read_text().strip()
    return version, models / version


def torchserve_archive(venv: Path) -> Path:
    """Pack the newest stored model and our handler into ``reports/torchserve/model-store/`` and return
    the model store. The archive's name and version are the store's, so answers name the same tag."""
    version, folder = _store_latest()
    store = TORCHSERVE_HOME / "model-store"
    store.mkdir(parents=True, exist_ok=True)
    argv = [
        str(venv / "bin" / "torch-model-archiver"),
        *("--model-name", MODEL_NAME, "--version", version),
        *("--serialized-file", str(folder / "weights.safetensors")),
        *("--extra-files", str(folder / "config.json")),
        *("--handler", str(REPO / "load" / "variants" / "torchserve_handler.py")),
        *("--export-path", str(store), "--force"),
    ]
    subprocess.run(argv, check=True)
    return store


def torchserve_config(port: int) -> Path:
    """config.properties: TorchServe's defaults, except every listener on 127.0.0.1 with the inference
    API on ``port`` and the others on free ports (so servers side by side do not collide), and token
    authorization off (on by default since 0.11: every call would need a key from key_file.json)."""
    home = TORCHSERVE_HOME / str(port)
    home.mkdir(parents=True, exist_ok=True)
    settings = {
        "inference_address": f"http://127.0.0.1:{port}",
        "management_address": f"http://127.0.0.1:{free_port()}",
        "metrics_address": f"http://127.0.0.1:{free_port()}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_inference_port": str(free_port()),
        "grpc_management_address": "127.0.0.1",
        "grpc_management_port": str(free_port()),
        "disable_token_authorization": "true",
    }
    path = home / "config.properties"
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


def _torchserve_env(port: int) -> dict[str, str]:
    # The torchserve CLI keeps its pid file in the temp folder (TMPDIR) and the Java server its workers'
    # Unix sockets (TEMP, as java.io.tmpdir), named by worker number only: one folder per port lets
    # servers run side by side, and `torchserve --stop` find the right one. The Java server passes
    # PYTHONPATH on to its Python workers, which import the handler's helpers from the repo.
    tmp = TORCHSERVE_HOME / str(port) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {"PYTHONPATH": str(REPO), "TMPDIR": str(tmp), "TEMP": str(tmp)}


def torchserve_command(port: int) -> list[str]:
    """TorchServe in the foreground (run it with cwd=reports/torchserve/<port>, where it writes its logs,
    and the env of ``PEERS["torchserve"].command``); builds its venv, archive and config first."""
    venv = ensure_venv("torchserve", TORCHSERVE_PACKAGES)
    store = torchserve_archive(venv)
    config = torchserve_config(port)
    return [
        str(venv / "bin" / "torchserve"),
        *("--start", "--foreground", "--ts-config", str(config), "--model-store", str(store)),
        *("--models", f"{MODEL_NAME}={MODEL_NAME}.mar"),
    ]


def torchserve_stop_command(port: int) -> list[str]:
    return [str(VENVS / "torchserve" / "bin" / "torchserve"), "--stop", "--foreground"]


def _torchserve(port: int) -> Command:
    return Command(torchserve_command(port), _torchserve_env(port), TORCHSERVE_HOME / str(port))


def _torchserve_stop(port: int) -> Command:
    return Command(torchserve_stop_command(port), _torchserve_env(port), TORCHSERVE_HOME / str(port))


# Ours as the load tools serve it: one worker, one torch thread, for the one core it is pinned to.
_OURS_ENV = {"SERVING_WORKERS": "1", "SERVING_TORCH_THREADS": "1"}

PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in [
        Peer(
            "ours",
            "this project's service",
            _bentoml("service.service:ModelService", _OURS_ENV),
            "/classify",
            "/readyz",
        ),
        Peer(
            "stock-bentoml",
            "stock BentoML 1.4.39: default @bentoml.service, sync unbatched @bentoml.api",
            _bentoml("load.variants.stock_bentoml:StockService", {}),
            "/classify",
            "/readyz",
        ),
        Peer(
            "starlette",
            "plain Starlette app on uvicorn (h11), model in-line",
            starlette_command,
            "/classify",
            "/readyz",
        ),
        Peer(
            "litserve", "LitServe 0.2.19, its defaults (uvloop, httptools)", _litserve, "/classify", "/health"
        ),
        Peer(
            "torchserve",
            "TorchServe 0.12.0 (Java 17 frontend, Python worker), its defaults",
            _torchserve,
            f"/predictions/{MODEL_NAME}",
            "/ping",
            stop=_torchserve_stop,
        ),
    ]
}


@dataclass
class Running:
    peer: Peer
    port: int
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]


def start_peer(
    name: str, log: Path, port: int | None = None, cpus: str = SERVER_CPUS, env: dict[str, str] | None = None
) -> Running:
    """Start peer ``name`` on 127.0.0.1 (a free port unless given), pinned to ``cpus``, with ``env`` added
    last to its environment, in its own process group (so that ``stop_peer`` reaches every process it
    spawns), its output to ``log``. Call ``wait_ready`` before sending it traffic."""
    peer = PEERS[name]
    port = port or free_port()
    command = peer.command(port)
    command.cwd.mkdir(parents=True, exist_ok=True)
    out = log.open("wb")
    process = subprocess.Popen(
        pinned(command.argv, cpus),
        cwd=command.cwd,
        env={**os.environ, **command.env, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Running(peer, port, f"http://127.0.0.1:{port}", process, out)


PROBE_ROW = [0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 0.25, 3.0, -2.0, 1.0]


def wait_ready(running: Running, timeout: float = 180) -> None:
    """Return once the peer's readiness path answers 200 and then a one-row POST to its classify path
    answers with one probability; RuntimeError if it exits or ``timeout`` passes first.

    The probe request matters for TorchServe, whose /ping says "Healthy" before its worker has loaded the
    model (a request sent then waits in its queue); every peer gets the same one warm-up request."""
    deadline = time.monotonic() + timeout
    body = json.dumps({"rows": [PROBE_ROW]}).encode()
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"{running.peer.name} exited with {running.process.returncode}")
        try:
            with urllib.request.urlopen(running.url + running.peer.ready_path, timeout=2) as answer:
                ready = answer.status == 200
            if ready:
                request = urllib.request.Request(
                    running.url + running.peer.classify_path, body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=max(1.0, deadline - time.monotonic())) as answer:
                    if len(json.loads(answer.read())["probabilities"]) == 1:
                        return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{running.peer.name} not ready after {timeout:g} s")


def stop_peer(running: Running, timeout: float = 30) -> None:
    """Its stop command if it has one, then SIGTERM to its process group, then SIGKILL to what is left.

    The group, not the process: LitServe's main process exits on SIGTERM leaving its workers behind, and
    on SIGINT stops only its HTTP worker; TorchServe's Java server is a child of the ``torchserve`` CLI."""
    if running.peer.stop is not None and running.process.poll() is None:
        stop = running.peer.stop(running.port)
        subprocess.run(
            stop.argv,
            cwd=stop.cwd,
            env={**os.environ, **stop.env},
            capture_output=True,
            timeout=90,
            check=False,
        )
    group = running.process.pid  # start_new_session: the group id is the leader's pid
    _signal_group(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        running.process.wait(timeout=timeout)
    _signal_group(group, signal.SIGKILL)
    running.process.wait()
    running.log.close()


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)
