"""docker-compose.yml's topology, run for real without Docker (`python -m deploy.topology`).

In a private network namespace: two real `bentoml serve` replicas, each in its own namespace and
address under the compose service name `model`, with the environment compose renders for them;
Debian's nginx with deploy/nginx.conf unchanged at /etc/nginx/nginx.conf in front; Debian's
Prometheus with deploy/prometheus.yml, discovering the replicas through dnsmasq (as Docker's
embedded DNS). Checked through nginx: both replicas take traffic (their own serving_rows_total),
Prometheus scrapes both, and when one replica is stopped mid-run (SIGTERM, exit, address gone)
the traffic goes on through the other: nginx retries connection errors and timeouts on the other
replica, POSTs included (`proxy_next_upstream ... non_idempotent`: predictions have no side
effects), so no request fails. The traffic is open-loop (load/openloop.py): requests leave at a fixed
rate whatever the answers take. The whole run takes about 40 s (plus training, shared with other tests).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow

TOOLS = REPO / "deploy" / ".tools" / "bin"
NEEDED = ("nginx", "prometheus", "dnsmasq")


def skip_unless_namespaces_work() -> None:
    for command in ("unshare", "nsenter", "setpriv", "ip"):
        if shutil.which(command) is None:
            pytest.skip(f"{command} is not installed")
    probe = ["unshare", "--net", "--mount", "--pid", "--fork", "--mount-proc", "ip", "link", "add"]
    done = subprocess.run(
        [*probe, "br-probe", "type", "bridge"], capture_output=True, text=True, timeout=20, check=False
    )
    if done.returncode != 0:
        pytest.skip(
            "private network namespaces are not permitted here (unshare --net --mount --pid, as root "
            f"or with CAP_SYS_ADMIN and CAP_NET_ADMIN): {done.stderr.strip()}"
        )
    missing = [name for name in NEEDED if not (TOOLS / name).exists()]
    if missing:
        message = f"{', '.join(missing)} missing from {TOOLS}: run deploy/install-tools.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def report(trained_store: Path) -> dict[str, Any]:
    skip_unless_namespaces_work()
    done = subprocess.run(
        [sys.executable, "-m", "deploy.topology", "--store", str(trained_store)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.stdout.strip(), f"no report:\n{done.stderr[-4000:]}"
    found: dict[str, Any] = json.loads(done.stdout)
    tails = found.pop("log_tails", {})
    assert done.returncode == 0, f"{found.get('error')}\n{json.dumps(tails, indent=1)[-6000:]}"
    # The figures, for whoever reads the test log (pytest -s, or -rA).
    print("\ntopology:", json.dumps(found, indent=1))
    return found


def test_both_replicas_take_traffic_through_nginx(report: dict[str, Any]) -> None:
    both = report["both_up"]
    assert both["failed"] == 0, both["failures"]
    rows = both["rows_per_replica"]  # from each replica's own /metrics: serving_rows_total
    assert set(rows) == {"model-1", "model-2"}
    assert sum(rows.values()) == both["requests"]  # one row per request
    for name, served in rows.items():
        assert served >= both["requests"] * 0.2, f"least_conn sent {name} only {served} rows: {rows}"
    assert both["answered_by"] == {name: int(served) for name, served in rows.items()}


def test_prometheus_scrapes_every_replica(report: dict[str, Any]) -> None:
    prometheus = report["prometheus"]
    model_targets = [target for target in prometheus["targets"] if target["job"] == "model"]
    assert len(model_targets) == 2, prometheus["targets"]
    assert all(target["health"] == "up" for target in model_targets), model_targets
    # Discovered by DNS (A records of `model`), scraped on each replica's own address.
    assert {target["instance"] for target in model_targets} == set(prometheus["rows_by_instance"])


def test_traffic_goes_on_when_one_replica_stops(report: dict[str, Any]) -> None:
    stopped = report["one_stopped"]
    assert stopped["stopped"] == "model-2"
    assert stopped["exit_took_s"] < 30  # within compose's stop_grace_period
    assert stopped["after_sigterm"] > 100, "too little traffic after the stop to tell"
    # nginx's retry policy (error, timeout, 502/503, non_idempotent; 2 tries): nothing fails.
    assert stopped["failed"] == 0, stopped["failures"]
    assert stopped["answered_by"]["model-1"] > stopped["answered_by"].get("model-2", 0)
    # Retried requests went to the replica that was still up.
    for example in stopped["retried_examples"]:
        assert example["upstream"].endswith(":3000")
        assert example["ustatus"].split(", ")[-1] == "200"


def test_prometheus_sees_the_stopped_replica_go(report: dict[str, Any]) -> None:
    after = [target for target in report["prometheus"]["after_stop"] if target["job"] == "model"]
    up = [target for target in after if target["health"] == "up"]
    assert len(up) == 1, after


def test_nginx_refuses_oversized_bodies_in_the_service_error_shape(report: dict[str, Any]) -> None:
    assert report["body_limit"] == {"status": 413, "error": "body_too_large"}
