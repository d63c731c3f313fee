"""``python -m load soak``: steady mixed traffic for minutes, watching for leaks and drift.

Every scenario of the mix runs open loop at its share of ``--rate``. After each window the RSS and open
file descriptors of the server's whole process tree are sampled with the window's latency. RSS growth
is measured from the end of warm-up (the first fifth of the run, at least one window), when caches,
pools and the allocator have settled, to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import aiohttp

from load.openloop import run_step, step_figures
from load.plots import plot_soak
from load.reports import new_run_dir
from load.scenarios import SCENARIOS
from load.server import CLIENT_CPUS, client_pinned, tree_usage
from load.target import serving_target

WARMUP_SHARE = 0.2


async def mixed_window(
    session: aiohttp.ClientSession, url: str, rate: float, seconds: float
) -> dict[str, Any]:
    """One window of the weighted mix, every scenario at its share of ``rate``, all at once."""
    total_weight = sum(scenario.weight for scenario in SCENARIOS.values())
    steps = [
        run_step(session, url + scenario.path, scenario, rate * scenario.weight / total_weight, seconds, 10.0)
        for scenario in SCENARIOS.values()
    ]
    outcomes = [outcome for step in await asyncio.gather(*steps) for outcome in step]
    return step_figures(outcomes, rate, seconds, rows=1)


async def soak(url: str, pid: int | None, args: argparse.Namespace) -> list[dict[str, Any]]:
    windows = max(2, math.ceil(args.minutes * 60 / args.window_seconds))
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        for index in range(windows):
            figures = await mixed_window(session, url, args.rate, args.window_seconds)
            rss, fds = tree_usage(pid) if pid else (0, -1)
            rss_mib = rss / 2**20 if pid else math.nan
            sample = {"t_s": round(time.monotonic() - started, 1), "rss_mib": round(rss_mib, 1), "fds": fds}
            samples.append(
                {**sample, **{k: figures[k] for k in ("sent", "failures", "p50_ms", "p99_ms", "errors")}}
            )
            print(
                f"\rwindow {index + 1}/{windows}: RSS {rss_mib:.0f} MiB, {fds} fds, p99 {figures['p99_ms']} ms, "
                f"{sum(s['failures'] for s in samples)} failed",
                end="",
                flush=True,
            )
    print()
    return samples


def verdict(samples: list[dict[str, Any]], max_growth: float) -> dict[str, Any]:
    """RSS growth from the end of warm-up to the end, failures, and whether the run passes."""
    warm = max(1, math.ceil(len(samples) * WARMUP_SHARE))
    baseline, last = samples[warm - 1]["rss_mib"], samples[-1]["rss_mib"]
    growth = (last - baseline) / baseline if baseline and not math.isnan(baseline) else None
    failures = sum(sample["failures"] for sample in samples)
    passed = failures == 0 and growth is not None and growth <= max_growth
    return {
        "rss_after_warmup_mib": baseline,
        "rss_end_mib": last,
        "rss_growth": None if growth is None else round(growth, 4),
        "max_rss_growth": max_growth,
        "fds_after_warmup": samples[warm - 1]["fds"],
        "fds_end": samples[-1]["fds"],
        "requests": sum(sample["sent"] for sample in samples),
        "failures": failures,
        "passed": passed,
    }


def main(args: argparse.Namespace) -> int:
    out_dir = new_run_dir(Path(args.reports_dir), "-soak")
    with serving_target(args.host, out_dir) as target, client_pinned(CLIENT_CPUS, target.started_here):
        print(f"soak: {args.minutes:g} min at {args.rate:g} req/s (the mix) against {target.url}")
        samples = asyncio.run(soak(target.url, target.pid, args))
    result = verdict(samples, args.max_rss_growth)
    (out_dir / "soak.json").write_text(
        json.dumps(
            {
                "settings": vars(args) | {"reports_dir": str(args.reports_dir)},
                "verdict": result,
                "samples": samples,
            },
            indent=1,
        )
    )
    plot_soak(samples, out_dir / "soak.png")
    print(json.dumps(result))
    print(f"written to {out_dir}")
    return 0 if result["passed"] else 1
