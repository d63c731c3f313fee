"""Switching model versions without a restart.

A reload resolves every model's version policy against the store again and verifies each version it
names (sha256 of the weights, the config and the input schema, as at start) before anything changes.
A version that fails is refused: nothing changes, and the reason is logged and recorded. Otherwise the
result is *published* as the next generation of pins, and every worker takes it up on its own:

- **The channel.** Workers are separate processes. The pins live in ``pins.json`` in the server's run
  directory (``<the server's Prometheus directory>/reload``, handed to every worker by BentoML and
  removed when the server stops), written whole and renamed into place under a lock, so a reader never
  sees half a file. Each worker checks its modification time every ``POLL_S`` seconds (a stat call) and
  acknowledges the generation it serves in ``workers/<pid>.json``. A worker that starts later (a crash,
  a restart) reads the pins file first, so it serves the current generation, not the one of the start.
- **The swap.** A worker loads and verifies the new versions in a background thread, warms each up,
  then replaces its version table in one assignment: a request holds the runtime it started with, so
  requests already admitted finish on the old version while new ones get the new. A version kept
  across generations keeps its runtime. A retired runtime is closed once every request admitted to it
  has had its full deadline.
- **The triggers.** SIGHUP to `bentoml serve` (``reload_on_sighup``: its process manager would otherwise
  restart every worker, cold) and the admin route ``POST /admin/reload`` (service/admin.py). Both call
  ``publish``.

An in-process app (tests) has no run directory: a reload there applies to the process itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models import SPECS
from service import versions
from service.loader import ModelLoadError, load_model
from service.versions import Served

logger = logging.getLogger("bentoml.serving")

RUN_FOLDER = "reload"
PINS_FILE = "pins.json"
WORKERS_FOLDER = "workers"
POLL_S = 0.25  # how often a worker looks for new pins: the longest a worker lags behind a reload


@dataclass(frozen=True)
class Pins:
    """One generation of what every worker should serve; ``refused`` says why the last reload changed
    nothing (its models are then the previous generation's)."""

    generation: int
    models: dict[str, Served]
    refused: str = ""
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "models": {name: asdict(served) for name, served in self.models.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pins:
        models = {
            name: Served(entry["name"], tuple(entry["versions"]), entry["default"])
            for name, entry in data["models"].items()
        }
        return cls(int(data["generation"]), models, str(data.get("refused", "")), float(data.get("at", 0)))


def run_dir(metrics_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """This server's reload directory: in the Prometheus directory BentoML hands every worker
    (PROMETHEUS_MULTIPROC_DIR), or ``metrics_dir`` in the main process. None in an in-process app."""
    base = metrics_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(base) / RUN_FOLDER if base else None


def resolve_all() -> dict[str, Served]:
    """Every model's versions from its policy and the store now, each verified by loading it (on the
    CPU, here); a ModelLoadError names the first that fails."""
    resolved: dict[str, Served] = {}
    for name in SPECS:
        served = versions.resolve(name, use_pins=False)
        for tag in served.tags():
            load_model(tag)
        resolved[name] = served
    return resolved


def read_pins(folder: Path | None) -> Pins | None:
    if folder is None:
        return None
    try:
        return Pins.from_json(json.loads((folder / PINS_FILE).read_text()))
    except FileNotFoundError:
        return None


def publish(folder: Path, current: dict[str, Served]) -> Pins:
    """Resolve and verify, then write the next generation: the new versions, or (when verification
    fails) the previous ones with the reason. ``current`` is what the caller serves, for the first
    generation's "previous"."""
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        previous = read_pins(folder)
        generation = (previous.generation if previous else 0) + 1
        pins = next_pins(generation, previous.models if previous else current)
        _write_json(folder / PINS_FILE, pins.to_json())
    return pins


def next_pins(generation: int, before: dict[str, Served]) -> Pins:
    """Generation ``generation``: the versions resolved and verified now, or ``before`` with the reason
    when one fails verification."""
    try:
        pins = Pins(generation, resolve_all())
    except ModelLoadError as error:
        logger.error("reload refused, the served versions stay: %s", error)
        return Pins(generation, before, refused=str(error))
    logger.info("reload: generation %d pins %s", generation, _listed(pins.models))
    return pins


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One reload at a time across the server's processes (SIGHUP and admin calls may race)."""
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write whole, then rename into place: readers see the old file or the new, never a part."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def _listed(models: dict[str, Served]) -> str:
    return "; ".join(f"{s.name}: {', '.join(s.versions)} (default {s.default})" for s in models.values())


def worker_acks(folder: Path | None) -> list[dict[str, Any]]:
    """What each live worker of the server says it serves (workers that are gone are left out)."""
    if folder is None or not (folder / WORKERS_FOLDER).is_dir():
        return []
    acks = []
    for path in sorted((folder / WORKERS_FOLDER).glob("*.json")):
        with contextlib.suppress(FileNotFoundError, ValueError):
            ack = json.loads(path.read_text())
            if _alive(int(ack["pid"])):
                acks.append(ack)
    return acks


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerReloader:
    """A worker's side: watch the pins, and apply a new generation with ``apply`` (given the pins, it
    loads, warms and swaps in the worker's service, and returns what it now serves)."""

    def __init__(self, folder: Path | None, apply: Callable[[Pins], dict[str, Served]]) -> None:
        self.folder = folder
        self._apply = apply
        self.generation = 0
        self.error = ""  # why this worker could not take up the last generation
        self._lock = threading.Lock()
        self._seen_mtime = 0.0

    def start(self, serving: dict[str, Served], generation: int) -> None:
        """Say what the worker serves at start, and watch for new pins (a daemon thread)."""
        self.generation = generation
        self.acknowledge(serving)
        if self.folder is not None:
            threading.Thread(target=self._watch, name="serving-reload", daemon=True).start()

    def take(self, pins: Pins) -> None:
        """Serve ``pins`` if newer than what this worker serves (a refused reload changes nothing)."""
        with self._lock:
            if pins.generation <= self.generation:
                return
            serving: dict[str, Served] | None = None
            if not pins.refused:
                try:
                    serving = self._apply(pins)
                    self.error = ""
                except ModelLoadError as error:
                    self.error = str(error)
                    logger.error(
                        "reload to generation %d failed here; still serving: %s", pins.generation, error
                    )
            self.generation = pins.generation
            self.acknowledge(serving)  # None: what it served before (refused here or everywhere)

    def acknowledge(self, serving: dict[str, Served] | None) -> None:
        if self.folder is None:
            return
        ack: dict[str, Any] = {"pid": os.getpid(), "generation": self.generation, "error": self.error}
        if serving is not None:
            ack["models"] = {
                name: {"versions": list(s.versions), "default": s.default} for name, s in serving.items()
            }
        else:
            previous = self._own_ack()
            ack["models"] = previous.get("models", {})
        (self.folder / WORKERS_FOLDER).mkdir(parents=True, exist_ok=True)
        _write_json(self.folder / WORKERS_FOLDER / f"{os.getpid()}.json", ack)

    def _own_ack(self) -> dict[str, Any]:
        assert self.folder is not None
        try:
            data: dict[str, Any] = json.loads(
                (self.folder / WORKERS_FOLDER / f"{os.getpid()}.json").read_text()
            )
        except (FileNotFoundError, ValueError):
            return {}
        return data

    def _watch(self) -> None:
        assert self.folder is not None
        path = self.folder / PINS_FILE
        while True:
            time.sleep(POLL_S)
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime == self._seen_mtime:
                continue
            self._seen_mtime = mtime
            try:
                pins = read_pins(self.folder)
                if pins is not None:
                    self.take(pins)
            except Exception:  # a bug must not end the watch: the worker keeps serving what it has
                logger.exception("reload watch: could not take up the new pins")


def reload_on_sighup(folder: Path, current: dict[str, Served]) -> None:
    """In `bentoml serve`'s own process: SIGHUP publishes the next generation (in a thread, off the
    process manager's loop) instead of circus's default, which restarts every worker with cold models
    and does not wait for them before stopping the old ones."""
    from circus.sighandler import SysHandler

    def handle_hup(handler: SysHandler) -> None:
        logger.info("SIGHUP: reloading the model versions")
        threading.Thread(target=publish, args=(folder, current), name="serving-sighup", daemon=True).start()

    SysHandler.handle_hup = handle_hup  # type: ignore[method-assign]
