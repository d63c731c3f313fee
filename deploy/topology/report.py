"""The topology run's report: typed pieces, one per step, and the JSON the command prints.

The JSON keeps the names tests/deploy/test_topology.py reads: a phase of load is one flat object
(its traffic figures, the rows each replica counted, and who answered as nginx saw it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from deploy.topology.observe import Target, Upstreams
from deploy.topology.traffic import BodyLimit, Traffic


@dataclass(frozen=True)
class SteadyLoad:
    """Both replicas up: load through nginx."""

    traffic: Traffic
    rows_per_replica: dict[str, float]  # from each replica's own serving_rows_total
    upstreams: Upstreams

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self.traffic),
            "rows_per_replica": self.rows_per_replica,
            **asdict(self.upstreams),
        }


@dataclass(frozen=True)
class StopMidRun:
    """One replica stopped as `docker compose stop` does, while the load goes on."""

    stopped: str  # the replica's name
    sigterm_at_s: float  # from the start of the phase
    exit_took_s: float  # SIGTERM to the exit of its main process
    address_gone_at_s: float  # its namespace removed and its name gone from the DNS
    traffic: Traffic
    after_sigterm: int  # requests scheduled at or after the SIGTERM
    upstreams: Upstreams

    def to_json(self) -> dict[str, Any]:
        return {
            "stopped": self.stopped,
            "sigterm_at_s": self.sigterm_at_s,
            "exit_took_s": self.exit_took_s,
            "address_gone_at_s": self.address_gone_at_s,
            **asdict(self.traffic),
            "after_sigterm": self.after_sigterm,
            **asdict(self.upstreams),
        }


@dataclass(frozen=True)
class PrometheusView:
    """What Prometheus discovered and scraped, before and after the stop."""

    both_up_after_s: float  # waited, after the steady load, until both replicas were up targets
    targets: list[Target]
    rows_by_instance: dict[str, float]  # serving_rows_total as scraped, per replica address
    after_stop_s: float  # waited, after the stop, until only the remaining replica was up
    after_stop: list[Target]


@dataclass(frozen=True)
class Report:
    workdir: str
    replicas_healthy_after_s: float  # from the start of the run
    both_up: SteadyLoad
    replica_rss_mib: dict[str, float]
    prometheus: PrometheusView
    one_stopped: StopMidRun
    body_limit: BodyLimit
    elapsed_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "workdir": self.workdir,
            "replicas_healthy_after_s": self.replicas_healthy_after_s,
            "both_up": self.both_up.to_json(),
            "replica_rss_mib": self.replica_rss_mib,
            "prometheus": asdict(self.prometheus),
            "one_stopped": self.one_stopped.to_json(),
            "body_limit": asdict(self.body_limit),
            "elapsed_s": self.elapsed_s,
        }
