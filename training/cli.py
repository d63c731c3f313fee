"""``python -m training {tabular,digits,all}``: train, report, and save into the BentoML model store."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from models import SPECS
from training.settings import TrainingSettings

# Each model by its registry key ("tabular", "digits"), and "all" of them.
TARGETS = {spec.key: [spec.name] for spec in SPECS.values()} | {"all": list(SPECS)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train the models and save them to the BentoML model store ($BENTOML_HOME). "
        "Every option can also be set as a TRAINING_* environment variable (e.g. TRAINING_SEED); "
        "the command line wins.",
    )
    parser.add_argument("target", choices=sorted(TARGETS), help="which model(s) to train")
    parser.add_argument("--seed", type=int, help="training seed (default 0)")
    parser.add_argument("--epochs", type=int, help="maximum epochs (default per model: 100 / 100)")
    parser.add_argument("--batch-size", type=int, help="mini-batch size (default 32 / 64)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default 0.01 / 0.01)")
    parser.add_argument("--weight-decay", type=float, help="Adam weight decay (default 1e-3 / 1e-4)")
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 30 / 15)")
    parser.add_argument("--quick", action="store_true", default=None, help="smoke run: at most 3 epochs")
    parser.add_argument("--reports-dir", help="where PNG plots go (default reports/)")
    parser.add_argument("--no-plots", dest="plots", action="store_false", default=None, help="skip the plots")
    parser.add_argument("--no-save", action="store_true", help="train and report, but leave the store alone")
    parser.add_argument(
        "--if-missing", action="store_true", help="train only the models that the store does not hold yet"
    )
    parser.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="evaluate N seeds from --seed on and report mean and spread; saves nothing",
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> TrainingSettings:
    """Environment first, then every option given on the command line on top of it."""
    fields = (
        "seed",
        "epochs",
        "batch_size",
        "lr",
        "weight_decay",
        "patience",
        "quick",
        "reports_dir",
        "plots",
    )
    given = {name: getattr(args, name) for name in fields if getattr(args, name) is not None}
    return TrainingSettings(**given)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be at least 1")
    try:
        settings = settings_from_args(args)
    except ValidationError as error:
        parser.error("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()))
    if args.seeds:
        for name in TARGETS[args.target]:
            print(seed_sweep(name, settings, args.seeds))
        return 0
    names = TARGETS[args.target]
    if args.if_missing:
        present = [name for name in names if in_store(name)]
        for name in present:
            print(f"{name} is already in the model store; skipping (--if-missing)")
        names = [name for name in names if name not in present]
    for name in names:
        train_and_save(name, settings, save=not args.no_save)
    return 0


def in_store(name: str) -> bool:
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        bentoml.models.get(f"{name}:latest")
    except NotFound:
        return False
    return True


def train_and_save(name: str, settings: TrainingSettings, save: bool) -> None:
    from training.pipeline import summary, train, write_plots

    result = train(name, settings)
    print(summary(result), end="\n\n")
    plots = write_plots(result, settings) if settings.plots else []
    if plots:
        print("plots:", ", ".join(plots))
    if save:
        # Usage tracking would reach the network; the project runs offline.
        os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
        from training.store import save_model

        entry = save_model(result.model, name, result.run_info(settings.seed), plots)
        print(f"saved {entry.tag} to {entry.path}")
    print()


def seed_sweep(name: str, settings: TrainingSettings, count: int) -> str:
    from training.pipeline import train

    runs: list[dict[str, Any]] = []
    for seed in range(settings.seed, settings.seed + count):
        result = train(name, settings.model_copy(update={"seed": seed}))
        runs.append(result.metrics)
        print(f"{name} seed {seed}: accuracy {result.metrics['accuracy']:.4f}", file=sys.stderr)
    lines = [
        f"{name} over {count} seeds ({settings.seed}..{settings.seed + count - 1}): mean ± std [min, max]"
    ]
    for metric, value in runs[0].items():
        if isinstance(value, float):
            values = [run[metric] for run in runs]
            spread = statistics.stdev(values) if count > 1 else 0.0
            lines.append(
                f"  {metric:<10} {statistics.mean(values):.4f} ± {spread:.4f} [{min(values):.4f}, {max(values):.4f}]"
            )
    return "\n".join(lines)
