"""``python -m load run``: locust headless for a bounded time, then CSVs, HTML, summary JSON and plots.

Starts its own server pinned to core 0 (locust then runs on core 1), or loads ``--host``. Exit status:
0 when the thresholds hold, 1 when they do not (or no request completed), 2 when the run itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, TextIO

from load.plots import plot_latency, plot_throughput
from load.reports import new_run_dir, run_meta
from load.server import CLIENT_CPUS, REPO, SERVER_CPUS, pinned
from load.summary import (
    parse_timespan,
    read_failures,
    read_history,
    read_locust_json,
    summarise,
    verdict,
    write_json,
)
from load.target import Target, server_env, serving_target

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
GRACE_S = 60  # locust's start-up and report writing, on top of --run-time


def locust_command(args: argparse.Namespace, url: str, out: Path) -> list[str]:
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
        "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.run_time,
        "--csv", str(out / "locust"), "--csv-full-history", "--html", str(out / "report.html"),
        "--json-file", str(out / "locust"), "--only-summary", "--exit-code-on-error", "0",
    ]  # fmt: skip
    return [*command, "--tags", *args.tags] if args.tags else command


def _progress_line(progress_file: Path, elapsed: float, run_s: int) -> str:
    try:
        live: dict[str, Any] = json.loads(progress_file.read_text())
    except (OSError, ValueError):
        return f"{min(elapsed, run_s):4.0f}/{run_s} s  starting ..."
    p95 = live.get("current_p95_ms")
    return (
        f"{min(elapsed, run_s):4.0f}/{run_s} s  users {live['users']}  requests {live['requests']}  "
        f"failures {live['failures']}  {live['rps']:.0f} req/s  "
        f"p95 {'-' if p95 is None else p95} ms (last 10 s)"
    )


def run_locust(command: list[str], out: Path, run_s: int, stream: TextIO) -> int:
    """Run locust to completion (killed past run time + GRACE_S) with a progress line; its exit code."""
    progress_file = out / "progress.json"
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "LOAD_PROGRESS_FILE": str(progress_file), "PYTHONPATH": python_path}
    started = time.monotonic()
    interactive = stream.isatty()
    last_line = 0.0
    with (out / "locust.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while process.poll() is None:
                time.sleep(1.0)
                elapsed = time.monotonic() - started
                if elapsed > run_s + GRACE_S:
                    print(f"\nlocust still running after {elapsed:.0f} s: stopping it", file=stream)
                    break
                if interactive:
                    print(
                        "\r" + _progress_line(progress_file, elapsed, run_s).ljust(100), end="", file=stream
                    )
                elif elapsed - last_line >= 5:
                    print(_progress_line(progress_file, elapsed, run_s), file=stream, flush=True)
                    last_line = elapsed
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
            code = process.wait()
    if interactive:
        print(file=stream)
    progress_file.unlink(missing_ok=True)
    return code


def format_table(summary: dict[str, Any]) -> str:
    def cell(value: float | None, pattern: str) -> str:
        return "-" if value is None else format(value, pattern)

    lines = [
        f"{'scenario':<24} {'requests':>9} {'fails':>6} {'req/s':>8} {'rows/s':>9} {'p50':>5} {'p95':>5} {'p99':>5}"
    ]
    named = [*summary["scenarios"].items(), ("total", summary["total"])]
    for name, row in named:
        lines.append(
            f"{name:<24} {row['requests']:>9} {row['failures']:>6} {cell(row['req_per_s'], '8.1f')} "
            f"{cell(row['rows_per_s'], '9.1f')} {cell(row['p50_ms'], '5d')} {cell(row['p95_ms'], '5d')} "
            f"{cell(row['p99_ms'], '5d')}"
        )
    return "\n".join(lines) + "\n(latency in ms; rows/s counts rows of successful requests)"


def _meta(args: argparse.Namespace, target: Target, locust_code: int) -> dict[str, Any]:
    return run_meta(
        host=target.url,
        server_started_here=target.started_here,
        server_env=server_env() if target.started_here else None,
        cpus={"server": SERVER_CPUS, "locust": CLIENT_CPUS} if target.started_here else None,
        users=args.users,
        spawn_rate=args.spawn_rate,
        run_time=args.run_time,
        tags=args.tags or ["(all: the weighted mix)"],
        locust=version("locust"),
        locust_exit_code=locust_code,
    )


def report(args: argparse.Namespace, target: Target, out: Path, locust_code: int) -> int:
    """Write summary.json and the plots from locust's files; print the table; return the exit status."""
    results = out / "locust.json"
    if not results.exists():
        print(f"locust wrote no results (exit code {locust_code}); see {out / 'locust.log'}", file=sys.stderr)
        return 2
    summary = summarise(read_locust_json(results))
    history = read_history(out / "locust_stats_history.csv")
    title = f"{args.users} users, {' '.join(args.tags) if args.tags else 'mix'}"
    plot_throughput(history, out / "throughput.png", f"Throughput: {title}")
    plot_latency(history, out / "latency.png", f"Latency: {title}")
    broken = verdict(summary, args.max_failure_ratio, args.max_p99_ms)
    if locust_code != 0:
        broken.append(f"locust exited with {locust_code}; see locust.log")
    payload = {
        "meta": _meta(args, target, locust_code),
        **summary,
        "failure_messages": read_failures(out / "locust_failures.csv"),
        "thresholds": {"max_failure_ratio": args.max_failure_ratio, "max_p99_ms": args.max_p99_ms},
        "passed": not broken,
        "broken": broken,
    }
    write_json(out / "summary.json", payload)
    print(format_table(summary))
    for failure in payload["failure_messages"]:
        print(f"  failure x{failure['occurrences']} {failure['name']}: {failure['error']}")
    print(f"reports in {out}")
    print("PASS" if not broken else "FAIL: " + "; ".join(broken))
    return 0 if not broken else 1


def main(args: argparse.Namespace) -> int:
    run_s = parse_timespan(args.run_time)
    out = new_run_dir(args.reports_dir)
    try:
        with serving_target(args.host, out) as target:
            print(f"load: {target.url} for {args.run_time}, {args.users} users; reports in {out}", flush=True)
            command = locust_command(args, target.url, out)
            if target.started_here:
                command = pinned(command, CLIENT_CPUS)
            code = run_locust(command, out, run_s, sys.stdout)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return report(args, target, out, code)
