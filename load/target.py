"""The server a load run talks to: one started here (pinned to SERVER_CPUS) or one given with --host."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from load.harness import BentoServer

SERVICE = "service.service:ModelService"
# One worker with one torch thread fits the one core the server is pinned to; the environment wins.
SERVER_DEFAULTS = {"SERVING_WORKERS": "1", "SERVING_TORCH_THREADS": "1"}


@dataclass(frozen=True)
class Target:
    url: str
    started_here: bool  # True: this process started it, pinned to harness.SERVER_CPUS
    log: Path | None
    pid: int | None = None  # the `bentoml serve` process, when started here


def wait_ready(url: str, timeout: float) -> None:
    """Return once ``url``/readyz answers 200; RuntimeError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}/readyz did not answer 200 within {timeout:g} s")
        time.sleep(0.5)


@contextmanager
def serving_target(host: str | None, out_dir: Path, ready_timeout: float = 120) -> Iterator[Target]:
    """Yield the server to load: ``host`` once ready, else a fresh `bentoml serve` stopped afterwards."""
    if host:
        url = host.rstrip("/")
        wait_ready(url, timeout=min(ready_timeout, 30))
        yield Target(url, started_here=False, log=None)
        return
    log = out_dir / "server.log"
    env = {key: os.environ.get(key, value) for key, value in SERVER_DEFAULTS.items()}
    server = BentoServer(SERVICE, env, log)
    try:
        server.wait_ready(timeout=ready_timeout)
        yield Target(server.url, started_here=True, log=log, pid=server.process.pid)
    finally:
        server.stop()


def new_run_dir(root: Path, suffix: str = "") -> Path:
    """``root/<YYYYmmdd-HHMMSS><suffix>``, made fresh (a counter is added if that second is taken)."""
    stamp = time.strftime("%Y%m%d-%H%M%S") + suffix
    for attempt in range(100):
        path = root / (stamp if attempt == 0 else f"{stamp}.{attempt}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot make a fresh folder under {root}")
