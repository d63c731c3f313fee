"""The comparison's runs reduced to one figure per name and configuration: medians over rounds, including
the figures derived from each run (the CNN workloads' rates, the two-worker rate corrected for wrk's CPU).

wrk's CPU correction: when wrk's core is one of the server's (``ours-2-workers``: server on cores 0 and
1, wrk on core 1), every CPU-second wrk spends is one the server could not, so the server had
``cores - w`` CPU-seconds per second, w being wrk's measured CPU-seconds per second. Its rate is scaled to
all of its cores, ``rps * cores / (cores - w)``, taking throughput as proportional to the CPU it gets (a
one-core configuration has its core to itself: nothing to correct).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

from bench.compare_configs import WORKLOADS

Summary = dict[str, dict[str, float]]  # configuration label -> figure name -> median over rounds

FIELDS = {
    "rps_c64": "c64.rps",
    "p50_ms_c64": "c64.p50_ms",
    "p99_ms_c64": "c64.p99_ms",
    "non_2xx_c64": "c64.non_2xx",
    "socket_errors_c64": "c64.errors",
    "cpu_ms_c64": "cpu_ms_per_request_c64",
    "lone_p50_ms": "lone.p50_ms",
    "lone_p99_ms": "lone.p99_ms",
    "rows_per_s_256": "rows_per_s_256",
    "cpu_ms_256": "cpu_ms_per_request_256",
    "floor_rps_c64": "floor.rps",
    "lone_after_1024_p50_ms": "lone_after_1024.p50_ms",
    "v2_json_rows_per_s_256": "v2_json256.rows_per_s",
    "v2_binary_rows_per_s_256": "v2_binary256.rows_per_s",
    "v2_non_2xx": "v2_binary256.non_2xx",
}
# Per CNN workload KEY: "KEY_rps", "KEY_images_per_s", ... from run["cnn"][KEY].
CNN_FIELDS = {
    "rps": "load.rps",
    "images_per_s": "images_per_s",
    "p50_ms": "load.p50_ms",
    "p99_ms": "load.p99_ms",
    "lone_p50_ms": "lone.p50_ms",
    "lone_p99_ms": "lone.p99_ms",
    "cpu_ms": "cpu_ms_per_request",
    "non_2xx": "load.non_2xx",
    "socket_errors": "load.errors",
}


def pick(run: dict[str, Any], path: str) -> float | None:
    """The number at dotted ``path`` in ``run``; None when it is missing (not measured)."""
    value: Any = run
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return None if value is None else float(value)


def all_fields() -> dict[str, str]:
    """Every summary figure name and its dotted path in a run."""
    cnn = {
        f"{workload.key}_{name}": f"cnn.{workload.key}.{path}"
        for workload in WORKLOADS
        for name, path in CNN_FIELDS.items()
    }
    return {**FIELDS, **cnn}


def wrk_cpu_per_s(step: dict[str, Any]) -> float | None:
    """wrk's CPU-seconds per second of a step; None where not recorded."""
    cpu, seconds = step.get("client_cpu_s"), step.get("seconds")
    return None if cpu is None or not seconds else float(cpu) / float(seconds)


def corrected_rps(rps: float, cores: int, wrk_per_s: float) -> float:
    """``rps`` scaled to ``cores`` whole cores from the ``cores - wrk_per_s`` the server had (module doc)."""
    return rps * cores / max(cores - wrk_per_s, 1e-9)


def _cores(listing: object) -> set[str]:
    """The cores of a taskset list such as "0,1" (none for a run that did not record it)."""
    return {core for core in str(listing or "").split(",") if core}


def derived(run: dict[str, Any]) -> dict[str, float]:
    """Figures computed from one run: wrk's CPU per second at 64 connections and, when wrk shared the
    server's cores, the one-row rate corrected for it."""
    step = run.get("c64")
    share = wrk_cpu_per_s(step) if isinstance(step, dict) else None
    if step is None or share is None:
        return {}
    out = {"wrk_cpu_per_s_c64": share}
    server = _cores(run.get("server_cpus"))
    if server & _cores(run.get("client_cpus")):
        out["rps_c64_corrected"] = corrected_rps(float(step["rps"]), len(server), share)
    return out


def summarise(runs: dict[str, list[dict[str, Any]]]) -> Summary:
    """The median of every figure over each configuration's rounds; a figure no round measured is left
    out (never invented)."""
    fields = all_fields()
    summary: Summary = {}
    for label, results in runs.items():
        per_run = [{**_picked(result, fields), **derived(result)} for result in results]
        names = dict.fromkeys(name for figures in per_run for name in figures)  # in order, once each
        summary[label] = {
            name: statistics.median([figures[name] for figures in per_run if name in figures])
            for name in names
        }
    return summary


def _picked(run: dict[str, Any], fields: dict[str, str]) -> dict[str, float]:
    return {name: value for name, path in fields.items() if (value := pick(run, path)) is not None}


def wrk_steps(run: Any) -> Iterator[dict[str, Any]]:
    """Every wrk result recorded anywhere in ``run`` (a dict with a ``non_2xx`` count)."""
    if isinstance(run, dict):
        if "non_2xx" in run and "errors" in run:
            yield run
            return
        for value in run.values():
            yield from wrk_steps(value)


def failures_in(run: dict[str, Any]) -> int:
    """Non-2xx answers and socket errors over every step of ``run``."""
    return sum(int(step["non_2xx"]) + int(step["errors"]) for step in wrk_steps(run))
