"""``python -m bench compare [--quick] [--device cuda]``: this service beside stock BentoML, a plain
Starlette app, LitServe and TorchServe, all serving the same tabular model and digits CNN (8x8 images as
JSON, one uploaded PNG), plus in-process ceilings and the HTTP floor.

Each configuration gets a fresh server pinned to core 0 while wrk (one thread) runs on core 1, so they
do not fight for a core; rounds repeat in ABAB order and the report shows medians. Server CPU time
(user + system of its whole process tree) per request is reported beside every rate: on a shared
machine it is the steadier figure. Full runs write bench/results/BENCHMARK.md and bench.json and check
the targets; ``--quick`` runs the same code briefly (ours, stock BentoML and Starlette; every path once),
writes to reports/bench/ instead, and checks only that our service answered every request.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.compare_configs import CONFIGS, QUICK_LABELS, Config, on_device
from bench.compare_report import report
from bench.compare_summary import Summary, failures_in, summarise
from bench.compare_targets import targets
from bench.output import out_dir, publish, verdict
from bench.servers import SetupError
from bench.wrk import require_wrk
from load.reports import run_meta
from load.server import SERVER_CPUS

__all__ = ["CONFIGS", "Config", "add_arguments", "failed_checks", "main", "summarise"]
CNN_SECONDS = 5.0  # the digits steps are shorter than the tabular ones: a full run stays near 25 minutes


def failed_checks(
    runs: dict[str, list[dict[str, Any]]], summary: Summary, ceiling: dict[str, float], quick: bool
) -> list[str]:
    """What this run checks and found wrong: any non-2xx answer or socket error from our service in any
    step; on a full run also every target not met (a quick run's timings on a busy machine prove nothing)."""
    ours = {c.label for c in CONFIGS if c.peer == "ours"}
    problems = []
    for label, results in runs.items():
        bad = sum(failures_in(result) for result in results)
        if label in ours and bad:
            problems.append(f"{label}: {bad} non-2xx answers or socket errors")
    if not quick:
        problems += [
            f"target not met: {what}" for what, _, _, met in targets(summary, ceiling) if met is False
        ]
    return problems


def _ceilings(seconds: float, device: str) -> dict[str, float]:
    """The in-process ceilings, run pinned to the server's core with one torch thread."""
    import torch  # with the service and the bodies: not for `--help`

    from bench.bodies import DIGIT_PNG, DIGITS_32, ONE_ROW, ROWS_256
    from bench.ceilings import cnn_ceilings, tabular_ceilings

    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(SERVER_CPUS)})
    torch.set_num_threads(1)
    target = torch.device(device)
    try:
        step = max(1.0, seconds / 2)
        return {
            **tabular_ceilings(ONE_ROW, ROWS_256, step, target),
            **cnn_ceilings(DIGITS_32, DIGIT_PNG.read_bytes(), step, target),
        }
    finally:
        os.sched_setaffinity(0, before)


def measure_all(
    chosen: list[Config], rounds: int, seconds: float, cnn_seconds: float, logs: Path
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Every chosen configuration, ``rounds`` times in ABAB order; the runs, and why any failed."""
    from bench.compare_steps import measure  # builds the request bodies (scikit-learn's digits)

    runs: dict[str, list[dict[str, Any]]] = {c.label: [] for c in chosen}
    failures: dict[str, str] = {}
    for index in range(rounds):
        for config in chosen:
            print(f"round {index + 1}/{rounds}: {config.label} ...", flush=True)
            try:
                result = measure(config, seconds, cnn_seconds, logs)
            except Exception as error:  # one peer failing to start must not lose the others' figures
                failures[config.label] = str(error).splitlines()[0] if str(error) else type(error).__name__
                print(f"  {config.label} failed: {error} (log: {logs / (config.label + '.log')})", flush=True)
                continue
            runs[config.label].append(result)
            print(f"  {_progress(result)}", flush=True)
    return runs, failures


def _progress(result: dict[str, Any]) -> str:
    """One line per measured server: its headline figures."""
    cnn = ", ".join(f"{key} {step['load']['rps']:.0f} req/s" for key, step in result.get("cnn", {}).items())
    return f"{result['c64']['rps']:.0f} req/s @64, {result['cpu_ms_per_request_c64']:.2f} ms CPU/req" + (
        f"; {cnn}" if cnn else ""
    )


def require_device(device: str) -> None:
    """SetupError unless torch sees ``device`` (cpu always)."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise SetupError("--device cuda: torch.cuda.is_available() is false on this machine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 s steps, one round, ours / stock BentoML / Starlette; to reports/bench/",
    )
    parser.add_argument(
        "--seconds", type=float, default=8.0, help="length of each tabular wrk step (%(default)s)"
    )
    parser.add_argument(
        "--cnn-seconds",
        type=float,
        default=CNN_SECONDS,
        help="length of each digits CNN wrk step (%(default)s)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds over the servers, ABAB order (%(default)s)"
    )
    parser.add_argument("--only", nargs="+", choices=[c.label for c in CONFIGS], help="measure only these")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="our service (SERVING_DEVICE) and the in-process ceilings on this device; peers stay on the CPU",
    )
    parser.add_argument("--out-dir", type=Path, help="default: bench/results, or reports/bench with --quick")


def main(args: argparse.Namespace) -> int:
    """Run the comparison; 0, 1 when a check failed, 2 when a server could not be measured."""
    started = time.monotonic()
    require_device(args.device)
    require_wrk()
    seconds, rounds = (2.0, 1) if args.quick else (args.seconds, args.rounds)
    cnn_seconds = min(seconds, args.cnn_seconds)
    folder = out_dir(args.out_dir, args.quick, "bench")
    logs = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    chosen = [on_device(c, args.device) for c in CONFIGS if not args.only or c.label in args.only]
    if args.quick and not args.only:
        chosen = [c for c in chosen if c.label in QUICK_LABELS]
    print("in-process ceilings ...", flush=True)
    ceiling = _ceilings(seconds, args.device)
    runs, failures = measure_all(chosen, rounds, seconds, cnn_seconds, logs)
    summary = summarise(runs)
    meta = run_meta(seconds=seconds, cnn_seconds=cnn_seconds, rounds=rounds, device=args.device)
    meta["elapsed_s"] = round(time.monotonic() - started, 1)
    data = {"meta": meta, "ceilings": ceiling, "summary": summary, "runs": runs}
    text = report(summary, ceiling, meta, [on_device(c, args.device) for c in CONFIGS])
    publish(folder, "bench.json", data, "BENCHMARK.md", text, logs)
    if failures:
        print(
            f"not measured: {'; '.join(f'{k}: {v}' for k, v in failures.items())}; logs in {logs}",
            file=sys.stderr,
        )
        return 2
    return verdict(failed_checks(runs, summary, ceiling, args.quick))
