"""The one way to start a server and wait for it: tests, load runs, benchmarks and the topology use it.

A ``Launch`` says what to run (argv, environment, working folder, log, the cores to pin it to) and how to
tell it is ready (a URL that answers 200, or a check); a ``ServerProcess`` starts it in its own process
group, waits for it, and stops it cleanly: SIGTERM (to the process, or to its whole group for servers whose
main process leaves children behind), a grace period, then SIGKILL to the group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import psutil

REPO = Path(__file__).resolve().parent.parent
SERVICE = "service.service:ModelService"
SERVER_CPUS = "0"  # a server started by the load tools is pinned here ...
CLIENT_CPUS = "1"  # ... and the load generator here, so they do not fight for one core
# One worker with one torch thread fits the one core a load run or a benchmark pins the server to.
ONE_CORE_ENV: Mapping[str, str] = {"SERVING_WORKERS": "1", "SERVING_TORCH_THREADS": "1"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """``argv`` under ``taskset -c cpus`` when there is more than one core to choose from."""
    if cpus is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return argv
    return ["taskset", "-c", cpus, *argv]


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


def tree_usage(pid: int) -> tuple[int, int]:
    """Resident bytes and open file descriptors of ``pid`` and all its descendants ((0, 0) once gone)."""
    rss, fds = 0, 0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                rss += process.memory_info().rss
                fds += process.num_fds()
    except psutil.NoSuchProcess:
        pass
    return rss, fds


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants (0 once it is gone)."""
    return tree_usage(pid)[0]


@contextmanager
def client_pinned(cpus: str, enabled: bool = True) -> Iterator[None]:
    """Run this process on ``cpus`` (e.g. "1") for the block, when enabled and the machine has them."""
    usable = {int(cpu) for cpu in cpus.split(",")} & os.sched_getaffinity(0)
    if not enabled or not usable or len(os.sched_getaffinity(0)) < 2:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, usable)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def answers_200(url: str, timeout: float = 2) -> bool:
    """True when a GET of ``url`` answers 200 right now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status == 200  # type: ignore[no-any-return]
    except OSError:
        return False


def wait_until(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.5) -> float:
    """Seconds until ``check()`` held (an OSError counts as not yet); TimeoutError after ``timeout``.
    For a condition on a server that is already running; ``ServerProcess.wait_ready`` waits for one
    that is starting (and notices when it exits)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


def bentoml_cli() -> str:
    """The `bentoml` command of the environment running this."""
    return str(Path(sys.executable).parent / "bentoml")


@dataclass(frozen=True)
class Launch:
    """What to run and how to know it is ready."""

    argv: list[str]
    url: str  # the server's base URL
    ready: str | Callable[[], bool] | None = "/readyz"  # a path that answers 200 when ready, or a check
    env: Mapping[str, str] = field(default_factory=dict)  # added to this process's environment
    cwd: Path = REPO
    log: Path | None = None  # stdout and stderr go here (appended); nowhere when None
    cpus: str | None = None  # taskset core list
    stop_group: bool = False  # SIGTERM the whole process group, not only the main process


def bentoml_serve(
    target: str = SERVICE,
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    cpus: str | None = None,
    port: int | None = None,
) -> Launch:
    """`bentoml serve TARGET` on 127.0.0.1 and a free port (unless given), as a user runs it."""
    port = port or free_port()
    argv = [bentoml_cli(), "serve", target, "--host", "127.0.0.1", "--port", str(port)]
    return Launch(
        argv,
        f"http://127.0.0.1:{port}",
        env={"BENTOML_DO_NOT_TRACK": "True", **(env or {})},
        log=log,
        cpus=cpus,
    )


class ServerProcess:
    """A started ``Launch``: wait for it, measure it, stop it. Usable as a context manager."""

    def __init__(self, launch: Launch) -> None:
        self.launch = launch
        self.url = launch.url
        launch.cwd.mkdir(parents=True, exist_ok=True)
        output = launch.log.open("ab") if launch.log else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                pinned(launch.argv, launch.cpus),
                cwd=launch.cwd,
                env={**os.environ, **launch.env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stop() reaches everything it spawns
            )
        finally:
            if not isinstance(output, int):
                output.close()  # the child holds its own copy

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    def is_ready(self) -> bool:
        ready = self.launch.ready
        if ready is None:
            return True
        if isinstance(ready, str):
            return answers_200(self.url + ready)
        return ready()

    def wait_ready(self, timeout: float = 120) -> ServerProcess:
        """Return once ready; RuntimeError (after stopping it) if it exits or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self._name()} exited with {self.process.returncode}{self._see_log()}")
            if self.is_ready():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._name()} was not ready within {timeout:g} s{self._see_log()}")
            time.sleep(0.25)

    def cpu_seconds(self) -> float:
        """User + system CPU time of its whole process tree so far."""
        return tree_cpu_seconds(self.process.pid)

    def stop(self, grace: float = 30) -> float:
        """SIGTERM, up to ``grace`` seconds for it to exit, then SIGKILL to its group; seconds taken."""
        started = time.monotonic()
        if self.process.poll() is None:
            if self.launch.stop_group:
                _signal_group(self.process.pid, signal.SIGTERM)
            else:
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        _signal_group(self.process.pid, signal.SIGKILL)  # whatever it left behind in its group
        self.process.wait()
        return time.monotonic() - started

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _name(self) -> str:
        return Path(self.launch.argv[0]).name + (
            f" {self.launch.argv[1]}" if len(self.launch.argv) > 1 else ""
        )

    def _see_log(self) -> str:
        return f"; see {self.launch.log}" if self.launch.log else ""


def start(launch: Launch, timeout: float = 120) -> ServerProcess:
    """Start ``launch`` and wait until it is ready."""
    return ServerProcess(launch).wait_ready(timeout)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
