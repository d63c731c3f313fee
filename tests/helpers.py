"""Helpers for tests that run the project's commands in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run_python(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python <args>`` from the repo root with this interpreter, capturing text output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bentoml_model_info(ref: str, home: Path | None = None) -> dict[str, Any]:
    """What `bentoml models get REF -o json` shows a user."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "bentoml"), "models", "get", ref, "-o", "json"],
        env={**os.environ, "BENTOML_HOME": str(home or os.environ["BENTOML_HOME"])},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info: dict[str, Any] = json.loads(done.stdout)
    return info


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A real `bentoml serve` of the service on 127.0.0.1 and a free port, as a user runs it."""

    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> Server:
        import time
        import urllib.request

        bentoml_cli = str(Path(sys.executable).parent / "bentoml")
        command = [
            bentoml_cli,
            "serve",
            "service.service:ModelService",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"bentoml serve exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"bentoml serve was not ready within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
