"""PNG plots of a run (throughput and latency over time), a sweep (latency against offered rate) and a soak."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from load.summary import HistoryPoint, throughput_series


def plot_throughput(points: Sequence[HistoryPoint], path: Path, title: str) -> None:
    """Requests/s (with the user count) above, rows/s of successful requests below, per second."""
    series = throughput_series(points)
    seconds = [s[0] for s in series]
    figure, (requests, rows) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    requests.plot(seconds, [s[1] for s in series], color="tab:blue", label="requests/s")
    rows.plot(seconds, [s[2] for s in series], color="tab:green", label="rows/s (successful requests)")
    totals = [p for p in points if p.name == "Aggregated"]
    if totals:
        users = requests.twinx()
        start = totals[0].timestamp
        users.step(
            [p.timestamp - start for p in totals], [p.users for p in totals], where="post", color="grey"
        )
        users.set_ylabel("users", color="grey")
        users.set_ylim(bottom=0)
    for axis, label in ((requests, "requests/s"), (rows, "rows/s")):
        axis.set_ylabel(label)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    rows.set_xlabel("seconds since start")
    requests.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_latency(points: Sequence[HistoryPoint], path: Path, title: str) -> None:
    """p50/p95/p99 over time, all requests together (locust's current window: the last ~10 s)."""
    totals = [p for p in points if p.name == "Aggregated"]
    start = totals[0].timestamp if totals else 0
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for field, color in (("p50_ms", "tab:green"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
        known = [(p.timestamp - start, getattr(p, field)) for p in totals if getattr(p, field) is not None]
        axis.plot([k[0] for k in known], [k[1] for k in known], marker=".", label=field[:3], color=color)
    axis.set_xlabel("seconds since start")
    axis.set_ylabel("latency, ms (last ~10 s window)")
    axis.set_ylim(bottom=0)
    axis.legend(loc="upper left")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_sweep(
    steps: Sequence[dict[str, Any]], slo_p99_ms: float, knee_rps: float | None, path: Path, title: str
) -> None:
    """Latency percentiles (log scale) and achieved rate against the offered rate, with the SLO and knee."""
    figure, (latency, achieved) = plt.subplots(1, 2, figsize=(11, 4.5))
    offered = [step["offered_rps"] for step in steps]
    for field, color in (("p50_ms", "tab:green"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
        latency.plot(offered, [step[field] for step in steps], marker="o", label=field[:3], color=color)
    latency.axhline(slo_p99_ms, color="black", linestyle="--", label=f"SLO p99 {slo_p99_ms:g} ms")
    if knee_rps is not None:
        latency.axvline(knee_rps, color="tab:purple", linestyle=":", label=f"knee {knee_rps:g} req/s")
    latency.set_yscale("log")
    latency.set_xlabel("offered rate, req/s")
    latency.set_ylabel("latency from scheduled send, ms")
    latency.legend(loc="best")
    latency.grid(alpha=0.3, which="both")
    achieved.plot(offered, offered, color="grey", linestyle="--", label="offered")
    achieved.plot(offered, [step["achieved_rps"] for step in steps], marker="o", label="answered OK")
    achieved.set_xlabel("offered rate, req/s")
    achieved.set_ylabel("req/s")
    achieved.legend(loc="upper left")
    achieved.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_soak(samples: list[dict[str, Any]], path: Path) -> None:
    """Memory, descriptors and latency per window of a soak run."""
    times = [sample["t_s"] for sample in samples]
    fig, (memory, latency) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    memory.plot(times, [s["rss_mib"] for s in samples], label="RSS (MiB), process tree")
    memory.set_ylabel("MiB")
    descriptors = memory.twinx()
    descriptors.plot(times, [s["fds"] for s in samples], color="grey", linestyle="--", label="open fds")
    descriptors.set_ylabel("fds")
    memory.legend(loc="upper left")
    latency.plot(times, [s["p50_ms"] for s in samples], label="p50")
    latency.plot(times, [s["p99_ms"] for s in samples], label="p99")
    latency.set(xlabel="seconds", ylabel="ms")
    latency.legend()
    fig.suptitle("Soak: memory, descriptors and latency per window")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
