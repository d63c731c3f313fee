"""The overload benchmark's arithmetic on made-up outcomes, and its --quick run end to end against real
servers (what it checks is behaviour: which answers came back; no timing is asserted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.overload_figures import overload_figures, recovery_figures
from load.openloop import Outcome
from tests.helpers import run_python


def outcome(
    at: float, ms: float, status: int | None, code: str | None = None, retry: str | None = None
) -> Outcome:
    error = None if status == 200 else f"HTTP {status}"
    return Outcome(at, at + ms / 1000, 0.5, error, status, code, retry)


def test_figures_split_accepted_shed_and_the_rest() -> None:
    outcomes = [
        *(outcome(i / 100, 10.0 + i, 200) for i in range(100)),  # accepted: 10..109 ms
        *(outcome(0.5, 1.0, 503, "overloaded", "1") for _ in range(30)),
        outcome(0.6, 2.0, 503, "deadline_exceeded", None),  # a 503 without Retry-After is counted
        outcome(0.7, 3.0, 500),
        outcome(0.8, 5000.0, None),  # never answered
        Outcome(0.9, 0.95, 0.5, "labels[0] is 11", 200),  # a 200 with a wrong answer
    ]
    figures = overload_figures(outcomes, rate=134.0, seconds=1.0)
    assert figures["sent"] == 134
    assert figures["accepted"] == 100
    assert figures["accepted_p50_ms"] == 59.0
    assert figures["accepted_p99_ms"] == 108.0
    assert figures["accepted_p99_first_half_ms"] == 59.0  # sent before 0.5 s
    assert figures["accepted_p99_second_half_ms"] == 109.0
    assert figures["accepted_rps"] == pytest.approx(100 / 5.8, abs=0.1)  # until the last answer, 5.8 s
    assert figures["shed"] == 31
    assert figures["shed_by_code"] == {"overloaded": 30, "deadline_exceeded": 1}
    assert figures["shed_without_retry_after"] == 1
    assert figures["other_answers"] == {"HTTP 500": 1, "no answer": 1}
    assert figures["wrong_answers"] == 1
    assert figures["cleared_ms"] == pytest.approx(4800.0)  # the unanswered one ends 4.8 s after the load


def test_recovery_reports_the_first_200_and_the_speed_after_half_a_second() -> None:
    probes = [(0.0, 503, 1.0), (0.01, 200, 40.0), (0.6, 200, 6.0), (0.7, 200, 8.0)]
    figures = recovery_figures(probes, lone_p50=7.0)
    assert figures["first_probe_status"] == 503
    assert figures["first_200_answered_after_ms"] == pytest.approx(50.0)
    assert figures["probe_p50_after_0_5_s_ms"] == 7.0
    assert figures["probe_p50_vs_lone"] == 1.0


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk; .ci/run does)"
)
def test_quick_overload_run_sheds_with_retry_after_and_nothing_else(
    trained_store: Path, tmp_path: Path
) -> None:
    """4x the measured saturating load: with the default limit the server sheds (503 + Retry-After) and
    answers every other request rightly; without a limit it sheds nothing; no other status, ever."""
    done = run_python("-m", "bench", "overload", "--quick", "--out-dir", str(tmp_path), timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "overload.json").read_text())
    runs = data["configs"]
    assert set(runs) == {"limit-128", "client-deadline-250", "no-shedding"}
    checks = data["checks"]
    assert checks["shed_without_retry_after"] == 0
    assert checks["wrong_answers"] == 0
    assert checks["other_answers"] == 0
    default, deadline, baseline = (
        runs["limit-128"]["step"],
        runs["client-deadline-250"]["step"],
        runs["no-shedding"]["step"],
    )
    assert default["accepted"] > 0
    assert "overloaded" in default["shed_by_code"]
    assert set(default["shed_by_code"]) <= {"overloaded", "deadline_exceeded"}
    assert default["accepted"] + default["shed"] == default["sent"]
    assert deadline["accepted"] > 0
    assert set(deadline["shed_by_code"]) <= {"overloaded", "deadline_exceeded"}
    assert baseline["shed"] == 0
    assert baseline["accepted"] == baseline["sent"]
    assert all(
        run["recovery"]["probe_p50_after_0_5_s_ms"] for label, run in runs.items() if label != "no-shedding"
    )
    assert "| limit-128 |" in (tmp_path / "OVERLOAD.md").read_text()
