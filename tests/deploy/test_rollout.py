"""The rolling replacement (deploy/rollout/rolling.py, `make rollout` / `make rollback`) run for real
in docker-compose.yml's topology without Docker (deploy/topology/rolling.py and rollout.py): two
`bentoml serve` replicas behind Debian's nginx with deploy/nginx.conf, open-loop one-row /classify
traffic through nginx at 100 requests a second, and, while it runs:

1. a rollout to an image that cannot start (its newest tabular weights altered after training): its
   replica exits, is removed, and the rollout stops with the old replicas serving;
2. a canary: one replica from tag a (the session's trained store) to tag b (the same plus a newer
   tabular version), held for a few seconds;
3. the rest of the rollout to b;
4. after a pause, the rollback to a.

Every request has its own X-Request-ID; nginx's access log says which replica answered it and the
answer names the version that computed it. About 70 s, plus training (shared with other tests).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_topology import skip_unless_namespaces_work
from tests.helpers import REPO, run_python

pytestmark = pytest.mark.slow


def copy_models(store: Path, to: Path) -> Path:
    shutil.copytree(store / "models", to / "models")
    return to


@pytest.fixture(scope="module")
def report(trained_store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    skip_unless_namespaces_work()
    a = copy_models(trained_store, tmp_path_factory.mktemp("tag-a"))
    b = copy_models(trained_store, tmp_path_factory.mktemp("tag-b"))
    done = run_python(
        "-m", "training", "tabular", "--quick", "--no-plots", "--seed", "7",
        "--reports-dir", str(b / "reports"), env={"BENTOML_HOME": str(b)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    bad = copy_models(b, tmp_path_factory.mktemp("tag-bad"))
    newest = (bad / "models" / "tabular-classifier" / "latest").read_text().strip()
    weights = bad / "models" / "tabular-classifier" / newest / "weights.safetensors"
    weights.write_bytes(weights.read_bytes() + b"\0")
    command = [sys.executable, "-m", "deploy.topology", "--scenario", "rollout", "--budget", "220"]
    command += ["--store", str(a), "--new-store", str(b), "--bad-store", str(bad)]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=260, check=False)
    assert run.stdout.strip(), f"no report:\n{run.stderr[-4000:]}"
    found: dict[str, Any] = json.loads(run.stdout)
    tails = found.pop("log_tails", {})
    assert run.returncode == 0, f"{found.get('error')}\n{json.dumps(tails, indent=1)[-6000:]}"
    print("\nrollout:", json.dumps({k: v for k, v in found.items() if k != "versions_by_second"}, indent=1))
    return found


def test_no_request_fails_during_the_rollout_and_the_rollback(report: dict[str, Any]) -> None:
    assert report["requests"] > 3000
    assert report["failed"] == 0, report["failures"]
    assert report["not_in_access_log"] == 0
    # The client retries once a request whose connection was closed before any answer: an nginx
    # reload closes its old workers' idle keep-alive connections. Each such reset happened right
    # after a reload, and nowhere else.
    reloads = [
        event["at_s"]
        for phase in ("canary", "rollout", "rollback")
        for event in report[phase]["events"]
        if event["step"] == "balancer"
    ]
    assert len(reloads) == 8  # two per replaced replica
    for reset in report["client_resets"]:
        assert any(0 <= reset["scheduled_s"] - at < 1.0 for at in reloads), (reset, reloads)
    # nginx retried, on another replica, what a stopping replica could not answer.
    for entry in report["retried_examples"]:
        assert entry["ustatus"].split(", ")[-1] == "200", entry


def test_every_answer_names_the_version_of_the_replica_that_answered(report: dict[str, Any]) -> None:
    tags = report["tags"]
    assert tags["a"] != tags["b"]
    assert report["wrong_version_count"] == 0, report["wrong_version"]
    for name, replica in report["replicas"].items():
        if replica["tag"] != "bad":
            assert replica["answers"] > 0, name
            assert replica["versions"] == {tags[replica["tag"]]: replica["answers"]}, name


def test_replicas_move_from_a_to_b_and_back_one_at_a_time(report: dict[str, Any]) -> None:
    tags = {name: replica["tag"] for name, replica in report["replicas"].items()}
    assert tags == {
        "model-1": "a", "model-2": "a", "model-3": "bad", "model-4": "b", "model-5": "b", "model-6": "a", "model-7": "a"
    }  # fmt: skip
    pairs = [(switch["old"], switch["new"]) for switch in report["switches"]]
    assert pairs == [
        ("model-1", "model-4"),
        ("model-2", "model-5"),
        ("model-4", "model-6"),
        ("model-5", "model-7"),
    ]
    for switch in report["switches"]:
        # A new replica answers only once healthy; an old one answers nothing after it is removed.
        assert switch["new_first_answer_s"] >= switch["new_healthy_at_s"], switch
        assert switch["old_last_answer_s"] <= switch["old_removed_at_s"], switch
    seconds = report["versions_by_second"]
    between = [
        s
        for s in seconds
        if report["rollout"]["events"][-1]["at_s"] + 1 <= s["s"] < report["rollback"]["started_at_s"]
    ]
    assert between, "no whole second between the rollout and the rollback"
    assert all(set(s) == {"s", report["tags"]["b"]} for s in between), between
    assert set(seconds[0]) == set(seconds[-1]) == {"s", report["tags"]["a"]}


def test_a_canary_takes_its_share_of_the_traffic(report: dict[str, Any]) -> None:
    replaced = [event["replica"] for event in report["canary"]["events"] if event["step"] == "removed"]
    assert replaced == ["model-1"]  # one replica only
    # One replica of two on b: least_conn gives it about half of the requests while it holds.
    assert 0.3 <= report["canary_share"] <= 0.7, report["canary_share"]


def test_a_replica_that_cannot_start_is_refused_and_the_old_ones_keep_serving(report: dict[str, Any]) -> None:
    refused = report["refused"]
    assert "model-3 (bad) did not become healthy" in refused["error"]
    assert "sha256" in refused["error"]  # the server's own reason, from its log
    assert refused["running_before"] == refused["running_after"] == ["model-1", "model-2"]
    assert report["replicas"]["model-3"]["answers"] == 0
