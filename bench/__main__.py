"""``python -m bench {compare,overload,batching}``: see the package docstring for what each measures."""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

import bench
from bench import batching, compare, overload
from bench.servers import SetupError

# name -> (module with add_arguments and main, one line for --help)
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "compare": (compare, "this service beside stock BentoML, Starlette, LitServe and TorchServe"),
    "overload": (overload, "4x the saturating load, shedding at its defaults, tighter and off"),
    "batching": (batching, "in-process batcher vs none vs BentoML's batcher behind bentoml.depends"),
}


def build_parser() -> argparse.ArgumentParser:
    intro, _, rest = (bench.__doc__ or "").partition("\n\n")
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=intro,
        epilog=rest,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module, summary) in COMMANDS.items():
        command = commands.add_parser(
            name,
            help=summary,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand: 0 when it completed and its checks passed, 1 when a check failed, 2 for a
    setup problem (said in one line on stderr)."""
    args = build_parser().parse_args(argv)
    module, _ = COMMANDS[args.command]
    try:
        status: int = module.main(args)
    except SetupError as error:
        print(f"python -m bench {args.command}: {error}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
