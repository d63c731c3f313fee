"""Where a benchmark writes, what it writes, and how its checks become an exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from load.server import REPO

RESULTS = REPO / "bench" / "results"  # the committed results of full runs


def out_dir(given: Path | None, quick: bool, quick_name: str) -> Path:
    """``given``, else bench/results for a full run or reports/<quick_name> for a quick one; made."""
    folder = given or (REPO / "reports" / quick_name if quick else RESULTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def publish(
    folder: Path, data_name: str, data: dict[str, Any], report_name: str, report: str, logs: Path
) -> None:
    """Write the JSON results and the Markdown report, and print the report."""
    (folder / data_name).write_text(json.dumps(data, indent=1))
    (folder / report_name).write_text(report)
    print(report)
    print(f"written to {folder / report_name} (server logs in {logs})")


def verdict(problems: list[str]) -> int:
    """0 when every check held; else each failed check on stderr and 1."""
    for problem in problems:
        print(f"check failed: {problem}", file=sys.stderr)
    return 1 if problems else 0
