"""Switching model versions without a restart (service/reload.py, service/admin.py), in a real
`bentoml serve` with two workers under load.

The server runs on a store of this module's own (a copy of the session's), to which the tests add
tabular versions with quick training. Load: 8 concurrent clients posting one row to /classify in a loop
for the whole switch; every answer is recorded with when it was sent and which version computed it.

Bad input tried on the admin routes: no Authorization header, a wrong token, the right token under
the Basic scheme, a token too short to configure, both token settings at once, an unreadable token
file; a new version whose weights were altered after training.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from load.server import ServerProcess
from service.admin import AdminTokenError, admin_token
from service.settings import ServingSettings
from tests.helpers import run_python

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROW = [0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.4, -2.1, 0.9, 0.0]
CLIENTS = 8
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(trained_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("reload-store") / "store"
    shutil.copytree(trained_store, copy, ignore=shutil.ignore_patterns("serving-metrics", "prometheus*"))
    return copy


def new_version(store: Path, seed: int) -> str:
    """Train a new tabular version into ``store`` (quick: a few seconds); its version."""
    done = run_python(
        "-m", "training", "tabular", "--quick", "--no-plots", "--seed", str(seed),
        "--reports-dir", str(store / "reports"), env={"BENTOML_HOME": str(store)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return (store / "models" / "tabular-classifier" / "latest").read_text().strip()


def served_version(url: str) -> str:
    answer = httpx.post(f"{url}/classify", json={"rows": [ROW]}, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model"]).split(":")[1]


@pytest.fixture(scope="module")
def reloading(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from load.server import bentoml_serve

    log = tmp_path_factory.mktemp("reload-logs") / "serve.log"
    env = {"BENTOML_HOME": str(store), "SERVING_WORKERS": "2", "SERVING_ADMIN_TOKEN": TOKEN}
    server = ServerProcess(bentoml_serve(env=env, log=log))
    try:
        yield server.wait_ready(120)
    finally:
        server.stop()


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic()
    took_s: float
    status: int
    version: str


class Load:
    """CLIENTS concurrent one-row clients in a thread of their own until ``stop``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[Answer] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        time.sleep(1.0)  # steady state before the switch
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1.0)  # and after it
        self._stop.set()
        self._thread.join(30)

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.gather(*(self._client(client) for _ in range(CLIENTS)))

    async def _client(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                answer = await client.post(f"{self.url}/classify", json={"rows": [ROW]})
            except httpx.HTTPError as error:
                self.errors.append(repr(error))
                continue
            version = str(answer.json().get("model", ":")).split(":")[1] if answer.status_code == 200 else ""
            self.answers.append(Answer(sent, time.monotonic() - sent, answer.status_code, version))


def latency_ms(answers: list[Answer]) -> str:
    took = sorted(a.took_s * 1000 for a in answers)
    if not took:
        return "no answers"
    return (
        f"p50 {statistics.median(took):.1f} ms, p99 {took[int(len(took) * 0.99)]:.1f} ms, {len(took)} answers"
    )


def check_switch(load: Load, old: str, new: str, started: float, converged: float) -> None:
    """0 failed requests; each answer from a version served when it was sent; every request sent after
    every worker took up the new version answered by it; both versions seen."""
    failed = [a for a in load.answers if a.status != 200]
    assert not load.errors, load.errors[:3]
    assert not failed, f"{len(failed)} failed requests: {failed[:3]}"
    assert {a.version for a in load.answers} <= {old, new}
    assert {a.version for a in load.answers if a.sent > converged} == {new}
    assert {a.version for a in load.answers if a.sent < started} == {old}
    steady = [a for a in load.answers if a.sent < started]
    switching = [a for a in load.answers if started <= a.sent <= converged]
    print(
        f"\nsteady: {latency_ms(steady)}; during the switch ({converged - started:.2f} s): {latency_ms(switching)}"
    )


def versions_state(url: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/admin/versions", headers=AUTH, timeout=10)
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


def readiness_versions(url: str, probes: int = 12) -> set[str]:
    """The tabular versions `/readyz` named over ``probes`` probes (each answered by some worker)."""
    seen = set()
    for _ in range(probes):
        answer = httpx.get(f"{url}/readyz", timeout=10)
        assert answer.status_code == 200, answer.text
        served = dict(item.split(":") for item in answer.headers["x-served-versions"].split(", "))
        assert set(served) == {"tabular-classifier", "digits-cnn"}
        seen.add(served["tabular-classifier"])
    return seen


def test_an_admin_reload_under_load_moves_both_workers_with_no_failed_request(
    reloading: ServerProcess, store: Path
) -> None:
    old = served_version(reloading.url)
    assert readiness_versions(reloading.url) == {old}
    new = new_version(store, seed=11)
    with Load(reloading.url) as load:
        started = time.monotonic()
        answer = httpx.post(f"{reloading.url}/admin/reload", headers=AUTH, timeout=30)
        converged = time.monotonic()
    assert answer.status_code == 200, answer.text
    state = answer.json()
    assert state["models"]["tabular-classifier"] == {"versions": [new], "default": new}
    assert len(state["workers"]) == 2
    for worker in state["workers"]:
        assert worker["generation"] == state["generation"]
        assert worker["models"]["tabular-classifier"]["default"] == new
    check_switch(load, old, new, started, converged)
    assert readiness_versions(reloading.url) == {new}  # every worker's readiness shows the new one


def test_sighup_reloads_every_worker_under_load(reloading: ServerProcess, store: Path) -> None:
    old = served_version(reloading.url)
    generation = versions_state(reloading.url)["generation"]
    new = new_version(store, seed=12)
    with Load(reloading.url) as load:
        started = time.monotonic()
        os.kill(reloading.pid, signal.SIGHUP)
        deadline = started + 30
        while time.monotonic() < deadline:
            workers = versions_state(reloading.url)["workers"]
            if len(workers) == 2 and all(w["generation"] > generation for w in workers):
                break
            time.sleep(0.05)
        converged = time.monotonic()
    assert all(w["models"]["tabular-classifier"]["default"] == new for w in workers), workers
    check_switch(load, old, new, started, converged)


def test_a_rollback_is_a_reload_once_the_new_version_is_deleted(
    reloading: ServerProcess, store: Path
) -> None:
    """The way back after a reload: delete the version (BentoML then points `latest` at the newest one
    left) and reload again; the same switch, under the same load."""
    current = served_version(reloading.url)
    done = run_python(
        "-m", "bentoml", "models", "delete", f"tabular-classifier:{current}", "-y",
        env={"BENTOML_HOME": str(store)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    previous = (store / "models" / "tabular-classifier" / "latest").read_text().strip()
    assert previous != current
    with Load(reloading.url) as load:
        started = time.monotonic()
        answer = httpx.post(f"{reloading.url}/admin/reload", headers=AUTH, timeout=30)
        converged = time.monotonic()
    assert answer.status_code == 200, answer.text
    assert all(w["models"]["tabular-classifier"]["default"] == previous for w in answer.json()["workers"])
    check_switch(load, current, previous, started, converged)
    assert readiness_versions(reloading.url) == {previous}


def test_a_tampered_version_is_refused_and_the_old_one_keeps_serving(
    reloading: ServerProcess, store: Path
) -> None:
    old = served_version(reloading.url)
    tampered = new_version(store, seed=13)
    weights = store / "models" / "tabular-classifier" / tampered / "weights.safetensors"
    weights.write_bytes(weights.read_bytes() + b"x")
    answer = httpx.post(f"{reloading.url}/admin/reload", headers=AUTH, timeout=30)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "reload_refused"
    assert "sha256" in answer.json()["detail"]
    assert served_version(reloading.url) == old
    state = versions_state(reloading.url)
    assert "sha256" in state["refused"]
    assert all(w["models"]["tabular-classifier"]["default"] == old for w in state["workers"])
    weights.unlink()  # leave the store loadable for the tests after this one
    shutil.rmtree(weights.parent)


def test_the_admin_routes_want_the_token(reloading: ServerProcess) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        for method, path in (("POST", "/admin/reload"), ("GET", "/admin/versions")):
            answer = httpx.request(method, f"{reloading.url}{path}", headers=headers, timeout=10)
            assert answer.status_code == 401, (headers, path)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert answer.json()["error"] == "unauthorized"
            assert TOKEN not in answer.text
    assert "/admin" not in httpx.get(f"{reloading.url}/docs.json").text  # not advertised
    log = reloading.launch.log
    assert log is not None
    assert TOKEN not in log.read_text()


def test_the_admin_routes_do_not_exist_without_a_token(server: ServerProcess) -> None:
    for method, path in (("POST", "/admin/reload"), ("GET", "/admin/versions")):
        answer = httpx.request(method, f"{server.url}{path}", headers=AUTH, timeout=10)
        assert answer.status_code == 404
        assert answer.json()["error"] == "not_found"


def test_a_token_is_configured_with_care(tmp_path: Path) -> None:
    assert admin_token(ServingSettings()) is None
    assert admin_token(ServingSettings(admin_token=SecretStr(""))) is None  # empty in a compose file: off
    assert ServingSettings.model_validate({"admin_token_file": ""}).admin_token_file is None
    with pytest.raises(AdminTokenError, match="at least 16") as short:
        admin_token(ServingSettings(admin_token=SecretStr("short-secret")))
    assert "short-secret" not in str(short.value)
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    assert admin_token(ServingSettings(admin_token_file=secret)) == TOKEN.encode()
    with pytest.raises(AdminTokenError, match="not both"):
        admin_token(ServingSettings(admin_token=SecretStr(TOKEN), admin_token_file=secret))
    with pytest.raises(AdminTokenError, match="cannot be read") as missing:
        admin_token(ServingSettings(admin_token_file=tmp_path / "absent"))
    assert TOKEN not in str(missing.value)


def test_a_bad_token_stops_the_server_with_the_reason(trained_store: Path) -> None:
    done = run_python(
        "-c",
        "import service.service",
        env={"BENTOML_HOME": str(trained_store), "SERVING_ADMIN_TOKEN": "too-short"},
    )
    assert done.returncode != 0
    assert "at least 16" in done.stderr
    assert "too-short" not in done.stderr
