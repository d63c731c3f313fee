"""The soak command: its verdict on recorded samples, and a short real run (the CI version)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from load.soak import verdict
from tests.helpers import run_python


def samples(rss: list[float], failures: int = 0) -> list[dict[str, float | int]]:
    return [
        {"t_s": 5.0 * i, "rss_mib": value, "fds": 30, "sent": 100, "failures": failures}
        for i, value in enumerate(rss)
    ]


def test_growth_is_measured_from_the_end_of_warm_up() -> None:
    # 10 windows: warm-up is the first two; the jump during warm-up does not count.
    result = verdict(samples([300, 500, 510, 512, 515, 515, 516, 518, 519, 520]), max_growth=0.2)
    assert result["rss_after_warmup_mib"] == 500
    assert result["rss_growth"] == pytest.approx(0.04)
    assert result["passed"]


def test_a_leak_or_a_failure_fails_the_soak() -> None:
    assert not verdict(samples([500, 500, 550, 600, 650, 700, 750, 800, 850, 900]), max_growth=0.2)["passed"]
    failing = verdict(samples([500] * 10, failures=1), max_growth=0.2)
    assert failing["failures"] == 10
    assert not failing["passed"]


@pytest.mark.slow
def test_short_soak_holds_memory_and_fails_nothing(trained_store: Path, tmp_path: Path) -> None:
    done = run_python(
        "-m",
        "load",
        "soak",
        "--minutes",
        "0.75",
        "--rate",
        "100",
        "--reports-dir",
        str(tmp_path),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    report = json.loads((run_dir / "soak.json").read_text())
    print(f"\nsoak: {report['verdict']}")
    assert report["verdict"]["failures"] == 0
    assert report["verdict"]["rss_growth"] < 0.2
    assert (run_dir / "soak.png").stat().st_size > 0
