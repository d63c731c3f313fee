"""Where batching goes, measured: ``python -m bench batching [--quick]``.

Three servers of the same tabular model behind the same validation, each fresh, pinned to core 0
with wrk on core 1, run in ABAB order:
  batched    this service, in-process batcher (SERVING_BATCHING=true, the default)
  unbatched  this service, one forward pass per request (SERVING_BATCHING=false)
  depends    BentoML's adaptive batcher in a separate service reached with bentoml.depends
For each: lone-request latency (1 connection), one-row throughput at 64 connections with server CPU
per request, and lone latency again after one 1024-row request. Writes bench/results/batching.{md,json}
(``--quick``: shorter runs, written to reports/batching/ instead); fails (exit 1) when any server gave
a non-2xx answer or a socket error.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.output import out_dir, publish, verdict
from bench.servers import ours, post_json, serve
from bench.wrk import require_wrk, wrk, wrk_cpu
from load.reports import run_meta
from load.server import ONE_CORE_ENV, SERVICE

CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "batched": (SERVICE, {"SERVING_BATCHING": "true"}),
    "unbatched": (SERVICE, {"SERVING_BATCHING": "false"}),
    "depends": ("bench.variants.depends_service:DependsGateway", {}),
}
ONE_ROW = {"rows": [[0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.4, -2.1, 0.9, 0.0]]}


def measure(name: str, seconds: float, logs: Path) -> dict[str, Any]:
    target, env = CONFIGS[name]
    with serve(ours(logs / f"{name}.log", {**ONE_CORE_ENV, **env}, target)) as server:
        url = f"{server.url}/classify"
        wrk(url, ONE_ROW, connections=8, seconds=2)  # warm-up
        lone = wrk(url, ONE_ROW, connections=1, seconds=seconds)
        loaded, cpu = wrk_cpu(server, url, ONE_ROW, connections=64, seconds=seconds)
        big = np.random.default_rng(0).normal(size=(1024, 10)).round(4).tolist()
        started = time.perf_counter()
        post_json(url, {"rows": big})
        big_ms = (time.perf_counter() - started) * 1000
        after = wrk(url, ONE_ROW, connections=1, seconds=seconds)
    return {
        "lone": asdict(lone),
        "c64": asdict(loaded),
        "cpu_ms_per_request_c64": round(cpu * 1000 / max(loaded.requests, 1), 3),
        "big_request_ms": round(big_ms, 1),
        "lone_after_big": asdict(after),
    }


def median_of(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values)


FIELDS = {
    "lone_p50_ms": ("lone", "p50_ms"),
    "lone_p99_ms": ("lone", "p99_ms"),
    "c64_rps": ("c64", "rps"),
    "c64_p50_ms": ("c64", "p50_ms"),
    "c64_p99_ms": ("c64", "p99_ms"),
    "c64_non_2xx": ("c64", "non_2xx"),
    "c64_socket_errors": ("c64", "errors"),
    "cpu_ms_per_request": ("cpu_ms_per_request_c64",),
    "lone_after_1024_p50_ms": ("lone_after_big", "p50_ms"),
    "lone_after_1024_p99_ms": ("lone_after_big", "p99_ms"),
}


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    return {
        name: {key: median_of(runs, *path) for key, path in FIELDS.items()} for name, runs in results.items()
    }


def failed_checks(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Servers that gave a non-2xx answer or a socket error in any step of any round."""
    steps = ("lone", "c64", "lone_after_big")
    problems = []
    for name, runs in results.items():
        bad = sum(run[step]["non_2xx"] + run[step]["errors"] for run in runs for step in steps)
        if bad:
            problems.append(f"{name}: {bad} non-2xx answers or socket errors")
    return problems


def report(summary: dict[str, dict[str, float]], meta: dict[str, Any]) -> str:
    batched, unbatched, depends = summary["batched"], summary["unbatched"], summary["depends"]
    lines = [
        "# Batching: in-process batcher vs none vs BentoML's batcher behind bentoml.depends",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}; server pinned to core 0 (1 worker, 1 torch "
        f"thread), wrk (1 thread) on core 1; {meta['seconds']} s per step, {meta['repeats']} rounds in ABAB order, "
        "medians shown. Command: `python -m bench batching`.",
        "",
        "| server | lone p50 ms | lone p99 ms | req/s @64 | p50 ms @64 | p99 ms @64 | non-2xx @64 | server CPU ms/req "
        "| lone p50 after 1024 rows | lone p99 after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, row in summary.items():
        lines.append(
            f"| {name} | {row['lone_p50_ms']:.2f} | {row['lone_p99_ms']:.2f} | {row['c64_rps']:.0f} | {row['c64_p50_ms']:.1f} "
            f"| {row['c64_p99_ms']:.1f} | {row['c64_non_2xx'] + row['c64_socket_errors']:.0f} "
            f"| {row['cpu_ms_per_request']:.2f} | {row['lone_after_1024_p50_ms']:.2f} | {row['lone_after_1024_p99_ms']:.2f} |"
        )
    lines += [
        "",
        "Ratios (same run):",
        f"- throughput @64, batched / unbatched: {batched['c64_rps'] / unbatched['c64_rps']:.2f}x; "
        f"batched / depends: {batched['c64_rps'] / depends['c64_rps']:.2f}x",
        f"- lone p50, batched / unbatched: {batched['lone_p50_ms'] / unbatched['lone_p50_ms']:.2f}x; "
        f"depends / batched: {depends['lone_p50_ms'] / batched['lone_p50_ms']:.2f}x",
        f"- lone p50 after a 1024-row request / before, batched: "
        f"{batched['lone_after_1024_p50_ms'] / batched['lone_p50_ms']:.2f}x; depends: "
        f"{depends['lone_after_1024_p50_ms'] / depends['lone_p50_ms']:.2f}x",
        "",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="3 s per step, one round; to reports/batching/")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each wrk step")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over the servers (ABAB order)")
    parser.add_argument(
        "--out-dir", type=Path, help="default: bench/results, or reports/batching with --quick"
    )


def main(args: argparse.Namespace) -> int:
    """Run the batching comparison; 0, or 1 when a server answered wrongly or failed requests."""
    require_wrk()
    seconds, repeats = (3.0, 1) if args.quick else (args.seconds, args.repeats)
    folder = out_dir(args.out_dir, args.quick, "batching")
    logs = Path(tempfile.mkdtemp(prefix="batching-logs-"))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    for round_index in range(repeats):
        for name in CONFIGS:
            print(f"round {round_index + 1}/{repeats}: {name} ...", flush=True)
            results[name].append(measure(name, seconds, logs))
            c64 = results[name][-1]["c64"]
            print(f"  {json.dumps({k: v for k, v in c64.items() if k in ('rps', 'p99_ms')})}")
    meta = run_meta(seconds=seconds, repeats=repeats)
    summary = summarise(results)
    data = {"meta": meta, "summary": summary, "runs": results}
    publish(folder, "batching.json", data, "batching.md", report(summary, meta), logs)
    return verdict(failed_checks(results))
