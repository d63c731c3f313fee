"""``python -m load.bench [--quick]``: this service beside stock BentoML, a plain Starlette app, LitServe
and TorchServe, all serving the same tabular model, plus in-process ceilings and the HTTP floor.

Each configuration gets a fresh server pinned to core 0 while wrk (one thread) runs on core 1, so they
do not fight for a core; rounds repeat in ABAB order and the report shows medians. wrk, not locust: a C
load generator on its own core never becomes the bottleneck and keeps its own CPU out of the server's.
Server CPU time (user + system of its whole process tree) per request is reported beside every rate:
on a shared machine it is the steadier figure. Full runs write load/results/BENCHMARK.md and
bench.json; ``--quick`` runs the same code briefly and writes to reports/bench/ instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from load.ceilings import ceilings
from load.harness import CLIENT_CPUS, REPO, SERVER_CPUS, run_meta, tree_cpu_seconds, wrk
from load.peers import PEERS, start_peer, stop_peer, wait_ready

ONE_ROW = {"rows": [[0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.4, -2.1, 0.9, 0.0]]}
ROWS_256 = {"rows": np.random.default_rng(1).normal(size=(256, 10)).round(4).tolist()}
ROWS_1024 = {"rows": np.random.default_rng(2).normal(size=(1024, 10)).round(4).tolist()}


@dataclass(frozen=True)
class Config:
    label: str
    peer: str
    env: dict[str, str] = field(default_factory=dict)
    server_cpus: str = SERVER_CPUS
    note: str = ""


CONFIGS = [
    Config("ours", "ours"),
    Config("stock-bentoml", "stock-bentoml"),
    Config("starlette", "starlette"),
    Config("litserve", "litserve"),
    Config("torchserve", "torchserve"),
    Config("ours-unbatched", "ours", {"SERVING_BATCHING": "false"}),
    Config(
        "ours-2-workers",
        "ours",
        {"SERVING_WORKERS": "2", "SERVING_TORCH_THREADS": "1"},
        "0,1",
        "both cores for the server; wrk shares core 1 with one of its workers",
    ),
]


def post(url: str, body: object) -> None:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()


def measure(config: Config, seconds: float, logs: Path) -> dict[str, Any]:
    peer = PEERS[config.peer]
    running = start_peer(config.peer, logs / f"{config.label}.log", cpus=config.server_cpus, env=config.env)
    try:
        wait_ready(running, timeout=240)
        url = running.url + peer.classify_path
        wrk(url, ONE_ROW, connections=8, seconds=2)  # warm-up
        lone = wrk(url, ONE_ROW, connections=1, seconds=seconds)
        cpu = tree_cpu_seconds(running.process.pid)
        loaded = wrk(url, ONE_ROW, connections=64, seconds=seconds)
        cpu_ms = (tree_cpu_seconds(running.process.pid) - cpu) * 1000 / max(loaded.requests, 1)
        cpu = tree_cpu_seconds(running.process.pid)
        rows = wrk(url, ROWS_256, connections=8, seconds=seconds)
        cpu_ms_256 = (tree_cpu_seconds(running.process.pid) - cpu) * 1000 / max(rows.requests, 1)
        result: dict[str, Any] = {
            "lone": asdict(lone),
            "c64": asdict(loaded),
            "cpu_ms_per_request_c64": cpu_ms,
            "rows256": asdict(rows),
            "rows_per_s_256": rows.rps * 256,
            "cpu_ms_per_request_256": cpu_ms_256,
        }
        if config.peer == "ours":
            result["floor"] = asdict(wrk(running.url + "/livez", None, connections=64, seconds=seconds))
            post(url, ROWS_1024)
            result["lone_after_1024"] = asdict(wrk(url, ONE_ROW, connections=1, seconds=seconds))
        return result
    finally:
        stop_peer(running)


def pick(run: dict[str, Any], path: str) -> float | None:
    value: Any = run
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


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
}


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    summary: dict[str, dict[str, float]] = {}
    for label, results in runs.items():
        row: dict[str, float] = {}
        for name, path in FIELDS.items():
            values = [v for v in (pick(r, path) for r in results) if v is not None]
            if values:
                row[name] = statistics.median(values)
        summary[label] = row
    return summary


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


Target = tuple[str, float | None, str, bool | None]  # what, measured, target, met (None: not measured)


def targets(summary: dict[str, dict[str, float]], ceiling: dict[str, float]) -> list[Target]:
    """The issue's targets, each as a ratio measured in this run."""
    ours, stock = summary.get("ours", {}), summary.get("stock-bentoml", {})
    inprocess = next((v for k, v in ceiling.items() if k.startswith("inprocess_rows_per_s_")), None)
    checks: list[tuple[str, float | None, str, float, bool]] = [
        # (what, value, target text, bound, higher is better)
        (
            "one-row req/s at 64 connections, ours / stock BentoML",
            ratio(ours.get("rps_c64"), stock.get("rps_c64")),
            ">= 1.5",
            1.5,
            True,
        ),
        (
            "one-row req/s at 64, ours / LitServe",
            ratio(ours.get("rps_c64"), summary.get("litserve", {}).get("rps_c64")),
            "> 1",
            1.0,
            True,
        ),
        (
            "one-row req/s at 64, ours / TorchServe",
            ratio(ours.get("rps_c64"), summary.get("torchserve", {}).get("rps_c64")),
            "> 1",
            1.0,
            True,
        ),
        (
            "lone p50, ours / stock BentoML",
            ratio(ours.get("lone_p50_ms"), stock.get("lone_p50_ms")),
            "<= 1.5",
            1.5,
            False,
        ),
        (
            "lone p99 / lone p50, ours",
            ratio(ours.get("lone_p99_ms"), ours.get("lone_p50_ms")),
            "<= 3",
            3.0,
            False,
        ),
        (
            "rows/s, 256-row bodies: ours / in-process decode+forward+encode",
            ratio(ours.get("rows_per_s_256"), inprocess),
            ">= 0.5",
            0.5,
            True,
        ),
        (
            "lone p50 after a 1024-row request / before, ours",
            ratio(ours.get("lone_after_1024_p50_ms"), ours.get("lone_p50_ms")),
            "<= 2",
            2.0,
            False,
        ),
    ]
    out: list[Target] = []
    for what, value, text, bound, higher in checks:
        met = None if value is None else (value >= bound if higher else value <= bound)
        out.append((what, value, text, met))
    errors = None if not ours else ours.get("non_2xx_c64", 0) + ours.get("socket_errors_c64", 0)
    out.append(
        (
            "non-2xx answers or socket errors at 64 connections, ours",
            errors,
            "0",
            None if errors is None else errors == 0,
        )
    )
    return out


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def report(summary: dict[str, dict[str, float]], ceiling: dict[str, float], meta: dict[str, Any]) -> str:
    lines = [
        "# Benchmark: this service beside stock BentoML, Starlette, LitServe and TorchServe",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}. `python -m load.bench`: every server "
        f"fresh, pinned to core {SERVER_CPUS}; wrk (1 thread) on core {CLIENT_CPUS}; {meta['seconds']:g} s per step, "
        f"{meta['rounds']} rounds in ABAB order, medians. Same model (tabular-classifier), same JSON contract.",
        "",
        "| server | req/s, 1 row @64 conns | server CPU ms/req | p50 / p99 ms @64 | lone p50 / p99 ms | rows/s, 256-row bodies @8 | CPU ms per 256-row req | non-2xx @64 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for config in CONFIGS:
        row = summary.get(config.label)
        if not row:
            lines.append(f"| {config.label} | not measured | | | | | | |")
            continue
        lines.append(
            f"| {config.label} | {_fmt(row.get('rps_c64'), 0)} | {_fmt(row.get('cpu_ms_c64'), 2)} "
            f"| {_fmt(row.get('p50_ms_c64'))} / {_fmt(row.get('p99_ms_c64'))} "
            f"| {_fmt(row.get('lone_p50_ms'), 2)} / {_fmt(row.get('lone_p99_ms'), 2)} "
            f"| {_fmt(row.get('rows_per_s_256'), 0)} | {_fmt(row.get('cpu_ms_256'), 2)} "
            f"| {_fmt(row.get('non_2xx_c64', 0) + row.get('socket_errors_c64', 0), 0)} |"
        )
    lines += ["", "Configurations:", ""]
    lines += [
        f"- `{c.label}`: {PEERS[c.peer].what}{'; ' + c.note if c.note else ''}{'; env ' + str(c.env) if c.env else ''}"
        for c in CONFIGS
    ]
    ours = summary.get("ours", {})
    lines += [
        "",
        "Ceilings and floor (in-process, pinned to the server's core, 1 torch thread; the in-process path is"
        " our parse + the exact per-value validation + forward + encode):",
        "",
        *[f"- {name.replace('_', ' ')}: {value:,.0f}" for name, value in ceiling.items()],
        f"- HTTP floor, `GET /livez` on our server at 64 connections: {_fmt(ours.get('floor_rps_c64'), 0)} req/s",
        "",
        "Targets (ratios from this run):",
        "",
        "| target | measured | wanted | met |",
        "| --- | --- | --- | --- |",
    ]
    for what, value, text, met in targets(summary, ceiling):
        lines.append(
            f"| {what} | {_fmt(value, 2)} | {text} | {'-' if met is None else ('yes' if met else 'no')} |"
        )
    batched, unbatched, two = (
        summary.get("ours", {}),
        summary.get("ours-unbatched", {}),
        summary.get("ours-2-workers", {}),
    )
    lines += [
        "",
        f"Batching on / off, one-row req/s at 64: {_fmt(ratio(batched.get('rps_c64'), unbatched.get('rps_c64')), 2)}x; "
        f"rows/s with 256-row bodies: {_fmt(ratio(batched.get('rows_per_s_256'), unbatched.get('rows_per_s_256')), 2)}x.",
        f"Workers 2 / 1 (both cores / one core), one-row req/s at 64: {_fmt(ratio(two.get('rps_c64'), batched.get('rps_c64')), 2)}x.",
        "",
        "Where the time goes and what was changed: [PROFILE.md](PROFILE.md).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load.bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="2 s steps, one round, peers optional; to reports/bench/"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each wrk step (%(default)s)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds over the servers, ABAB order (%(default)s)"
    )
    parser.add_argument("--only", nargs="+", choices=[c.label for c in CONFIGS], help="measure only these")
    parser.add_argument("--out-dir", type=Path, help="default: load/results, or reports/bench with --quick")
    args = parser.parse_args()
    seconds, rounds = (2.0, 1) if args.quick else (args.seconds, args.rounds)
    out_dir = args.out_dir or REPO / ("reports/bench" if args.quick else "load/results")
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    chosen = [c for c in CONFIGS if not args.only or c.label in args.only]
    if args.quick and not args.only:
        chosen = [c for c in chosen if c.peer in ("ours", "stock-bentoml", "starlette")]  # peers optional

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(SERVER_CPUS)})
    print("in-process ceilings ...", flush=True)
    ceiling = ceilings(ONE_ROW, ROWS_256, seconds=max(1.0, seconds / 2))
    os.sched_setaffinity(0, before)

    runs: dict[str, list[dict[str, Any]]] = {c.label: [] for c in chosen}
    for index in range(rounds):
        for config in chosen:
            print(f"round {index + 1}/{rounds}: {config.label} ...", flush=True)
            try:
                runs[config.label].append(measure(config, seconds, logs))
            except Exception as error:  # one peer failing to start must not lose the others' figures
                print(f"  {config.label} failed: {error} (log: {logs / (config.label + '.log')})", flush=True)
                continue
            result = runs[config.label][-1]
            print(
                f"  {result['c64']['rps']:.0f} req/s @64, {result['cpu_ms_per_request_c64']:.2f} ms CPU/req",
                flush=True,
            )
    summary = summarise(runs)
    meta = run_meta(seconds=seconds, rounds=rounds)
    (out_dir / "bench.json").write_text(
        json.dumps({"meta": meta, "ceilings": ceiling, "summary": summary, "runs": runs}, indent=1)
    )
    text = report(summary, ceiling, meta)
    (out_dir / "BENCHMARK.md").write_text(text)
    print(text)
    print(f"written to {out_dir} (server logs in {logs})")


if __name__ == "__main__":
    main()
