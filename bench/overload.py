"""``python -m bench overload [--quick]``: open-loop load at 4x the saturating rate, with the in-flight
limit at its default, tighter, and off: the accepted requests' latency, what was shed, how fast the
server recovers when the load stops, and what a refusal costs.

One worker pinned to core 0; the generator on core 1. Saturation is measured first, in the same run:
wrk with 64 closed-loop connections against the default settings. Each configuration then gets a fresh
server and ``--factor`` times that rate for ``--seconds`` from the open-loop generator of
load/openloop.py (latency counted from each request's scheduled send, so a server that falls behind
cannot hide it). When the load stops, lone requests probe how long the server takes to answer at its
unloaded speed again.

The request is a compute-bound one (``--images`` digits per request) because that is the load a
limit can protect: for one-row requests the HTTP stack, not the model, is the cost, and a refusal costs
nearly as much as an answer (measured at the end of the run with wrk: one-row requests against
limit 1, nearly all refused, beside the defaults). It also keeps 4x the saturating rate within what a
Python generator on one core can send. Full runs write bench/results/OVERLOAD.md and overload.json;
``--quick`` runs briefly over three configurations and writes to reports/overload/. Either run fails
(exit 1) on a 503 without Retry-After, a wrong 200 answer, or any answer other than 200 and 503.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.output import out_dir, publish, verdict
from bench.overload_figures import (
    RECOVERED_AFTER_S,
    checks,
    failed_checks,
    overload_figures,
    recovery_figures,
    report,
)
from bench.servers import ours, serve
from bench.wrk import require_wrk, wrk, wrk_cpu
from load.openloop import run_step
from load.reports import run_meta
from load.scenarios import JSON_TYPE, SCENARIOS, Scenario, digit_images
from load.server import ServerProcess
from load.summary import nearest_rank

GENERATOR_CPU = 1


@dataclass(frozen=True)
class Config:
    label: str
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""
    deadline_ms: int | None = None  # sent as X-Request-Deadline-Ms by the generator


CONFIGS = [
    Config("limit-128", {}, "the defaults: 128 requests in flight per worker, 5 s deadline"),
    Config("limit-16", {"SERVING_MAX_IN_FLIGHT": "16"}, "a tighter in-flight limit, default deadline"),
    Config(
        "client-deadline-250",
        {},
        "the defaults, and every client asks for a 250 ms deadline (X-Request-Deadline-Ms: 250)",
        deadline_ms=250,
    ),
    Config(
        "no-shedding",
        {"SERVING_MAX_IN_FLIGHT": "1000000", "SERVING_DEADLINE_MS": "600000"},
        "no in-flight limit and a 10-minute deadline: a server that queues without bound (the baseline)",
    ),
]
QUICK_CONFIGS = ("limit-128", "client-deadline-250", "no-shedding")


def heavy_scenario(images: int, deadline_ms: int | None = None) -> Scenario:
    """``images`` 8x8 digit images per request as JSON: a request whose cost is the model's."""
    body = json.dumps({"images": digit_images(images)}, separators=(",", ":")).encode()
    headers = () if deadline_ms is None else (("X-Request-Deadline-Ms", str(deadline_ms)),)
    return Scenario(f"digits-{images}", "/digits", images, "digits", 1, body, JSON_TYPE, headers=headers)


async def _post_ms(session: aiohttp.ClientSession, url: str, scenario: Scenario) -> tuple[int, float]:
    started = time.perf_counter()
    async with session.post(
        url, data=scenario.body, headers={"Content-Type": scenario.content_type}
    ) as answer:
        await answer.read()
        return answer.status, (time.perf_counter() - started) * 1000


async def lone_ms(session: aiohttp.ClientSession, url: str, scenario: Scenario, count: int) -> list[float]:
    """Latencies of ``count`` requests sent one after another (200s only)."""
    results = [await _post_ms(session, url, scenario) for _ in range(count)]
    return [ms for status, ms in results if status == 200]


PROBE_LIMIT_S = 15.0


