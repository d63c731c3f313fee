"""Peer servers that a benchmark runs beside ours, each serving the same tabular model on POST /classify
and, where its handler style allows, the digits CNN: 8x8 images as JSON and one uploaded picture.

Every peer is started the way its own documentation shows, with its defaults (a baseline is never tuned
down, nor up). LitServe and TorchServe run from their own virtual environments (``bench.venvs``); their
code imports the repo's ``models/`` through ``PYTHONPATH``.

``PEERS`` maps a name to how to start it; ``serve_peer`` starts one through load.server's launcher,
pinned to the server's core, and returns it once it answers a real request.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bench.servers import post_json, ready
from bench.torchserve import (
    DIGITS_MODEL_NAME,
    MODEL_NAME,
    torchserve_command,
    torchserve_env,
    torchserve_home,
    torchserve_stop_command,
)
from bench.venvs import LITSERVE_PACKAGES, ensure_venv
from load.server import (
    ONE_CORE_ENV,
    REPO,
    SERVER_CPUS,
    SERVICE,
    Launch,
    ServerProcess,
    answers_200,
    bentoml_serve,
    free_port,
)


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class Peer:
    name: str
    what: str  # one line for reports
    launch: Callable[[int], Launch]  # port -> how to start it; builds what it needs (venv, archive) first
    classify_path: str  # POST here with {"rows": [...]}
    ready_path: str  # GET answers 200 when it says it is up (TorchServe: before its model; see probe)
    stop: Callable[[], list[str]] | None = None  # a documented stop command, run before the signals
    digits_path: str | None = "/digits"  # POST {"images": [...]}; None: not served (see not_served)
    upload_path: str | None = "/digits/image"  # POST one picture in the multipart field "image"
    not_served: str = ""  # why a digits path is None, for the report

    def cnn_path(self, route: str) -> str | None:
        """Where this peer takes ``route`` ("digits": JSON images, "upload": one picture)."""
        return self.digits_path if route == "digits" else self.upload_path


def _bentoml(target: str, env: Mapping[str, str]) -> Callable[[int], Launch]:
    return lambda port: bentoml_serve(target, env=env, port=port)


def _starlette(port: int) -> Launch:
    # The same HTTP stack as the service (pinned in pyproject.toml), named so a missing one fails loudly.
    argv = [sys.executable, "-m", "uvicorn", "bench.variants.starlette_app:app", "--http", "httptools"]
    return Launch([*argv, "--loop", "uvloop", "--host", "127.0.0.1", "--port", str(port)], _url(port))


def litserve_command(port: int) -> list[str]:
    """LitServe's command line (run it with cwd=REPO and PYTHONPATH=REPO); builds its venv if missing."""
    python = ensure_venv("litserve", LITSERVE_PACKAGES) / "bin" / "python"
    return [str(python), "-m", "bench.variants.litserve_app", "--port", str(port)]


def _litserve(port: int) -> Launch:
    return Launch(litserve_command(port), _url(port), env={"PYTHONPATH": str(REPO)})


def _torchserve(port: int) -> Launch:
    return Launch(torchserve_command(port), _url(port), env=torchserve_env(port), cwd=torchserve_home(port))


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in [
        # Ours as the load tools serve it: one worker, one torch thread, for the one core it is pinned to.
        Peer("ours", "this project's service", _bentoml(SERVICE, ONE_CORE_ENV), "/classify", "/readyz"),
        Peer(
            "stock-bentoml",
            "stock BentoML 1.4.39: default @bentoml.service, sync unbatched @bentoml.api, uploads as a"
            " PIL.Image.Image parameter",
            _bentoml("bench.variants.stock_bentoml:StockService", {}),
            "/classify",
            "/readyz",
        ),
        Peer(
            "starlette",
            "plain Starlette app on uvicorn (httptools, uvloop), models in-line, uploads via request.form()",
            _starlette,
            "/classify",
            "/readyz",
        ),
        Peer(
            "litserve",
            "LitServe 0.2.19, its defaults (uvloop, httptools); one LitAPI per endpoint in one LitServer,"
            " one inference worker each",
            _litserve,
            "/classify",
            "/health",
        ),
        Peer(
            "torchserve",
            "TorchServe 0.12.0 (Java 17 frontend, Python workers), its defaults; one archive per model,"
            " one path per model (its handler tells the JSON images from the upload)",
            _torchserve,
            f"/predictions/{MODEL_NAME}",
            "/ping",
            stop=torchserve_stop_command,
            digits_path=f"/predictions/{DIGITS_MODEL_NAME}",
            upload_path=f"/predictions/{DIGITS_MODEL_NAME}",
        ),
    ]
}

PROBE_ROW = [0.5, -1.0, 2.0, 0.0, 1.5, -0.5, 0.25, 3.0, -2.0, 1.0]
PROBE_IMAGE = [[8.0] * 8 for _ in range(8)]


def probe(peer: Peer, url: str) -> Callable[[], bool]:
    """Ready when the peer's readiness path answers 200 and then a one-row POST to its classify path
    answers with one probability, and a one-image POST to its digits path (if any) with one row of them.

    The probe requests matter for TorchServe, whose /ping says "Healthy" before its workers have loaded
    the models (a request sent then waits in its queue), and for LitServe, which starts one inference
    worker per endpoint; every peer gets the same warm-up requests."""
    asks: list[tuple[str, object]] = [(peer.classify_path, {"rows": [PROBE_ROW]})]
    if peer.digits_path is not None:
        asks.append((peer.digits_path, {"images": [PROBE_IMAGE]}))

    def check() -> bool:
        if not answers_200(url + peer.ready_path):
            return False
        try:
            answers = [json.loads(post_json(url + path, body, timeout=60)) for path, body in asks]
        except OSError:
            return False
        return all(len(answer["probabilities"]) == 1 for answer in answers)

    return check


class PeerProcess(ServerProcess):
    """A started peer: its documented stop command, if it has one, runs before load.server's signals.

    Signals go to the whole group: LitServe's main process exits on SIGTERM leaving its workers behind,
    and TorchServe's Java server is a child of the ``torchserve`` CLI."""

    def __init__(self, launch: Launch, stop_argv: list[str] | None) -> None:
        self.stop_argv = stop_argv
        super().__init__(launch)

    def stop(self, grace: float = 30) -> float:
        if self.stop_argv is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(
                    self.stop_argv,
                    cwd=self.launch.cwd,
                    env={**os.environ, **self.launch.env},
                    capture_output=True,
                    timeout=90,
                    check=False,
                )
        return super().stop(grace)


def peer_launch(
    name: str,
    log: Path,
    cpus: str = SERVER_CPUS,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Launch:
    """How to start peer ``name`` on 127.0.0.1 (a free port unless given), pinned to ``cpus``, with
    ``env`` added last to its environment and its output appended to ``log``."""
    peer = PEERS[name]
    base = peer.launch(port or free_port())
    return replace(
        base,
        ready=probe(peer, base.url),
        env={**base.env, **(env or {})},
        log=log,
        cpus=cpus,
        stop_group=True,
    )


def serve_peer(
    name: str, log: Path, cpus: str = SERVER_CPUS, env: Mapping[str, str] | None = None, timeout: float = 240
) -> ServerProcess:
    """Start peer ``name`` (see ``peer_launch``) and return it once it answers the probe request."""
    stop = PEERS[name].stop
    return ready(PeerProcess(peer_launch(name, log, cpus, env), stop() if stop else None), timeout)
