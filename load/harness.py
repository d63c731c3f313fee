"""Pieces every benchmark here shares: a server on its own core, wrk on another, CPU accounting."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
SERVER_CPUS = "0"  # the server is pinned here ...
CLIENT_CPUS = "1"  # ... and the load generator here, so they do not fight for one core


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_meta(**extra: object) -> dict[str, object]:
    """What a benchmark's result file records about its run: date, commit, machine, and ``extra``."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "commit": commit.stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        **extra,
    }


def pinned(command: list[str], cpus: str) -> list[str]:
    return (
        ["taskset", "-c", cpus, *command]
        if shutil.which("taskset") and (os.cpu_count() or 1) > 1
        else command
    )


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and all its descendants so far."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


class BentoServer:
    """`bentoml serve TARGET` on 127.0.0.1 and a free port, pinned to SERVER_CPUS."""

    def __init__(self, target: str, env: dict[str, str], log: Path, cpus: str = SERVER_CPUS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        bentoml_cli = str(Path(sys.executable).parent / "bentoml")
        command = [bentoml_cli, "serve", target, "--host", "127.0.0.1", "--port", str(self.port)]
        env = {**os.environ, "BENTOML_DO_NOT_TRACK": "True", **env}
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            pinned(command, cpus), cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 120) -> BentoServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see {self._log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"server not ready after {timeout} s; see {self._log.name}")

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole process tree so far."""
        return tree_cpu_seconds(self.process.pid)

    def post(self, path: str, body: object) -> bytes:
        request = urllib.request.Request(
            self.url + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.read()  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int  # socket errors: connect, read, write, timeout


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, body: object, connections: int, seconds: float, cpus: str = CLIENT_CPUS) -> WrkResult:
    """POST ``body`` as JSON to ``url`` with wrk (one thread, ``connections`` keep-alive connections);
    a plain GET when ``body`` is None."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if body is not None:
            payload = json.dumps(json.dumps(body))  # a Lua string literal is close enough to JSON's
            script.write(
                f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {payload}\n'
            )
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        script.name,
        url,
    ]
    done = subprocess.run(
        pinned(command, cpus), capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    os.unlink(script.name)
    out = done.stdout
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.MULTILINE))
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert total is not None, out
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )
