"""How a benchmark starts the servers it measures (through load.server's one launcher), posts to them,
and what counts as a setup problem rather than a failed measurement."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from load.server import SERVER_CPUS, SERVICE, Launch, ServerProcess, bentoml_serve


class SetupError(Exception):
    """The run could not be set up (a tool missing, a server that would not start): exit status 2."""


def ours(log: Path, env: Mapping[str, str] | None = None, target: str = SERVICE) -> Launch:
    """`bentoml serve TARGET` pinned to the server's core, its output to ``log``."""
    return bentoml_serve(target, env=env, log=log, cpus=SERVER_CPUS)


def ready(server: ServerProcess, timeout: float = 120) -> ServerProcess:
    """Wait for ``server``; one that exits or is not ready in time is stopped and a SetupError."""
    try:
        return server.wait_ready(timeout)
    except RuntimeError as error:
        server.stop()
        raise SetupError(str(error)) from error


def serve(launch: Launch, timeout: float = 120) -> ServerProcess:
    """Start ``launch`` and wait until it is ready (load.server.start, with a SetupError on failure)."""
    return ready(ServerProcess(launch), timeout)


def post_json(url: str, body: object, timeout: float = 60) -> bytes:
    """POST ``body`` as JSON to ``url``; the answer's bytes (HTTPError unless it is a 2xx)."""
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.read()  # type: ignore[no-any-return]


def post_raw(url: str, payload: bytes, headers: Mapping[str, str], timeout: float = 60) -> bytes:
    """POST these exact bytes with exactly these headers (and Content-Length) to ``url``, as wrk sends a
    RawBody (urllib would add a form Content-Type); the answer's bytes, HTTPError unless it is a 2xx."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request(
            "POST", parts.path + (f"?{parts.query}" if parts.query else ""), payload, dict(headers)
        )
        answer = connection.getresponse()
        data = answer.read()
    finally:
        connection.close()
    if not 200 <= answer.status < 300:
        raise urllib.error.HTTPError(url, answer.status, answer.reason, answer.headers, None)
    return data