async def probe_after(
    session: aiohttp.ClientSession, url: str, scenario: Scenario, at: float, window_s: float
) -> list[tuple[float, int, float]]:
    """From loop time ``at`` (the load's end) for ``window_s``: lone requests one after another,
    each as (seconds after the end it was sent, status, latency ms). Goes on (up to PROBE_LIMIT_S)
    until a few answered probes were sent from RECOVERED_AFTER_S on: on a busy machine the first
    probe can wait out the whole window behind the backlog, and then recovery would go unmeasured."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, at - loop.time()))
    probes: list[tuple[float, int, float]] = []

    def measured() -> bool:
        return sum(sent >= RECOVERED_AFTER_S and status == 200 for sent, status, _ in probes) >= 3

    while loop.time() < at + window_s or (not measured() and loop.time() < at + PROBE_LIMIT_S):
        sent = loop.time() - at
        status, ms = await _post_ms(session, url, scenario)
        probes.append((round(sent, 4), status, round(ms, 2)))
        if status != 200:
            await asyncio.sleep(0.01)  # refused: do not spin
    return probes


async def measure_config(
    url: str, scenario: Scenario, loaded: Scenario, rate: float, seconds: float, drain_s: float
) -> dict[str, Any]:
    """Lone latency, then ``loaded`` at ``rate`` for ``seconds`` while lone ``scenario`` requests
    probe the recovery from the moment the load stops."""
    endpoint = url + scenario.path
    connector = aiohttp.TCPConnector(limit=1024)
    timeout = aiohttp.ClientTimeout(total=seconds + drain_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await lone_ms(session, endpoint, scenario, 10)  # warm-up
        lone = await lone_ms(session, endpoint, scenario, 40)
        lone_p50 = statistics.median(lone)
        async with aiohttp.ClientSession(timeout=timeout) as probe_session:
            end = asyncio.get_running_loop().time() + 0.01 + seconds
            probe = asyncio.create_task(probe_after(probe_session, endpoint, scenario, end, 2.0))
            outcomes = await run_step(session, endpoint, loaded, rate, seconds, drain_s)
            probes = await probe
    return {
        "lone_p50_ms": round(lone_p50, 2),
        "lone_p99_ms": _round(nearest_rank(lone, 0.99)),
        "step": overload_figures(outcomes, rate, seconds),
        "recovery": recovery_figures(probes, lone_p50),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def start(env: dict[str, str], log: Path) -> ServerProcess:
    """Our service as `bentoml serve .` runs it (the bentofile's service), pinned to the server's core."""
    return serve(ours(log, env, target="."))


def saturation(scenario: Scenario, logs: Path, seconds: float) -> dict[str, Any]:
    """Closed-loop req/s at 64 connections with the default settings: the saturating rate."""
    body = json.loads(scenario.body)
    with start({}, logs / "saturation.log") as server:
        wrk(server.url + scenario.path, body, connections=8, seconds=2)  # warm-up
        result, cpu = wrk_cpu(server, server.url + scenario.path, body, connections=64, seconds=seconds)
    return {
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "cpu_ms_per_request": round(cpu * 1000 / max(result.requests, 1), 3),
        "non_2xx": result.non_2xx,
    }


def refusal_cost(logs: Path, seconds: float) -> dict[str, Any]:
    """Server CPU per answer with one-row requests at 64 connections: defaults (all answered) beside
    limit 1 (nearly all refused); the refused share's cost is what is left after the answered ones."""
    body = json.loads(SCENARIOS["classify-1"].body)
    costs: dict[str, Any] = {}
    for label, env in (("answered", {}), ("refused", {"SERVING_MAX_IN_FLIGHT": "1"})):
        with start(env, logs / f"refusal-{label}.log") as server:
            wrk(server.url + "/classify", body, connections=64, seconds=2)
            result, cpu = wrk_cpu(server, server.url + "/classify", body, connections=64, seconds=seconds)
        costs[label] = {
            "answers": result.requests,
            "non_2xx": result.non_2xx,
            "rps": result.rps,
            "cpu_ms": cpu * 1000,
        }
    per_answer = costs["answered"]["cpu_ms"] / max(costs["answered"]["answers"], 1)
    refused = costs["refused"]
    accepted = refused["answers"] - refused["non_2xx"]
    per_refusal = (refused["cpu_ms"] - accepted * per_answer) / max(refused["non_2xx"], 1)
    return {
        "cpu_ms_per_answer": round(per_answer, 4),
        "cpu_ms_per_refusal": round(per_refusal, 4),
        "refusal_vs_answer": round(per_refusal / per_answer, 2),
        "answered_rps": costs["answered"]["rps"],
        "refused_rps": refused["rps"],
    }


def run_configs(args: argparse.Namespace, rate: float, seconds: float, logs: Path) -> dict[str, Any]:
    """Each configuration on a fresh server at ``rate``, with the recovery probes after it."""
    scenario = heavy_scenario(args.images)
    runs: dict[str, Any] = {}
    for config in CONFIGS:
        if args.quick and config.label not in QUICK_CONFIGS:
            continue
        print(f"{config.label} at {args.factor:g}x ...", flush=True)
        drain_s = seconds * args.factor + 30  # enough for the unbounded queue to empty
        loaded = heavy_scenario(args.images, config.deadline_ms)
        with start(config.env, logs / f"{config.label}.log") as server:
            runs[config.label] = asyncio.run(
                measure_config(server.url, scenario, loaded, rate, seconds, drain_s)
            )
        step = runs[config.label]["step"]
        print(
            f"  accepted {step['accepted']}, shed {step['shed']}, accepted p99 {step['accepted_p99_ms']} ms",
            flush=True,
        )
    return runs


def _p99_ratio(runs: dict[str, Any]) -> float | None:
    """Accepted p99 without shedding / with the default limit, when both were measured."""
    default, baseline = runs.get("limit-128"), runs.get("no-shedding")
    if not default or not baseline:
        return None
    ours_p99, baseline_p99 = default["step"]["accepted_p99_ms"], baseline["step"]["accepted_p99_ms"]
    return round(baseline_p99 / ours_p99, 2) if ours_p99 and baseline_p99 else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="3 s steps, three configurations; to reports/overload/"
    )
    parser.add_argument("--images", type=int, default=512, help="digit images per request (%(default)s)")
    parser.add_argument("--factor", type=float, default=4.0, help="offered load / saturation (%(default)s)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the overload step (%(default)s)"
    )
    parser.add_argument(
        "--out-dir", type=Path, help="default: bench/results, or reports/overload with --quick"
    )


