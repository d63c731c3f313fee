"""``python -m bench compare [--quick]``: this service beside stock BentoML, a plain Starlette app, LitServe
and TorchServe, all serving the same tabular model, plus in-process ceilings and the HTTP floor.

Each configuration gets a fresh server pinned to core 0 while wrk (one thread) runs on core 1, so they
do not fight for a core; rounds repeat in ABAB order and the report shows medians. Server CPU time
(user + system of its whole process tree) per request is reported beside every rate: on a shared
machine it is the steadier figure. Full runs write bench/results/BENCHMARK.md and bench.json and check
the targets; ``--quick`` runs the same code briefly, writes to reports/bench/ instead, and checks only
that our service answered every request.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.compare_report import Summary, report, targets
from bench.output import out_dir, publish, verdict
from bench.peers import PEERS, serve_peer
from bench.servers import post_json
from bench.wrk import RawBody, require_wrk, wrk, wrk_cpu
from load.reports import run_meta
from load.server import SERVER_CPUS

ONE_ROW = {"rows": [[0.5, -1.2, 0.3, 2.0, -0.7, 0.1, 1.4, -2.1, 0.9, 0.0]]}
ROWS_256 = {"rows": np.random.default_rng(1).normal(size=(256, 10)).round(4).tolist()}
ROWS_1024 = {"rows": np.random.default_rng(2).normal(size=(1024, 10)).round(4).tolist()}
V2_INFER = "/v2/models/tabular-classifier/infer"


def v2_bodies(rows: list[list[float]]) -> tuple[dict[str, Any], RawBody]:
    """The same rows as an Open Inference Protocol V2 request: JSON, and binary (tensor bytes after the
    JSON header, every output asked back binary), as tritonclient sends them."""
    array = np.asarray(rows, dtype="<f4")
    tensor = {"name": "rows", "shape": list(array.shape), "datatype": "FP32"}
    as_json = {"inputs": [{**tensor, "data": array.ravel().tolist()}]}
    header = json.dumps(
        {
            "inputs": [{**tensor, "parameters": {"binary_data_size": array.nbytes}}],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    binary = RawBody(header + array.tobytes(), (("Inference-Header-Content-Length", str(len(header))),))
    return as_json, binary


V2_JSON_256, V2_BINARY_256 = v2_bodies(ROWS_256["rows"])


@dataclass(frozen=True)
class Config:
    label: str
    peer: str
    env: dict[str, str] = field(default_factory=dict)
    server_cpus: str = SERVER_CPUS
    note: str = ""

    def describe(self) -> str:
        """One line for the report."""
        return f"{PEERS[self.peer].what}{'; ' + self.note if self.note else ''}{'; env ' + str(self.env) if self.env else ''}"


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
QUICK_PEERS = ("ours", "stock-bentoml", "starlette")  # a quick run leaves the venv-built peers out


def measure(config: Config, seconds: float, logs: Path) -> dict[str, Any]:
    """One fresh server: lone latency, one-row load at 64 connections, 256-row bodies at 8, with the
    server's CPU per request; for ours also the HTTP floor and lone latency after a 1024-row request."""
    log = logs / f"{config.label}.log"
    with serve_peer(config.peer, log, cpus=config.server_cpus, env=config.env) as server:
        url = server.url + PEERS[config.peer].classify_path
        wrk(url, ONE_ROW, connections=8, seconds=2)  # warm-up
        lone = wrk(url, ONE_ROW, connections=1, seconds=seconds)
        loaded, cpu = wrk_cpu(server, url, ONE_ROW, connections=64, seconds=seconds)
        rows, cpu_256 = wrk_cpu(server, url, ROWS_256, connections=8, seconds=seconds)
        result: dict[str, Any] = {
            "lone": asdict(lone),
            "c64": asdict(loaded),
            "cpu_ms_per_request_c64": cpu * 1000 / max(loaded.requests, 1),
            "rows256": asdict(rows),
            "rows_per_s_256": rows.rps * 256,
            "cpu_ms_per_request_256": cpu_256 * 1000 / max(rows.requests, 1),
        }
        if config.peer == "ours":
            result["floor"] = asdict(wrk(server.url + "/livez", None, connections=64, seconds=seconds))
            for name, body in (("v2_json256", V2_JSON_256), ("v2_binary256", V2_BINARY_256)):
                measured = wrk(server.url + V2_INFER, body, connections=8, seconds=seconds)
                result[name] = {**asdict(measured), "rows_per_s": measured.rps * 256}
            post_json(url, ROWS_1024)
            result["lone_after_1024"] = asdict(wrk(url, ONE_ROW, connections=1, seconds=seconds))
        return result


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
    "v2_json_rows_per_s_256": "v2_json256.rows_per_s",
    "v2_binary_rows_per_s_256": "v2_binary256.rows_per_s",
    "v2_non_2xx": "v2_binary256.non_2xx",
}
STEPS = (
    "lone",
    "c64",
    "rows256",
    "floor",
    "lone_after_1024",
    "v2_json256",
    "v2_binary256",
)  # the wrk steps of a run


