"""`python -m deploy.rollout to TAG | back | status`: the compose deployment's replicas, rolled one at
a time (deploy/rollout/rolling.py) with docker compose (deploy/rollout/compose.py)."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.rollout.compose import Compose
from deploy.rollout.history import History
from deploy.rollout.rolling import RolloutError, Timing, roll

REPO = Path(__file__).resolve().parents[2]
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: at least 1")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.rollout",
        description="Replace the compose deployment's model replicas one at a time behind nginx: start "
        "one of the new tag, wait until it is healthy, reload nginx, stop (drain) and remove an old one.",
    )
    parser.add_argument("-f", "--file", action="append", default=[], help="compose file (repeatable)")
    parser.add_argument("--env-file", help="compose env file (deploy/serving.env)")
    parser.add_argument("-p", "--project-name", help="compose project name")
    parser.add_argument(
        "--health-timeout", type=float, default=180, help="seconds a new replica has to be healthy"
    )
    parser.add_argument(
        "--history-dir",
        type=Path,
        default=REPO / "deploy" / ".rollout",
        help="where the tags rolled out are kept",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    to = commands.add_parser("to", help="roll every replica to TAG")
    to.add_argument("tag", help="the image tag (bento-serving:TAG)")
    to.add_argument(
        "--replicas",
        type=positive,
        help="replace at most this many (a canary, taking about that share of the traffic); "
        "finish with another `to TAG`, or undo with `back`",
    )
    commands.add_parser("back", help="roll back to the tag before the last completed rollout")
    commands.add_parser("status", help="the replicas, their tags, and the history")
    return parser.parse_args(argv)


def compose_from(args: argparse.Namespace) -> Compose:
    compose_args = [argument for path in args.file for argument in ("-f", path)]
    compose_args += ["--env-file", args.env_file] if args.env_file else []
    compose_args += ["-p", args.project_name] if args.project_name else []
    return Compose(compose_args)


def status(compose: Compose, history: History) -> None:
    for replica in compose.running():
        print(f"{replica.name}  {replica.tag}  {replica.id[:12]}")
    for entry in history.entries():
        print(f"history: {entry['tag']}  ({entry['at']})")


@contextlib.contextmanager
def one_at_a_time(lock_path: Path) -> Iterator[None]:
    """Only one rollout or rollback of a project at a time (two would replace each other's replicas)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise RolloutError(
                f"another rollout of this project is running ({lock.read().strip()})"
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}, started {time.strftime('%H:%M:%S')}\n")
        lock.flush()
        yield


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    compose = compose_from(args)
    try:
        project = compose.project()
        history = History(args.history_dir / f"{project}.json")
        if args.command == "status":
            status(compose, history)
            return EXIT_OK
        with one_at_a_time(args.history_dir / f"{project}.lock"):
            return change(args, compose, history)
    except RolloutError as error:
        print(f"rollout stopped: {error}", file=sys.stderr)
        return EXIT_FAILED


def change(args: argparse.Namespace, compose: Compose, history: History) -> int:
    """The rollout or the rollback ``args`` ask for; RolloutError when it stops."""
    before = compose.running()
    timing = Timing(health_timeout_s=args.health_timeout)
    if args.command == "to":
        history.starting(before)
        roll(compose, args.tag, timing=timing, limit=args.replicas)
        if all(replica.tag == args.tag for replica in compose.running()):
            history.rolled_out(args.tag, before)
        else:
            print(f"canary: finish with `make rollout TAG={args.tag}`, undo with `make rollback`")
            return EXIT_OK
    else:
        target = history.rollback_target(before)
        print(f"rolling back to {target}")
        roll(compose, target, timing=timing)
        history.rolled_back(target)
    print(
        f"keep TAG={compose.running()[0].tag} in your env file, or `docker compose up -d` recreates the replicas"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
