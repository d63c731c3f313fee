"""`python -m deploy.topology`: the command line. Outside the namespaces it checks the tools and
re-executes itself under `unshare`; inside, it runs the scenario and prints the JSON report."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from deploy.topology.observe import log_tails
from deploy.topology.rollout import RolloutOptions, run_rollout
from deploy.topology.scenario import Options, run
from load.server import REPO

INSIDE = "BENTO_TOPOLOGY_INSIDE"  # set in the re-executed command, inside the namespaces
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3
TOOLS = ("nginx", "prometheus", "dnsmasq")
COMMANDS = ("unshare", "nsenter", "setpriv", "ip")
_report_printed = threading.Lock()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.topology",
        description="Run docker-compose.yml's topology for real, without Docker, in private network "
        "namespaces (needs root); prints a JSON report.",
    )
    parser.add_argument(
        "--scenario",
        choices=("failover", "rollout"),
        default="failover",
        help="failover: load, Prometheus, one replica stopped mid-run; rollout: replicas rolled from "
        "--store to --new-store and back under load",
    )
    parser.add_argument("--store", type=Path, default=os.environ.get("BENTOML_HOME", REPO / ".bentoml"))
    parser.add_argument("--new-store", type=Path, help="rollout: the store of tag b (tag a: --store)")
    parser.add_argument(
        "--bad-store",
        type=Path,
        help="rollout: first try a tag whose replicas cannot start (must be refused)",
    )
    parser.add_argument(
        "--nginx-conf", type=Path, default=REPO / "deploy" / "nginx.conf", help="for experiments"
    )
    parser.add_argument("--tools", type=Path, default=REPO / "deploy" / ".tools" / "bin")
    parser.add_argument("--rate", type=float, default=100, help="requests per second through nginx")
    parser.add_argument("--phase-seconds", type=float, default=4, help="load with both replicas up")
    parser.add_argument("--stop-seconds", type=float, default=12, help="load around the stop")
    parser.add_argument("--steady-seconds", type=float, default=4, help="rollout: load before and after")
    parser.add_argument(
        "--pause-seconds", type=float, default=2, help="rollout: between rollout and rollback"
    )
    parser.add_argument("--budget", type=float, default=170, help="hard limit on the whole run, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        store=args.store.resolve(),
        nginx_conf=args.nginx_conf.resolve(),
        tools=args.tools.resolve(),
        rate=args.rate,
        phase_seconds=args.phase_seconds,
        stop_seconds=args.stop_seconds,
    )


def print_report(report: dict[str, Any]) -> bool:
    """Print ``report`` unless one was printed already (the budget's watchdog races the run)."""
    if not _report_printed.acquire(blocking=False):
        return False
    print(json.dumps(report, indent=1, default=str), flush=True)
    return True


def failure(error: str, workdir: Path) -> dict[str, Any]:
    return {"error": error, "workdir": str(workdir), "log_tails": log_tails(workdir)}


def start_watchdog(budget: float, workdir: Path, keep: bool) -> None:
    """After ``budget`` seconds: a failure report, then exit. This process is pid 1 of the namespace:
    everything it started goes with it."""

    def expire() -> None:
        if print_report(failure(f"the budget of {budget:g} s ran out", workdir)):
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
            os._exit(EXIT_BUDGET)

    watchdog = threading.Timer(budget, expire)
    watchdog.daemon = True
    watchdog.start()


def scenario(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if args.scenario == "rollout":
        bad = args.bad_store.resolve() if args.bad_store else None
        rollout = RolloutOptions(
            options_from(args), args.new_store.resolve(), args.steady_seconds, args.pause_seconds, bad
        )
        return run_rollout(rollout, workdir)
    return run(options_from(args), workdir).to_json()


def inside(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bento-topology-"))
    workdir.chmod(0o755)  # the containers' users read their files below it
    start_watchdog(args.budget, workdir, args.keep)
    try:
        report = {**scenario(args, workdir), "log_tails": log_tails(workdir)}
        code = EXIT_OK
    except Exception as error:
        report, code = failure(f"{type(error).__name__}: {error}", workdir), EXIT_FAILED
    if not print_report(report):
        return EXIT_BUDGET
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


def reexec(argv: list[str]) -> int:
    """This command again, under `unshare`, in new network, mount and pid namespaces."""
    command = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
    command += ["--propagation", "private", "--", "env", f"{INSIDE}=1"]
    command += [sys.executable, "-m", "deploy.topology", *argv]
    return subprocess.run(command, check=False).returncode


def missing(args: argparse.Namespace) -> list[str]:
    """What this machine lacks to run the topology."""
    lacking = [name for name in COMMANDS if shutil.which(name) is None]
    lacking += [
        f"{args.tools / name} (deploy/install-tools.sh)" for name in TOOLS if not (args.tools / name).exists()
    ]
    stores = [args.store, *([args.new_store] if args.scenario == "rollout" else [])]
    for store in stores:
        if store is None or not (store / "models").is_dir():
            lacking.append(f"a model store at {store} (python -m training all; rollout: --new-store)")
    return lacking


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if os.environ.get(INSIDE) == "1":
        return inside(args)
    lacking = missing(args)
    if lacking:
        print(f"missing: {'; '.join(lacking)}", file=sys.stderr)
        return EXIT_USAGE
    return reexec(argv)


if __name__ == "__main__":
    sys.exit(main())