def summarise(runs: dict[str, list[dict[str, Any]]]) -> Summary:
    summary: Summary = {}
    for label, results in runs.items():
        row: dict[str, float] = {}
        for name, path in FIELDS.items():
            values = [v for v in (pick(r, path) for r in results) if v is not None]
            if values:
                row[name] = statistics.median(values)
        summary[label] = row
    return summary


def failed_checks(
    runs: dict[str, list[dict[str, Any]]], summary: Summary, ceiling: dict[str, float], quick: bool
) -> list[str]:
    """What this run checks and found wrong: any non-2xx answer or socket error from our service in any
    step; on a full run also every target not met (a quick run's timings on a busy machine prove nothing)."""
    ours = {c.label for c in CONFIGS if c.peer == "ours"}
    problems = []
    for label, results in runs.items():
        bad = sum(r[s]["non_2xx"] + r[s]["errors"] for r in results for s in STEPS if s in r)
        if label in ours and bad:
            problems.append(f"{label}: {bad} non-2xx answers or socket errors")
    if not quick:
        problems += [
            f"target not met: {what}" for what, _, _, met in targets(summary, ceiling) if met is False
        ]
    return problems


def _ceilings(seconds: float) -> dict[str, float]:
    """The in-process ceilings, run pinned to the server's core."""
    from bench.ceilings import ceilings  # imports torch and the service: not for `--help`

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(SERVER_CPUS)})
    try:
        return ceilings(ONE_ROW, ROWS_256, seconds=max(1.0, seconds / 2))
    finally:
        os.sched_setaffinity(0, before)


def measure_all(
    chosen: list[Config], rounds: int, seconds: float, logs: Path
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Every chosen configuration, ``rounds`` times in ABAB order; the runs, and why any failed."""
    runs: dict[str, list[dict[str, Any]]] = {c.label: [] for c in chosen}
    failures: dict[str, str] = {}
    for index in range(rounds):
        for config in chosen:
            print(f"round {index + 1}/{rounds}: {config.label} ...", flush=True)
            try:
                result = measure(config, seconds, logs)
            except Exception as error:  # one peer failing to start must not lose the others' figures
                failures[config.label] = str(error).splitlines()[0] if str(error) else type(error).__name__
                print(f"  {config.label} failed: {error} (log: {logs / (config.label + '.log')})", flush=True)
                continue
            runs[config.label].append(result)
            print(
                f"  {result['c64']['rps']:.0f} req/s @64, {result['cpu_ms_per_request_c64']:.2f} ms CPU/req",
                flush=True,
            )
    return runs, failures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="2 s steps, one round, peers optional; to reports/bench/"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each wrk step (%(default)s)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds over the servers, ABAB order (%(default)s)"
    )
    parser.add_argument("--only", nargs="+", choices=[c.label for c in CONFIGS], help="measure only these")
    parser.add_argument("--out-dir", type=Path, help="default: bench/results, or reports/bench with --quick")


def main(args: argparse.Namespace) -> int:
    """Run the comparison; 0, 1 when a check failed, 2 when a server could not be measured."""
    require_wrk()
    seconds, rounds = (2.0, 1) if args.quick else (args.seconds, args.rounds)
    folder = out_dir(args.out_dir, args.quick, "bench")
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    chosen = [c for c in CONFIGS if not args.only or c.label in args.only]
    if args.quick and not args.only:
        chosen = [c for c in chosen if c.peer in QUICK_PEERS]
    print("in-process ceilings ...", flush=True)
    ceiling = _ceilings(seconds)
    runs, failures = measure_all(chosen, rounds, seconds, logs)
    summary = summarise(runs)
    meta = run_meta(seconds=seconds, rounds=rounds)
    data = {"meta": meta, "ceilings": ceiling, "summary": summary, "runs": runs}
    text = report(summary, ceiling, meta, [(c.label, c.describe()) for c in CONFIGS])
    publish(folder, "bench.json", data, "BENCHMARK.md", text, logs)
    if failures:
        print(
            f"not measured: {'; '.join(f'{k}: {v}' for k, v in failures.items())}; logs in {logs}",
            file=sys.stderr,
        )
        return 2
    return verdict(failed_checks(runs, summary, ceiling, args.quick))
