"""One configuration of ``python -m bench compare`` measured on a fresh server: the tabular steps, our own
extras (HTTP floor, V2, latency after a large request) and the digits CNN workloads.

Every step is a wrk run of fixed length on core 1 against the server pinned to its cores; the server's
CPU time (its whole process tree) is read around the loaded steps, and wrk's own CPU time is recorded
with every step (``client_cpu_s``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.bodies import (
    DIGITS_1,
    DIGITS_32,
    ONE_ROW,
    ROWS_256,
    ROWS_1024,
    UPLOAD_PNG,
    V2_BINARY_256,
    V2_DIGITS,
    V2_DIGITS_BINARY_32,
    V2_JSON_256,
    V2_TABULAR,
)
from bench.compare_configs import WORKLOADS, Config, Workload
from bench.peers import PEERS, Peer, serve_peer
from bench.servers import SetupError, post_json, post_raw
from bench.wrk import RawBody, wrk, wrk_cpu
from load.server import CLIENT_CPUS, ServerProcess

BODIES: dict[str, object] = {
    "digits1": DIGITS_1,
    "digits32": DIGITS_32,
    "upload": UPLOAD_PNG,
    "v2_digits32": V2_DIGITS_BINARY_32,
}


def measure(config: Config, seconds: float, cnn_seconds: float, logs: Path) -> dict[str, Any]:
    """One fresh server: the tabular steps, ours' extras, and every CNN workload its peer serves."""
    log = logs / f"{config.label}.log"
    peer = PEERS[config.peer]
    with serve_peer(config.peer, log, cpus=config.server_cpus, env=config.env) as server:
        result = {
            "server_cpus": config.server_cpus,
            "client_cpus": CLIENT_CPUS,
            **tabular(server, peer, seconds),
        }
        if config.peer == "ours":
            result.update(ours_extras(server, seconds))
        result["cnn"] = {
            workload.key: cnn_step(server, url, workload, cnn_seconds)
            for workload in WORKLOADS
            if (url := cnn_url(server.url, peer, workload)) is not None
        }
        return result


def tabular(server: ServerProcess, peer: Peer, seconds: float) -> dict[str, Any]:
    """Lone latency, one-row load at 64 connections, 256-row bodies at 8, with the server's CPU per request."""
    url = server.url + peer.classify_path
    wrk(url, ONE_ROW, connections=8, seconds=2)  # warm-up
    lone = wrk(url, ONE_ROW, connections=1, seconds=seconds)
    loaded, cpu = wrk_cpu(server, url, ONE_ROW, connections=64, seconds=seconds)
    rows, cpu_256 = wrk_cpu(server, url, ROWS_256, connections=8, seconds=seconds)
    return {
        "lone": asdict(lone),
        "c64": asdict(loaded),
        "cpu_ms_per_request_c64": cpu * 1000 / max(loaded.requests, 1),
        "rows256": asdict(rows),
        "rows_per_s_256": rows.rps * 256,
        "cpu_ms_per_request_256": cpu_256 * 1000 / max(rows.requests, 1),
    }


def ours_extras(server: ServerProcess, seconds: float) -> dict[str, Any]:
    """The HTTP floor, V2 with 256-row bodies (JSON and binary), and lone latency after a 1024-row request."""
    url = server.url + PEERS["ours"].classify_path
    result: dict[str, Any] = {
        "floor": asdict(wrk(server.url + "/livez", None, connections=64, seconds=seconds))
    }
    for name, body in (("v2_json256", V2_JSON_256), ("v2_binary256", V2_BINARY_256)):
        measured = wrk(server.url + V2_TABULAR, body, connections=8, seconds=seconds)
        result[name] = {**asdict(measured), "rows_per_s": measured.rps * 256}
    post_json(url, ROWS_1024)
    result["lone_after_1024"] = asdict(wrk(url, ONE_ROW, connections=1, seconds=seconds))
    return result


def cnn_url(base: str, peer: Peer, workload: Workload) -> str | None:
    """Where ``peer`` takes ``workload``; None when it does not serve it (V2: ours only)."""
    if workload.route == "v2":
        return base + V2_DIGITS if peer.name == "ours" else None
    path = peer.cnn_path(workload.route)
    return None if path is None else base + path


def cnn_step(server: ServerProcess, url: str, workload: Workload, seconds: float) -> dict[str, Any]:
    """One CNN workload: checked to answer 200 with one probability row per image, then lone latency on
    one connection and load at the workload's connections with the server's CPU per request."""
    body = BODIES[workload.key]
    check_answer(url, body, workload.images, binary_answer=workload.route == "v2")
    lone = wrk(url, body, connections=1, seconds=seconds)
    loaded, cpu = wrk_cpu(server, url, body, connections=workload.connections, seconds=seconds)
    return {
        "lone": asdict(lone),
        "load": asdict(loaded),
        "connections": workload.connections,
        "images_per_s": loaded.rps * workload.images,
        "cpu_ms_per_request": cpu * 1000 / max(loaded.requests, 1),
    }


def check_answer(url: str, body: object, images: int, binary_answer: bool = False) -> None:
    """SetupError unless ``body`` posted to ``url`` answers 2xx with ``images`` rows of probabilities (a
    ``binary_answer``, V2 with binary outputs, by its status only)."""
    try:
        answer = _post(url, body)
    except OSError as error:
        raise SetupError(f"POST {url} failed: {error}") from error
    if binary_answer:
        return
    rows = json.loads(answer).get("probabilities", [])
    if len(rows) != images:
        raise SetupError(f"POST {url} answered {len(rows)} rows of probabilities for {images} images")


def _post(url: str, body: object) -> bytes:
    if isinstance(body, RawBody):
        return post_raw(url, body.payload, dict(body.headers))
    return post_json(url, body)
