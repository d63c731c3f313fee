"""The benchmark's arithmetic on recorded figures, and its --quick run end to end (no timing asserted)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.compare import summarise
from bench.compare_report import targets
from tests.helpers import run_python


def run(rps: float, lone_p50: float, lone_p99: float, rows: float, **extra: object) -> dict[str, object]:
    return {
        "c64": {"rps": rps, "p50_ms": 30.0, "p99_ms": 60.0, "non_2xx": 0, "errors": 0},
        "lone": {"p50_ms": lone_p50, "p99_ms": lone_p99},
        "cpu_ms_per_request_c64": 1000 / rps,
        "rows_per_s_256": rows,
        "cpu_ms_per_request_256": 2.0,
        **extra,
    }


def test_summary_takes_medians_over_rounds() -> None:
    summary = summarise({"ours": [run(1000, 1, 2, 5e5), run(3000, 3, 4, 7e5), run(2000, 2, 3, 6e5)]})
    assert summary["ours"]["rps_c64"] == 2000
    assert summary["ours"]["lone_p50_ms"] == 2
    assert summary["ours"]["rows_per_s_256"] == 6e5
    assert "floor_rps_c64" not in summary["ours"]  # not measured, not invented


def test_targets_compare_the_right_pairs() -> None:
    ours = run(1800, 0.8, 2.0, 4e5, lone_after_1024={"p50_ms": 1.0})
    summary = summarise(
        {"ours": [ours], "stock-bentoml": [run(300, 3.0, 20.0, 1e5)], "litserve": [run(900, 1.5, 5, 2e5)]}
    )
    by_name = {
        what: (value, met) for what, value, _, met in targets(summary, {"inprocess_rows_per_s_256_rows": 6e5})
    }
    assert by_name["one-row req/s at 64 connections, ours / stock BentoML"] == (pytest.approx(6.0), True)
    assert by_name["one-row req/s at 64, ours / LitServe"][1] is True
    assert by_name["one-row req/s at 64, ours / TorchServe"] == (None, None)  # not measured: no verdict
    assert by_name["lone p99 / lone p50, ours"] == (pytest.approx(2.5), True)
    assert by_name["rows/s, 256-row bodies: ours / in-process decode+forward+encode"][1] is True
    assert by_name["lone p50 after a 1024-row request / before, ours"] == (pytest.approx(1.25), True)
    slow = summarise({"ours": [run(100, 5.0, 50.0, 1e4)], "stock-bentoml": [run(300, 3.0, 20.0, 1e5)]})
    verdicts = {what: met for what, _, _, met in targets(slow, {"inprocess_rows_per_s_256_rows": 6e5})}
    assert verdicts["one-row req/s at 64 connections, ours / stock BentoML"] is False
    assert verdicts["lone p50, ours / stock BentoML"] is False


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk; .ci/run does)"
)
def test_quick_benchmark_writes_every_report_file(trained_store: Path, tmp_path: Path) -> None:
    done = run_python("-m", "bench", "compare", "--quick", "--out-dir", str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (tmp_path / "BENCHMARK.md").read_text()
    data = json.loads((tmp_path / "bench.json").read_text())
    for label in ("ours", "stock-bentoml", "starlette"):
        assert label in data["summary"], label
        assert f"| {label} |" in report
    assert data["summary"]["ours"]["non_2xx_c64"] == 0
    assert "forward_rows_per_s_batch_1" in data["ceilings"]
