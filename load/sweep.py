"""``python -m load sweep --slo-p99-ms 100``: open-loop constant-rate steps, the knee, replicas needed.

Each step offers a fixed request rate (load/openloop.py) for ``--step-seconds``; a step meets the SLO when
its p99 (from scheduled send time) is within ``--slo-p99-ms`` and its failure ratio within
``--max-failure-ratio``. The knee is the highest offered rate that meets it with every lower rate meeting
it too (a pass above a failing step is treated as noise, and listed as ``highest_passing_rps``). By
default the sweep stops after two failing steps in a row. Writes sweep.json and sweep.png; prints
ceil(target / knee) replicas for ``--target-rps``. Exit status: 0 with a knee, 1 without, 2 when broken.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import Any

from load.openloop import run_steps
from load.plots import plot_sweep
from load.reports import new_run_dir, run_meta
from load.scenarios import SCENARIOS
from load.server import CLIENT_CPUS, SERVER_CPUS, client_pinned
from load.summary import write_json
from load.target import server_env, serving_target


def parse_rates(text: str) -> list[float]:
    """``100,200,400`` -> [100.0, 200.0, 400.0], sorted; ValueError for anything not positive."""
    rates = sorted(float(part) for part in text.split(",") if part.strip())
    if not rates or any(not math.isfinite(rate) or rate <= 0 for rate in rates):
        raise ValueError(f"{text!r}: expected positive request rates separated by commas")
    return rates


def meets_slo(step: Mapping[str, Any], slo_p99_ms: float, max_failure_ratio: float) -> bool:
    p99, ratio = step.get("p99_ms"), step.get("failure_ratio")
    return p99 is not None and ratio is not None and p99 <= slo_p99_ms and ratio <= max_failure_ratio


def find_knee(
    steps: Sequence[Mapping[str, Any]], slo_p99_ms: float, max_failure_ratio: float
) -> dict[str, Any]:
    """The knee of recorded steps (in any order): ``knee_rps`` (None when the lowest rate already fails),
    ``highest_passing_rps``, whether every step passed (then the knee is only a lower bound), and the
    verdict per offered rate."""
    ordered = sorted(steps, key=lambda step: float(step["offered_rps"]))
    passing = [meets_slo(step, slo_p99_ms, max_failure_ratio) for step in ordered]
    knee = None
    for step, passed in zip(ordered, passing, strict=True):
        if not passed:
            break
        knee = float(step["offered_rps"])
    highest = max(
        (float(s["offered_rps"]) for s, ok in zip(ordered, passing, strict=True) if ok), default=None
    )
    return {
        "knee_rps": knee,
        "highest_passing_rps": highest,
        "all_pass": bool(passing) and all(passing),
        "none_pass": not any(passing),
        "passing": {str(step["offered_rps"]): passed for step, passed in zip(ordered, passing, strict=True)},
    }


def replicas_needed(target_rps: float, knee_rps: float | None) -> int | None:
    """Replicas (each like the measured server) to carry ``target_rps`` within the SLO; None without a knee."""
    if knee_rps is None or knee_rps <= 0:
        return None
    return max(1, math.ceil(target_rps / knee_rps))


def replica_assumed(started_here: bool, env: Mapping[str, str], cpus: str) -> str:
    """What one replica of the estimate is: the server this sweep measured, as it ran."""
    if not started_here:
        return "each replica like the server at --host, with its own workers and cores (not known here)"
    workers, threads = env.get("SERVING_WORKERS", "1"), env.get("SERVING_TORCH_THREADS", "default")
    return (
        f"each replica like the one measured: SERVING_WORKERS={workers}, SERVING_TORCH_THREADS={threads}, "
        f"on CPU(s) {cpus}; the load generator ran on other CPUs"
    )


def format_steps(steps: Sequence[Mapping[str, Any]], slo_p99_ms: float, max_failure_ratio: float) -> str:
    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"{'offered':>8} {'answered':>9} {'fails':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'lag p99':>8}  SLO"
    ]
    for step in steps:
        lines.append(
            f"{step['offered_rps']:>8g} {cell(step['achieved_rps']):>9} {step['failures']:>6} {cell(step['p50_ms']):>8} "
            f"{cell(step['p95_ms']):>8} {cell(step['p99_ms']):>8} {cell(step['send_lag_p99_ms']):>8}  "
            f"{'ok' if meets_slo(step, slo_p99_ms, max_failure_ratio) else 'MISSED'}"
        )
    return "\n".join(lines) + "\n(req/s; latency in ms from the scheduled send time)"


def _meta(args: argparse.Namespace, url: str, started_here: bool) -> dict[str, Any]:
    return run_meta(
        host=url,
        server_started_here=started_here,
        server_env=server_env() if started_here else None,
        cpus={"server": SERVER_CPUS, "client": CLIENT_CPUS} if started_here else None,
        scenario=args.scenario,
        rows_per_request=SCENARIOS[args.scenario].rows,
        rates=args.rates,
        step_seconds=args.step_seconds,
        warmup_seconds=args.warmup_seconds,
        drain_seconds=args.drain_seconds,
        slo_p99_ms=args.slo_p99_ms,
        max_failure_ratio=args.max_failure_ratio,
        aiohttp=version("aiohttp"),
    )


def main(args: argparse.Namespace) -> int:
    scenario = SCENARIOS[args.scenario]
    out = new_run_dir(args.reports_dir, "-sweep")

    def two_missed(steps: list[dict[str, Any]]) -> bool:
        last = steps[-2:]
        return len(last) == 2 and not any(meets_slo(s, args.slo_p99_ms, args.max_failure_ratio) for s in last)

    try:
        with serving_target(args.host, out) as target, client_pinned(CLIENT_CPUS, target.started_here):
            print(
                f"sweep: {target.url}{scenario.path} ({scenario.name}) at {args.rates} req/s; reports in {out}"
            )
            steps = asyncio.run(
                run_steps(
                    target.url, scenario, args.rates, args.step_seconds, args.drain_seconds,
                    warmup_s=args.warmup_seconds, stop_after=None if args.all_steps else two_missed,
                )
            )  # fmt: skip
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    knee = find_knee(steps, args.slo_p99_ms, args.max_failure_ratio)
    replicas = replicas_needed(args.target_rps, knee["knee_rps"])
    assumed = replica_assumed(target.started_here, server_env(), SERVER_CPUS)
    lag_limit = max(5.0, args.slo_p99_ms / 10)
    behind = [s["offered_rps"] for s in steps if (s["send_lag_p99_ms"] or 0.0) > lag_limit]
    payload = {
        "meta": _meta(args, target.url, target.started_here),
        "steps": steps,
        **knee,
        "target_rps": args.target_rps,
        "replicas_needed": replicas,
        "replica_assumed": assumed,
        "client_behind_at": behind,
    }
    write_json(out / "sweep.json", payload)
    title = f"{scenario.name}, SLO p99 {args.slo_p99_ms:g} ms"
    plot_sweep(steps, args.slo_p99_ms, knee["knee_rps"], out / "sweep.png", title)
    print(format_steps(steps, args.slo_p99_ms, args.max_failure_ratio))
    if payload["client_behind_at"]:
        print(
            f"note: the client itself fell behind at {payload['client_behind_at']} req/s (send lag p99 over "
            f"{lag_limit:g} ms); that wait is inside the latencies, so the server may do better than shown"
        )
    if knee["knee_rps"] is None:
        later = knee["highest_passing_rps"]
        noise = f" ({later:g} req/s passed after it: noise? run again)" if later is not None else ""
        print(
            f"no knee: the lowest rate already missed p99 <= {args.slo_p99_ms:g} ms{noise}; try lower --rates"
        )
        print(f"reports in {out}")
        return 1
    bound = (
        " (every step met the SLO: the knee is at least this; try higher --rates)" if knee["all_pass"] else ""
    )
    print(f"knee: {knee['knee_rps']:g} req/s at p99 <= {args.slo_p99_ms:g} ms{bound}")
    print(
        f"replicas needed for {args.target_rps:g} req/s: {replicas} (ceil({args.target_rps:g} / {knee['knee_rps']:g}))"
    )
    print(f"  ({assumed})")
    print(f"reports in {out}")
    return 0
