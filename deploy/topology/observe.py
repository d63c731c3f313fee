"""What the topology run observes: each replica's own row counter, nginx's access log per upstream,
Prometheus's targets and scraped rows, resident memory, and the tail of every log."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load.server import ServerProcess, tree_rss_bytes


def log(message: str) -> None:
    """A progress line on stderr (stdout carries the JSON report only)."""
    print(f"[topology {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    """Status and body of a GET, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def rows_served(server: ServerProcess) -> float:
    """serving_rows_total summed over models, from the replica's own /metrics."""
    _, body = http_get(f"{server.url}/metrics")
    lines = body.decode().splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("serving_rows_total"))


def rss_mib(server: ServerProcess) -> float:
    """Resident memory of the server's process tree (for the compose and Kubernetes memory limits)."""
    return round(tree_rss_bytes(server.pid) / 2**20, 1)


@dataclass(frozen=True)
class LogEntry:
    """One proxied request in nginx's `upstreams` access log format (deploy/nginx.conf)."""

    upstream: str  # every upstream tried, "a:3000, b:3000" when nginx retried
    ustatus: str  # their statuses, in the same order
    rt: str  # nginx's request time, seconds
    rid: str = ""  # the request's X-Request-ID

    @property
    def final_address(self) -> str | None:
        """The address of the replica whose answer went back; None when nginx answered itself."""
        return None if self.upstream == "-" else self.upstream.split(",")[-1].strip().split(":")[0]


def access_log(path: Path, since: int) -> list[LogEntry]:
    """The POST /classify lines of nginx's access log after byte ``since``."""
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
            entries.append(LogEntry(upstream, ustatus, fields.get("rt", ""), fields.get("rid", "")))
    return entries


@dataclass(frozen=True)
class Upstreams:
    """Who answered, as nginx saw it."""

    answered_by: dict[str, int]  # replica name -> requests its answer went back for
    retried: int  # requests nginx sent to a second replica
    retried_examples: list[LogEntry]


def per_upstream(entries: list[LogEntry], names: dict[str, str]) -> Upstreams:
    """``entries`` counted by the replica (``names``: address -> name) that gave the final answer."""
    served: dict[str, int] = {}
    for entry in entries:
        address = entry.final_address
        if address is None:  # answered by nginx itself
            continue
        name = names.get(address, address)
        served[name] = served.get(name, 0) + 1
    retried = [entry for entry in entries if "," in entry.upstream]
    return Upstreams(served, len(retried), retried[:5])


@dataclass(frozen=True)
class Target:
    """One of Prometheus's active scrape targets."""

    job: str
    instance: str
    health: str  # up, down, unknown
    last_error: str


def prometheus_targets(prometheus: ServerProcess) -> list[Target]:
    _, body = http_get(f"{prometheus.url}/api/v1/targets")
    active: list[dict[str, Any]] = json.loads(body)["data"]["activeTargets"]
    return [
        Target(target["labels"]["job"], target["labels"]["instance"], target["health"], target["lastError"])
        for target in active
    ]


def model_targets_up(prometheus: ServerProcess, expected: set[str], exactly: bool = False) -> bool:
    """Whether the `model` job's healthy instances include (or, ``exactly``, are) ``expected``."""
    up = {
        target.instance
        for target in prometheus_targets(prometheus)
        if target.job == "model" and target.health == "up"
    }
    return up == expected if exactly else up >= expected


def prometheus_rows(prometheus: ServerProcess) -> dict[str, float]:
    """serving_rows_total per scraped instance, as Prometheus holds it."""
    query = urllib.parse.quote("sum by (instance) (serving_rows_total)")
    _, body = http_get(f"{prometheus.url}/api/v1/query?query={query}")
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return {item["metric"]["instance"]: float(item["value"][1]) for item in result}


def log_tails(workdir: Path, lines: int = 15) -> dict[str, str]:
    """The last ``lines`` of each log in ``workdir``, by container (or process) name."""
    tails = {}
    for path in sorted(workdir.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()
        tails[path.stem] = "\n".join(text[-lines:])
    return tails
