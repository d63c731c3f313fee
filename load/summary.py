"""Turn locust's output into the run's summary: requests and rows per second, latency percentiles,
failures, per scenario and in total, and the pass/fail verdict against thresholds.

Sources: locust's ``--json-file`` (the exact final counts and response-time histograms, written at
shutdown) for the totals, since its ``_stats.csv`` is rewritten once a second and misses up to the
last second of a run; ``_stats_history.csv`` for the curves over time; ``_failures.csv`` for messages.
Percentiles follow locust's own method on its histogram (response times rounded to 2 significant
digits above 100 ms), so they match its HTML report.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from load.scenarios import rows_in_name

PERCENTILES = (0.50, 0.95, 0.99)
_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_timespan(text: str) -> int:
    """Seconds in a locust time string: ``90``, ``30s``, ``5m``, ``1h30m`` -> int. ValueError if not one."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    found = _TIMESPAN.fullmatch(text)
    if not text or found is None:
        raise ValueError(f"{text!r} is not a time span like 30s, 5m or 1h30m")
    hours, minutes, seconds = (int(group or 0) for group in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def histogram_percentile(histogram: Mapping[int, int], percent: float) -> int | None:
    """Locust's percentile of a {rounded ms: count} histogram; None when it is empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    allowed_above = int(total * percent)
    processed = 0
    for value in sorted(histogram, reverse=True):
        processed += histogram[value]
        if total - processed <= allowed_above:
            return value
    return 0  # not reached: the loop ends with processed == total


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile (``percent`` in 0..1) of raw values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class EndpointStats:
    """One request name's totals, as recorded by locust."""

    name: str
    requests: int
    failures: int
    histogram: dict[int, int]
    total_ms: float
    max_ms: float
    first_s: float  # epoch seconds of the entry's start
    last_s: float  # epoch seconds of its last request


def read_locust_json(path: Path) -> list[EndpointStats]:
    """The entries of locust's ``--json-file`` output (one per request name)."""
    entries: list[dict[str, Any]] = json.loads(path.read_text())
    return [
        EndpointStats(
            name=entry["name"],
            requests=int(entry["num_requests"]),
            failures=int(entry["num_failures"]),
            histogram={int(ms): int(count) for ms, count in entry["response_times"].items()},
            total_ms=float(entry["total_response_time"]),
            max_ms=float(entry["max_response_time"] or 0.0),
            first_s=float(entry["start_time"]),
            last_s=float(entry["last_request_timestamp"] or entry["start_time"]),
        )
        for entry in entries
    ]


def _figures(requests: int, failures: int, seconds: float, rows_ok: int | None) -> dict[str, Any]:
    return {
        "requests": requests,
        "failures": failures,
        "failure_ratio": failures / requests if requests else None,
        "req_per_s": requests / seconds if seconds > 0 else None,
        "rows_per_s": rows_ok / seconds if seconds > 0 and rows_ok is not None else None,
    }


def _latencies(histogram: Mapping[int, int], total_ms: float, max_ms: float, count: int) -> dict[str, Any]:
    found = {f"p{round(p * 100)}_ms": histogram_percentile(histogram, p) for p in PERCENTILES}
    return {**found, "avg_ms": total_ms / count if count else None, "max_ms": max_ms}


def summarise(entries: Sequence[EndpointStats]) -> dict[str, Any]:
    """Per scenario and total: requests, failures, ratio, req/s, rows/s (rows of successful requests),
    p50/p95/p99/avg/max ms. The duration is from the first request to the last, over all names."""
    seconds = max((e.last_s for e in entries), default=0.0) - min((e.first_s for e in entries), default=0.0)
    scenarios: dict[str, Any] = {}
    merged: dict[int, int] = {}
    rows_ok_total: int | None = 0
    for entry in sorted(entries, key=lambda e: e.name):
        rows = rows_in_name(entry.name)
        rows_ok = None if rows is None else rows * (entry.requests - entry.failures)
        rows_ok_total = None if rows_ok is None or rows_ok_total is None else rows_ok_total + rows_ok
        scenarios[entry.name] = {
            "rows_per_request": rows,
            **_figures(entry.requests, entry.failures, seconds, rows_ok),
            **_latencies(entry.histogram, entry.total_ms, entry.max_ms, entry.requests),
        }
        for ms, count in entry.histogram.items():
            merged[ms] = merged.get(ms, 0) + count
    requests = sum(e.requests for e in entries)
    total = {
        **_figures(requests, sum(e.failures for e in entries), seconds, rows_ok_total),
        **_latencies(
            merged, sum(e.total_ms for e in entries), max((e.max_ms for e in entries), default=0.0), requests
        ),
    }
    return {"duration_s": seconds, "total": total, "scenarios": scenarios}


def verdict(summary: Mapping[str, Any], max_failure_ratio: float, max_p99_ms: float | None) -> list[str]:
    """What breaks the thresholds (empty: the run passes). No request at all is a failure too."""
    total = summary["total"]
    if not total["requests"]:
        return ["no request completed"]
    broken = []
    if total["failure_ratio"] > max_failure_ratio:
        broken.append(f"failure ratio {total['failure_ratio']:.4f} > {max_failure_ratio}")
    if max_p99_ms is not None and total["p99_ms"] is not None and total["p99_ms"] > max_p99_ms:
        broken.append(f"p99 {total['p99_ms']} ms > {max_p99_ms} ms")
    return broken


def read_failures(path: Path, limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent failure messages from locust's ``_failures.csv`` (may miss the last second)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows: list[dict[str, Any]] = [
            {"name": row["Name"], "error": row["Error"], "occurrences": int(row["Occurrences"])}
            for row in csv.DictReader(handle)
        ]
    return sorted(rows, key=lambda row: -int(row["occurrences"]))[:limit]


@dataclass(frozen=True)
class HistoryPoint:
    """One second of the run: totals so far and the current (10 s window) percentiles, per name."""

    timestamp: int
    users: int
    name: str
    requests: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None
    p99_ms: int | None


def _ms_or_none(text: str) -> int | None:
    # locust writes N/A before any request and 0 when its 10 s window holds no data
    return None if text in ("", "N/A") or float(text) == 0 else round(float(text))


def read_history(path: Path) -> list[HistoryPoint]:
    """``_stats_history.csv`` rows, the last one kept when a second was written twice."""
    points: dict[tuple[int, str], HistoryPoint] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            point = HistoryPoint(
                timestamp=int(row["Timestamp"]),
                users=int(row["User Count"]),
                name=row["Name"],
                requests=int(row["Total Request Count"]),
                failures=int(row["Total Failure Count"]),
                p50_ms=_ms_or_none(row["50%"]),
                p95_ms=_ms_or_none(row["95%"]),
                p99_ms=_ms_or_none(row["99%"]),
            )
            points[(point.timestamp, point.name)] = point
    return sorted(points.values(), key=lambda p: (p.timestamp, p.name))


def throughput_series(points: Iterable[HistoryPoint]) -> list[tuple[int, float, float]]:
    """(seconds since the first point, req/s, rows/s of successful requests) between consecutive
    seconds, from the growth of the per-name totals. Names without a row count add no rows."""
    by_time: dict[int, dict[str, HistoryPoint]] = {}
    for point in points:
        by_time.setdefault(point.timestamp, {})[point.name] = point
    times = sorted(by_time)
    series = []
    for before, after in itertools.pairwise(times):
        seconds = after - before
        total_now, total_then = by_time[after].get("Aggregated"), by_time[before].get("Aggregated")
        requests = (total_now.requests if total_now else 0) - (total_then.requests if total_then else 0)
        rows = 0
        for name, point in by_time[after].items():
            previous = by_time[before].get(name)
            ok_now = point.requests - point.failures
            ok_then = previous.requests - previous.failures if previous else 0
            rows += (rows_in_name(name) or 0) * (ok_now - ok_then)
        series.append((after - times[0], requests / seconds, rows / seconds))
    return series


def write_json(path: Path, payload: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=1, default=_jsonable) + "\n")


def _jsonable(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)  # type: ignore[call-overload]
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
