"""``python -m load {run,sweep,soak}``: load tests of the serving API, bounded in time.

run    locust headless (load/locustfile.py) for --run-time, then CSVs, HTML report, summary JSON and plots
       in reports/load/<timestamp>/; exits 1 when --max-failure-ratio or --max-p99-ms is broken
sweep  open-loop constant-rate steps, the knee under --slo-p99-ms, and the replicas for --target-rps;
       sweep.json and sweep.png in reports/load/<timestamp>-sweep/
soak   steady open-loop mixed traffic for --minutes, sampling RSS and open descriptors of the server's
       process tree and latency per window; soak.json and soak.png in reports/load/<timestamp>-soak/;
       exits 1 when anything failed or RSS grew more than --max-rss-growth after warm-up

Without --host, a fresh `bentoml serve` of the service is started (1 worker, 1 torch thread, pinned to
core 0, the load generator to core 1) from the store in $BENTOML_HOME, and stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from load.scenarios import SCENARIOS, TAGS
from load.server import REPO
from load.summary import parse_timespan
from load.sweep import parse_rates


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: expected a positive number")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a positive integer")
    return value


def _timespan(text: str) -> str:
    try:
        if parse_timespan(text) < 1:
            raise ValueError(f"{text!r} is under a second")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _rates(text: str) -> list[float]:
    try:
        return parse_rates(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a ratio in 0..1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m load",
        description="Load tests of the serving API, bounded in time: run (locust) and sweep (open-loop steps).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--host", help="load this server (e.g. http://127.0.0.1:3000) instead of starting one"
    )
    common.add_argument(
        "--reports-dir",
        type=Path,
        default=REPO / "reports" / "load",
        help="each run gets a dated folder here (reports/load)",
    )
    common.add_argument(
        "--max-failure-ratio", type=_ratio, default=0.0, help="failed share of requests allowed (%(default)s)"
    )

    run = commands.add_parser("run", parents=[common], help="locust, headless, bounded in time")
    run.add_argument("--users", "-u", type=_positive_int, default=32, help="concurrent users (%(default)s)")
    run.add_argument("--spawn-rate", "-r", type=_positive_float, default=32.0, help="users/s (%(default)s)")
    run.add_argument("--run-time", "-t", type=_timespan, default="30s", help="e.g. 30s, 5m (%(default)s)")
    run.add_argument(
        "--tags", "-T", nargs="+", choices=TAGS, metavar="TAG", help=f"scenarios: {', '.join(TAGS)}"
    )
    run.add_argument("--max-p99-ms", type=_positive_float, default=None, help="fail above this p99 (off)")

    sweep = commands.add_parser("sweep", parents=[common], help="open-loop rate steps and the SLO knee")
    sweep.add_argument("--slo-p99-ms", type=_positive_float, default=100.0, help="p99 target (%(default)s)")
    sweep.add_argument(
        "--rates",
        type=_rates,
        default=parse_rates("100,200,400,800,1200,1600"),
        help="req/s, comma-separated",
    )
    sweep.add_argument(
        "--step-seconds", type=_positive_float, default=5.0, help="length of a step (%(default)s)"
    )
    sweep.add_argument(
        "--warmup-seconds", type=float, default=2.0, help="at the first rate, not recorded (%(default)s)"
    )
    sweep.add_argument(
        "--drain-seconds", type=_positive_float, default=10.0, help="wait for late answers (%(default)s)"
    )
    sweep.add_argument(
        "--scenario", choices=sorted(SCENARIOS), default="classify-1", help="endpoint and rows (%(default)s)"
    )
    sweep.add_argument(
        "--target-rps", type=_positive_float, default=1000.0, help="req/s to size replicas for (%(default)s)"
    )
    sweep.add_argument("--all-steps", action="store_true", help="go on after two steps in a row miss the SLO")

    soak = commands.add_parser(
        "soak", parents=[common], help="steady mixed traffic; RSS, descriptors, latency"
    )
    soak.add_argument("--minutes", type=_positive_float, default=10.0, help="length of the run (%(default)s)")
    soak.add_argument(
        "--rate", type=_positive_float, default=200.0, help="req/s, open loop, the mix (%(default)s)"
    )
    soak.add_argument("--window-seconds", type=_positive_float, default=5.0, help="one sample per window")
    soak.add_argument(
        "--max-rss-growth", type=_positive_float, default=0.2, help="fail above this RSS growth (%(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from load import runner

        return runner.main(args)
    if args.command == "soak":
        from load import soak

        return soak.main(args)
    from load import sweep

    return sweep.main(args)


if __name__ == "__main__":
    sys.exit(main())
