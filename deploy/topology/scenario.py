"""The scenario, as short steps: start the topology (replicas healthy first, as compose's
`depends_on: service_healthy`, then nginx and Prometheus), steady load through nginx with both
replicas up, Prometheus scraping both, one replica stopped mid-run, a body over nginx's limit, and
Prometheus seeing the stopped replica go. ``run`` returns the Report and stops everything, also when
a step fails."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.topology.containers import (
    MODEL_PORT,
    NGINX_PORT,
    publish_hosts,
    start_dnsmasq,
    start_nginx,
    start_prometheus,
    start_replicas,
)
from deploy.topology.netns import Container, Hosts, Network, bridge_network, private_etc
from deploy.topology.observe import (
    access_log,
    log,
    model_targets_up,
    per_upstream,
    prometheus_rows,
    prometheus_targets,
    rows_served,
    rss_mib,
)
from deploy.topology.report import PrometheusView, Report, SteadyLoad, StopMidRun
from deploy.topology.traffic import oversized_body, send_load, send_load_around, since, summarize
from load.server import REPO, ServerProcess, wait_until

STOP_GRACE_S = 30  # compose's stop_grace_period for the model service


@dataclass(frozen=True)
class Options:
    store: Path  # a BENTOML_HOME with both models trained
    nginx_conf: Path  # mounted at /etc/nginx/nginx.conf
    tools: Path  # nginx, prometheus and dnsmasq
    rate: float  # requests per second through nginx, open loop
    phase_seconds: float  # load with both replicas up
    stop_seconds: float  # load around the stop (the SIGTERM comes a quarter of the way in)


@dataclass(frozen=True)
class Topology:
    replicas: list[Container]
    nginx: Container
    prometheus: Container
    dns: ServerProcess
    hosts: Hosts
    healthy_after_s: float
    network: Network  # from the start until every replica passed its healthcheck

    @property
    def names(self) -> dict[str, str]:
        """Replica address -> name."""
        return {replica.address: replica.name for replica in self.replicas}

    @property
    def url(self) -> str:
        """nginx, the one way in."""
        return self.nginx.started.url


def containers(network: Network) -> tuple[list[Container], Container, Container, Hosts]:
    """The compose services as namespaces, and the hosts file that names them as compose would."""
    replicas = [network.add(f"model-{index}", 10 + index) for index in (1, 2)]
    nginx = network.add("nginx", 20)
    prometheus = network.add("prometheus", 30)
    hosts = [(replica.address, f"model bento-serving-{replica.name}") for replica in replicas]
    hosts += [(nginx.address, "nginx bento-serving-nginx-1")]
    hosts += [(prometheus.address, "prometheus bento-serving-prometheus-1")]
    return replicas, nginx, prometheus, hosts


@contextmanager
def started(options: Options, workdir: Path) -> Iterator[Topology]:
    """Everything up and ready for the block; everything stopped and removed afterwards."""
    t0 = time.monotonic()
    with bridge_network(workdir) as network:
        replicas, nginx, prometheus, hosts = containers(network)
        mounts = {
            options.nginx_conf: Path("/etc/nginx/nginx.conf"),
            REPO / "deploy" / "prometheus.yml": Path("/etc/prometheus/prometheus.yml"),
        }
        private_etc(workdir, hosts, mounts)
        dns = start_dnsmasq(options.tools, workdir)
        try:
            start_replicas(replicas, options.store, workdir)
            for replica in replicas:
                replica.started.wait_ready(timeout=120)
                log(f"{replica.name} healthy after {time.monotonic() - t0:.1f} s")
            healthy_after_s = round(time.monotonic() - t0, 1)
            start_nginx(nginx, options.tools).wait_ready(timeout=20)
            start_prometheus(prometheus, options.tools).wait_ready(timeout=30)
            log(f"nginx and prometheus up after {time.monotonic() - t0:.1f} s")
            yield Topology(replicas, nginx, prometheus, dns, hosts, healthy_after_s, network)
        finally:
            dns.stop(grace=1)


def steady_load(topology: Topology, options: Options) -> SteadyLoad:
    """Load through nginx with both replicas up; rows counted by each replica itself."""
    before = {replica.name: rows_served(replica.started) for replica in topology.replicas}
    log_offset = topology.nginx.log_path.stat().st_size
    outcomes, origin = send_load(topology.url, options.rate, options.phase_seconds)
    after = {replica.name: rows_served(replica.started) for replica in topology.replicas}
    entries = access_log(topology.nginx.log_path, log_offset)
    return SteadyLoad(
        summarize(outcomes, options.rate, options.phase_seconds, origin),
        {name: after[name] - before[name] for name in after},
        per_upstream(entries, topology.names),
    )


def prometheus_sees(topology: Topology, replicas: list[Container], timeout: float) -> float:
    """Seconds until Prometheus's healthy `model` targets are exactly ``replicas``."""
    expected = {f"{replica.address}:{MODEL_PORT}" for replica in replicas}
    prometheus = topology.prometheus.started
    what = f"prometheus scrapes {', '.join(replica.name for replica in replicas)} only"
    return round(
        wait_until(what, lambda: model_targets_up(prometheus, expected, exactly=True), timeout, interval=1), 1
    )


