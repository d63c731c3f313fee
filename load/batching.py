"""Where batching goes, measured: ``python -m load.batching [--quick]``.

Three servers of the same tabular model behind the same validation, each fresh, pinned to core 0
with wrk on core 1, run in ABAB order:
  batched    this service, in-process batcher (SERVING_BATCHING=true, the default)
  unbatched  this service, one forward pass per request (SERVING_BATCHING=false)
  depends    BentoML's adaptive batcher in a separate service reached with bentoml.depends
For each: lone-request latency (1 connection), one-row throughput at 64 connections with server CPU
per request, and lone latency again after one 1024-row request. Writes load/results/batching.{md,json}
(``--quick``: shorter runs, written to reports/ instead).
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

from load.harness import REPO, BentoServer, run_meta, wrk

CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "batched": ("service.service:ModelService", {"SERVING_BATCHING": "true"}),
    "unbatched": ("service.service:ModelService", {"SERVING_BATCHING": "false"}),
    "depends": ("load.variants.depends_service:DependsGateway", {}),
}
ONE_ROW = {"rows": [[0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.4, -2.1, 0.9, 0.0]]}


def measure(name: str, seconds: float, logs: Path) -> dict[str, Any]:
    target, env = CONFIGS[name]
    server = BentoServer(
        target, {"SERVING_WORKERS": "1", "SERVING_TORCH_THREADS": "1", **env}, logs / f"{name}.log"
    )
    try:
        server.wait_ready()
        url = f"{server.url}/classify"
        wrk(url, ONE_ROW, connections=8, seconds=2)  # warm-up
        lone = wrk(url, ONE_ROW, connections=1, seconds=seconds)
        cpu_before = server.cpu_seconds()
        loaded = wrk(url, ONE_ROW, connections=64, seconds=seconds)
        cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / max(loaded.requests, 1)
        big = np.random.default_rng(0).normal(size=(1024, 10)).round(4).tolist()
        started = time.perf_counter()
        server.post("/classify", {"rows": big})
        big_ms = (time.perf_counter() - started) * 1000
        after = wrk(url, ONE_ROW, connections=1, seconds=seconds)
    finally:
        server.stop()
    return {
        "lone": asdict(lone),
        "c64": asdict(loaded),
        "cpu_ms_per_request_c64": round(cpu_ms, 3),
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


def summarise(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    fields = {
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
    return {
        name: {key: median_of(runs, *path) for key, path in fields.items()} for name, runs in results.items()
    }


def report(summary: dict[str, dict[str, float]], meta: dict[str, Any]) -> str:
    batched, unbatched, depends = summary["batched"], summary["unbatched"], summary["depends"]
    lines = [
        "# Batching: in-process batcher vs none vs BentoML's batcher behind bentoml.depends",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}; server pinned to core 0 (1 worker, 1 torch "
        f"thread), wrk (1 thread) on core 1; {meta['seconds']} s per step, {meta['repeats']} rounds in ABAB order, "
        "medians shown. Command: `python -m load.batching`.",
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


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load.batching", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per step, one round, written to reports/")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each wrk step")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over the servers (ABAB order)")
    args = parser.parse_args()
    seconds, repeats = (3.0, 1) if args.quick else (args.seconds, args.repeats)
    out_dir = REPO / ("reports" if args.quick else "load/results")
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="batching-logs-"))
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    for round_index in range(repeats):
        for name in CONFIGS:
            print(f"round {round_index + 1}/{repeats}: {name} ...", flush=True)
            results[name].append(measure(name, seconds, logs))
            print(
                f"  {json.dumps({k: v for k, v in results[name][-1]['c64'].items() if k in ('rps', 'p99_ms')})}"
            )
    meta = run_meta(seconds=seconds, repeats=repeats)
    summary = summarise(results)
    (out_dir / "batching.json").write_text(
        json.dumps({"meta": meta, "summary": summary, "runs": results}, indent=1)
    )
    text = report(summary, meta)
    (out_dir / "batching.md").write_text(text)
    print(text)
    print(f"written to {out_dir}/batching.md (server logs in {logs})")


if __name__ == "__main__":
    main()
