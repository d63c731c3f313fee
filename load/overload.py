"""``python -m load.overload [--quick]``: open-loop load at 4x the saturating rate, with the in-flight
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
Python generator on one core can send. Full runs write load/results/OVERLOAD.md and overload.json;
``--quick`` runs briefly over three configurations and writes to reports/overload/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from load.harness import REPO, BentoServer, run_meta, wrk
from load.openloop import Outcome, run_step
from load.scenarios import JSON_TYPE, SCENARIOS, Scenario, digit_images
from load.summary import nearest_rank

GENERATOR_CPU = 1
LAG_LIMIT_MS = 20.0  # a send later than this behind its schedule means the generator did not keep up


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


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def overload_figures(outcomes: list[Outcome], rate: float, seconds: float) -> dict[str, Any]:
    """What a step did, split by answer: accepted (a right 200), shed (503 by error code), the rest."""
    accepted = [o for o in outcomes if o.status == 200 and o.error is None]
    shed = [o for o in outcomes if o.status == 503]
    other = Counter(
        "no answer" if o.status is None else f"HTTP {o.status}"
        for o in outcomes
        if o.status not in (200, 503)
    )
    wrong = sum(o.status == 200 and o.error is not None for o in outcomes)
    start = min((o.scheduled for o in outcomes), default=0.0)
    end_of_sends = start + seconds
    last_answer = max((o.finished for o in outcomes), default=end_of_sends)
    lags = [o.lag_ms for o in outcomes if o.lag_ms is not None]
    accepted_ms = [o.latency_ms for o in accepted]
    halves = [
        [o.latency_ms for o in accepted if (o.scheduled < start + seconds / 2) == first]
        for first in (True, False)
    ]
    return {
        "offered_rps": round(rate, 1),
        "seconds": seconds,
        "sent": len(outcomes),
        "accepted": len(accepted),
        # over the whole time the server was busy with the step: sends, then the answers still due
        "accepted_rps": round(len(accepted) / max(seconds, last_answer - start), 1),
        "shed": len(shed),
        "shed_by_code": dict(Counter(str(o.code) for o in shed)),
        "shed_without_retry_after": sum(o.retry_after is None for o in shed),
        "other_answers": dict(other),
        "wrong_answers": wrong,
        "accepted_p50_ms": _ms(nearest_rank(accepted_ms, 0.50)),
        "accepted_p99_ms": _ms(nearest_rank(accepted_ms, 0.99)),
        "accepted_max_ms": _ms(max(accepted_ms, default=None)),
        # bounded means the second half of the overload is no worse than the first
        "accepted_p99_first_half_ms": _ms(nearest_rank(halves[0], 0.99)),
        "accepted_p99_second_half_ms": _ms(nearest_rank(halves[1], 0.99)),
        "shed_p99_ms": _ms(nearest_rank([o.latency_ms for o in shed], 0.99)),
        "cleared_ms": _ms((last_answer - end_of_sends) * 1000),
        "send_lag_p99_ms": _ms(nearest_rank(lags, 0.99)),
    }


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


async def probe_after(
    session: aiohttp.ClientSession, url: str, scenario: Scenario, at: float, window_s: float
) -> list[tuple[float, int, float]]:
    """From loop time ``at`` (the load's end) for ``window_s``: lone requests one after another,
    each as (seconds after the end it was sent, status, latency ms)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, at - loop.time()))
    probes: list[tuple[float, int, float]] = []
    while loop.time() < at + window_s or not probes:
        sent = loop.time() - at
        status, ms = await _post_ms(session, url, scenario)
        probes.append((round(sent, 4), status, round(ms, 2)))
        if status != 200:
            await asyncio.sleep(0.01)  # refused: do not spin
    return probes


def recovery_figures(probes: list[tuple[float, int, float]], lone_p50: float) -> dict[str, Any]:
    """How soon after the load stopped a lone request was answered again, and at what speed."""
    answered = [(sent, ms) for sent, status, ms in probes if status == 200]
    later = [ms for sent, ms in answered if sent >= 0.5]
    first_200 = answered[0] if answered else None
    return {
        "first_probe_status": probes[0][1],
        "first_200_answered_after_ms": _ms((first_200[0] * 1000 + first_200[1]) if first_200 else None),
        "first_200_ms": first_200[1] if first_200 else None,
        "probe_p50_after_0_5_s_ms": _ms(statistics.median(later)) if later else None,
        "probe_p50_vs_lone": round(statistics.median(later) / lone_p50, 2) if later else None,
        "probes": len(probes),
    }


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
        "lone_p50_ms": _ms(lone_p50),
        "lone_p99_ms": _ms(nearest_rank(lone, 0.99)),
        "step": overload_figures(outcomes, rate, seconds),
        "recovery": recovery_figures(probes, lone_p50),
    }