@dataclass(frozen=True)
class StopTimes:
    sigterm_at_s: float
    exit_took_s: float
    address_gone_at_s: float


def stop_replica(topology: Topology, victim: Container, origin: float) -> StopTimes:
    """Stop ``victim`` as `docker compose stop` does: SIGTERM to its main process, its exit, then its
    address is gone and the DNS no longer names it. Times from ``origin`` (time.monotonic)."""
    sigterm_at_s = since(origin)
    exit_took_s = round(victim.stop(grace=STOP_GRACE_S), 2)
    victim.remove()
    publish_hosts(
        [(address, names) for address, names in topology.hosts if address != victim.address], topology.dns
    )
    return StopTimes(sigterm_at_s, exit_took_s, since(origin))


def stop_one_mid_run(topology: Topology, options: Options, victim: Container) -> StopMidRun:
    """Load through nginx while ``victim`` is stopped, a quarter of the way in."""
    log_offset = topology.nginx.log_path.stat().st_size
    rate, seconds = options.rate, options.stop_seconds
    outcomes, origin, times = send_load_around(
        topology.url, rate, seconds, seconds / 4, lambda origin: stop_replica(topology, victim, origin)
    )
    after = sum(outcome.scheduled - origin >= times.sigterm_at_s for outcome in outcomes)
    return StopMidRun(
        victim.name,
        times.sigterm_at_s,
        times.exit_took_s,
        times.address_gone_at_s,
        summarize(outcomes, rate, seconds, origin),
        after,
        per_upstream(access_log(topology.nginx.log_path, log_offset), topology.names),
    )


def run(options: Options, workdir: Path) -> Report:
    """The whole scenario; everything it started is stopped when it returns or raises."""
    t0 = time.monotonic()
    with started(options, workdir) as topology:
        first, second = topology.replicas
        prometheus = topology.prometheus.started
        both_up = steady_load(topology, options)
        log(f"both replicas: {both_up.traffic.requests} requests, rows {both_up.rows_per_replica}")
        rss = {replica.name: rss_mib(replica.started) for replica in topology.replicas}
        both_after_s = prometheus_sees(topology, [first, second], timeout=45)
        targets, rows = prometheus_targets(prometheus), prometheus_rows(prometheus)
        log(f"prometheus scrapes both replicas (waited {both_after_s:.1f} s)")
        one_stopped = stop_one_mid_run(topology, options, second)
        log(f"{second.name} stopped: {one_stopped.traffic.failed} of {one_stopped.traffic.requests} failed")
        body_limit = oversized_body(topology.nginx.address, NGINX_PORT)
        # Prometheus notices within a scrape (down) or a DNS refresh (gone): 10 s each.
        after_stop_s = prometheus_sees(topology, [first], timeout=30)
        view = PrometheusView(both_after_s, targets, rows, after_stop_s, prometheus_targets(prometheus))
        return Report(
            workdir=str(workdir),
            replicas_healthy_after_s=topology.healthy_after_s,
            both_up=both_up,
            replica_rss_mib=rss,
            prometheus=view,
            one_stopped=one_stopped,
            body_limit=body_limit,
            elapsed_s=round(time.monotonic() - t0, 1),
        )