def main(args: argparse.Namespace) -> int:
    """Run the overload benchmark; 0, or 1 when a check failed."""
    require_wrk()
    seconds = 3.0 if args.quick else args.seconds
    folder = out_dir(args.out_dir, args.quick, "overload")
    logs = Path(tempfile.mkdtemp(prefix="overload-logs-"))
    if (os.cpu_count() or 1) > GENERATOR_CPU:
        os.sched_setaffinity(0, {GENERATOR_CPU})  # the generator's core; servers pin themselves to core 0
    print(f"saturation of {heavy_scenario(args.images).tag} ...", flush=True)
    sat = saturation(heavy_scenario(args.images), logs, 3.0 if args.quick else 8.0)
    rate = sat["rps"] * args.factor
    print(f"  {sat['rps']:.0f} req/s; offering {rate:.0f} req/s", flush=True)
    runs = run_configs(args, rate, seconds, logs)
    print("refusal cost ...", flush=True)
    cost = refusal_cost(logs, 3.0 if args.quick else 6.0)
    totals = checks(runs)
    result: dict[str, Any] = {
        "meta": run_meta(
            quick=args.quick, images=args.images, factor=args.factor, rate=round(rate, 1), seconds=seconds
        ),
        "saturation": sat,
        "configs": runs,
        "checks": totals,
        "accepted_p99_no_shedding_vs_default": _p99_ratio(runs),
        "refusal_cost": cost,
    }
    publish(
        folder,
        "overload.json",
        result,
        "OVERLOAD.md",
        report(result, {c.label: c.note for c in CONFIGS}),
        logs,
    )
    return verdict(failed_checks(totals))