def start(env: dict[str, str], log: Path) -> BentoServer:
    return BentoServer(".", env, log).wait_ready()


def saturation(scenario: Scenario, logs: Path, seconds: float) -> dict[str, Any]:
    """Closed-loop req/s at 64 connections with the default settings: the saturating rate."""
    server = start({}, logs / "saturation.log")
    try:
        body = json.loads(scenario.body)
        wrk(server.url + scenario.path, body, connections=8, seconds=2)  # warm-up
        cpu = server.cpu_seconds()
        result = wrk(server.url + scenario.path, body, connections=64, seconds=seconds)
        cpu_ms = (server.cpu_seconds() - cpu) * 1000 / max(result.requests, 1)
    finally:
        server.stop()
    return {
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "cpu_ms_per_request": round(cpu_ms, 3),
        "non_2xx": result.non_2xx,
    }


def refusal_cost(logs: Path, seconds: float) -> dict[str, Any]:
    """Server CPU per answer with one-row requests at 64 connections: defaults (all answered) beside
    limit 1 (nearly all refused); the refused share's cost is what is left after the answered ones."""
    body = json.loads(SCENARIOS["classify-1"].body)
    costs: dict[str, Any] = {}
    for label, env in (("answered", {}), ("refused", {"SERVING_MAX_IN_FLIGHT": "1"})):
        server = start(env, logs / f"refusal-{label}.log")
        try:
            wrk(server.url + "/classify", body, connections=64, seconds=2)
            cpu = server.cpu_seconds()
            result = wrk(server.url + "/classify", body, connections=64, seconds=seconds)
            cpu_ms = (server.cpu_seconds() - cpu) * 1000
        finally:
            server.stop()
        costs[label] = {
            "answers": result.requests,
            "non_2xx": result.non_2xx,
            "rps": result.rps,
            "cpu_ms": cpu_ms,
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


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(result: dict[str, Any]) -> str:
    meta, sat, runs = result["meta"], result["saturation"], result["configs"]
    lines = [
        "# Overload: 4x the saturating load, with and without shedding",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}. `python -m load.overload"
        f"{' --quick' if meta['quick'] else ''}`: one worker pinned to core 0, generator on core 1. "
        f"Request: {meta['images']} digit images as JSON to /digits.",
        "",
        f"Saturation (wrk, 64 closed-loop connections, defaults): {_fmt(sat['rps'])} req/s, "
        f"p50 / p99 {_fmt(sat['p50_ms'])} / {_fmt(sat['p99_ms'])} ms, {_fmt(sat['cpu_ms_per_request'])} ms "
        f"server CPU per request. Offered open-loop: {meta['factor']:g}x = {_fmt(meta['rate'])} req/s "
        f"for {meta['seconds']:g} s.",
        "",
        "| configuration | lone p50 ms | sent | accepted (req/s) | shed 503 | other answers | accepted p50 / p99 / max ms "
        "| accepted p99, first / second half of the step ms | last answer, ms after the load stopped | first lone 200, ms after the load stopped "
        "| lone p50 from 0.5 s after, ms | generator send lag p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, run in runs.items():
        step, rec = run["step"], run["recovery"]
        shed = ", ".join(f"{code} {count:,}" for code, count in step["shed_by_code"].items()) or "0"
        other = ", ".join(f"{what} {count:,}" for what, count in step["other_answers"].items()) or "none"
        lines.append(
            f"| {label} | {_fmt(run['lone_p50_ms'])} | {step['sent']:,} | {step['accepted']:,} "
            f"({_fmt(step['accepted_rps'])}) | {shed} | {other} | {_fmt(step['accepted_p50_ms'])} / "
            f"{_fmt(step['accepted_p99_ms'])} / {_fmt(step['accepted_max_ms'])} | "
            f"{_fmt(step['accepted_p99_first_half_ms'])} / {_fmt(step['accepted_p99_second_half_ms'])} "
            f"| {_fmt(step['cleared_ms'])} | {_fmt(rec['first_200_answered_after_ms'])} | "
            f"{_fmt(rec['probe_p50_after_0_5_s_ms'])} | {_fmt(step['send_lag_p99_ms'])} |"
        )
    lines += ["", "Configurations:", ""]
    lines += [f"- `{c.label}`: {c.note}" for c in CONFIGS if c.label in runs]
    checks = result["checks"]
    lines += [
        "",
        "Checks over every configuration: "
        f"503s without Retry-After {checks['shed_without_retry_after']}, wrong 200 answers "
        f"{checks['wrong_answers']}, answers other than 200 and 503 {checks['other_answers']}. "
        f"Generator behind its schedule (send lag p99 {LAG_LIMIT_MS:g} ms or more) in: "
        f"{', '.join(checks['generator_fell_behind_in']) or 'none'}.",
    ]
    ratio = result.get("accepted_p99_no_shedding_vs_default")
    if ratio is not None:
        lines.append(f"Accepted p99 without shedding / with the default limit: {_fmt(ratio)}x.")
    cost = result.get("refusal_cost")
    if cost:
        lines += [
            "",
            f"What a refusal costs (one-row requests, wrk at 64 connections): {cost['cpu_ms_per_refusal']:.3f} ms "
            f"of server CPU per 503 against {cost['cpu_ms_per_answer']:.3f} ms per answered request "
            f"({cost['refusal_vs_answer']:.2f}x). For requests this small the HTTP stack is the cost, so a "
            "worker cannot refuse 3x its capacity on the same core: overload of tiny requests has to be "
            "turned away in front of it (nginx `limit_conn`/`limit_req`, more replicas).",
        ]
    return "\n".join(lines) + "\n"


def checks(runs: dict[str, Any]) -> dict[str, Any]:
    steps = [run["step"] for run in runs.values()]
    return {
        "shed_without_retry_after": sum(s["shed_without_retry_after"] for s in steps),
        "wrong_answers": sum(s["wrong_answers"] for s in steps),
        "other_answers": sum(sum(s["other_answers"].values()) for s in steps),
        "generator_fell_behind_in": [
            label for label, run in runs.items() if (run["step"]["send_lag_p99_ms"] or 0) >= LAG_LIMIT_MS
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m load.overload", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 s steps, three configurations; to reports/overload/"
    )
    parser.add_argument("--images", type=int, default=512, help="digit images per request (%(default)s)")
    parser.add_argument("--factor", type=float, default=4.0, help="offered load / saturation (%(default)s)")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the overload step (%(default)s)"
    )
    parser.add_argument(
        "--out-dir", type=Path, help="default: load/results, or reports/overload with --quick"
    )
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    out_dir = args.out_dir or REPO / ("reports/overload" if args.quick else "load/results")
    out_dir.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="overload-logs-"))
    scenario = heavy_scenario(args.images)
    if (os.cpu_count() or 1) > GENERATOR_CPU:
        os.sched_setaffinity(0, {GENERATOR_CPU})  # the generator's core; servers pin themselves to core 0

    print(f"saturation of {scenario.tag} ...", flush=True)
    sat = saturation(scenario, logs, 3.0 if args.quick else 8.0)
    rate = sat["rps"] * args.factor
    print(f"  {sat['rps']:.0f} req/s; offering {rate:.0f} req/s", flush=True)
    runs: dict[str, Any] = {}
    for config in CONFIGS:
        if args.quick and config.label not in QUICK_CONFIGS:
            continue
        print(f"{config.label} at {args.factor:g}x ...", flush=True)
        server = start(config.env, logs / f"{config.label}.log")
        try:
            drain_s = seconds * args.factor + 30  # enough for the unbounded queue to empty
            loaded = heavy_scenario(args.images, config.deadline_ms)
            runs[config.label] = asyncio.run(
                measure_config(server.url, scenario, loaded, rate, seconds, drain_s)
            )
        finally:
            server.stop()
        step = runs[config.label]["step"]
        print(
            f"  accepted {step['accepted']}, shed {step['shed']}, accepted p99 {step['accepted_p99_ms']} ms",
            flush=True,
        )
    print("refusal cost ...", flush=True)
    cost = refusal_cost(logs, 3.0 if args.quick else 6.0)
    default, baseline = runs.get("limit-128"), runs.get("no-shedding")
    result = {
        "meta": run_meta(
            quick=args.quick, images=args.images, factor=args.factor, rate=round(rate, 1), seconds=seconds
        ),
        "saturation": sat,
        "configs": runs,
        "checks": checks(runs),
        "accepted_p99_no_shedding_vs_default": (
            round(baseline["step"]["accepted_p99_ms"] / default["step"]["accepted_p99_ms"], 2)
            if default
            and baseline
            and default["step"]["accepted_p99_ms"]
            and baseline["step"]["accepted_p99_ms"]
            else None
        ),
        "refusal_cost": cost,
    }
    (out_dir / "overload.json").write_text(json.dumps(result, indent=1))
    text = report(result)
    (out_dir / "OVERLOAD.md").write_text(text)
    print(text)
    print(f"written to {out_dir} (server logs in {logs})")


if __name__ == "__main__":
    main()
