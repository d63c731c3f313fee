"""`python -m deploy.rollout to TAG | back | status`: the compose deployment's replicas, rolled one at
a time (deploy/rollout/rolling.py) with docker compose (deploy/rollout/compose.py)."""

from __future__ import annotations

import argparse
import sys
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    compose = compose_from(args)
    try:
        history = History(args.history_dir / f"{compose.project()}.json")
        if args.command == "status":
            status(compose, history)
            return EXIT_OK
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
    except RolloutError as error:
        print(f"rollout stopped: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
