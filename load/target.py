"""The server a load run talks to: one started here (pinned to SERVER_CPUS) or one given with --host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from load.server import ONE_CORE_ENV, SERVER_CPUS, answers_200, bentoml_serve, start, wait_until


@dataclass(frozen=True)
class Target:
    url: str
    started_here: bool  # True: this process started it, pinned to SERVER_CPUS
    log: Path | None
    pid: int | None = None  # the `bentoml serve` process, when started here


def server_env() -> dict[str, str]:
    """The environment a server started here gets: one worker, one torch thread, unless set already."""
    return {key: os.environ.get(key, value) for key, value in ONE_CORE_ENV.items()}


@contextmanager
def serving_target(host: str | None, out_dir: Path, ready_timeout: float = 120) -> Iterator[Target]:
    """Yield the server to load: ``host`` once ready, else a fresh `bentoml serve` stopped afterwards."""
    if host:
        url = host.rstrip("/")
        try:
            wait_until(
                f"{url}/readyz answering 200", lambda: answers_200(f"{url}/readyz"), min(ready_timeout, 30)
            )
        except TimeoutError as error:
            raise RuntimeError(str(error)) from None  # the load tools report a RuntimeError and exit 2
        yield Target(url, started_here=False, log=None)
        return
    log = out_dir / "server.log"
    with start(bentoml_serve(env=server_env(), log=log, cpus=SERVER_CPUS), ready_timeout) as server:
        yield Target(server.url, started_here=True, log=log, pid=server.pid)
