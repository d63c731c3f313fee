"""The benchmark's arithmetic on recorded figures, its report, the CUDA refusal, and its --quick run end to
end (no timing asserted)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench import peers
from bench.compare import failed_checks
from bench.compare_configs import CONFIGS, WORKLOADS
from bench.compare_report import report
from bench.compare_summary import corrected_rps, failures_in, summarise
from bench.compare_targets import targets
from tests.helpers import run_python

CEILING = {
    "inprocess_rows_per_s_256_rows": 6e5,
    "inprocess_stdlib_rows_per_s_256_rows": 3e5,
    "inprocess_digits_images_per_s_32_images": 30_000.0,
}


def step(rps: float, non_2xx: int = 0, errors: int = 0, **extra: object) -> dict[str, object]:
    """A wrk result as bench.json records it."""
    return {"rps": rps, "p50_ms": 30.0, "p99_ms": 60.0, "non_2xx": non_2xx, "errors": errors, **extra}


def cnn(rps: float, images: int, non_2xx: int = 0) -> dict[str, object]:
    return {
        "lone": {**step(rps / 10), "p50_ms": 2.0, "p99_ms": 4.0},
        "load": step(rps, non_2xx),
        "images_per_s": rps * images,
        "cpu_ms_per_request": 1000 / rps,
    }


def run(rps: float, lone_p50: float, lone_p99: float, rows: float, **extra: object) -> dict[str, Any]:
    return {
        "c64": step(rps),
        "lone": {"p50_ms": lone_p50, "p99_ms": lone_p99},
        "cpu_ms_per_request_c64": 1000 / rps,
        "rows_per_s_256": rows,
        "cpu_ms_per_request_256": 2.0,
        **extra,
    }


def digits_run(scale: float, **extra: object) -> dict[str, Any]:
    """A run that measured every CNN workload, at ``scale`` times a base rate."""
    workloads = {w.key: cnn(100 * scale * (2 if w.key == "digits1" else 1), w.images) for w in WORKLOADS}
    return run(1000 * scale, 1.0, 2.0, 1e5 * scale, cnn=workloads, **extra)


def expect(found: tuple[float | None, bool | None], value: float, met: bool | None) -> None:
    """A target's measured ratio is ``value`` and its verdict ``met``."""
    assert found[0] == pytest.approx(value)
    assert found[1] is met


def test_summary_takes_medians_over_rounds() -> None:
    summary = summarise({"ours": [run(1000, 1, 2, 5e5), run(3000, 3, 4, 7e5), run(2000, 2, 3, 6e5)]})
    assert summary["ours"]["rps_c64"] == 2000
    assert summary["ours"]["lone_p50_ms"] == 2
    assert summary["ours"]["rows_per_s_256"] == 6e5
    assert "floor_rps_c64" not in summary["ours"]  # not measured, not invented
    assert "digits1_rps" not in summary["ours"]


def test_summary_reads_every_cnn_workload() -> None:
    summary = summarise({"ours": [digits_run(1.0), digits_run(3.0), digits_run(2.0)]})["ours"]
    assert summary["digits1_rps"] == 400
    assert summary["digits32_rps"] == 200
    assert summary["digits32_images_per_s"] == 200 * 32
    assert summary["upload_lone_p50_ms"] == 2.0
    assert summary["v2_digits32_cpu_ms"] == pytest.approx(1000 / 200)
    assert summary["upload_non_2xx"] == 0


def test_wrk_cpu_is_taken_from_the_server_only_when_they_share_a_core() -> None:
    shared = run(6000, 1, 2, 1e5, server_cpus="0,1", client_cpus="1")
    shared["c64"] = step(6000, client_cpu_s=4.0, seconds=8.0)  # wrk used half a core
    alone = run(3000, 1, 2, 1e5, server_cpus="0", client_cpus="1")
    alone["c64"] = step(3000, client_cpu_s=2.0, seconds=8.0)
    summary = summarise({"ours-2-workers": [shared], "ours": [alone], "old": [run(3000, 1, 2, 1e5)]})
    assert summary["ours-2-workers"]["wrk_cpu_per_s_c64"] == pytest.approx(0.5)
    # the server had 2 - 0.5 = 1.5 cores: 6000 req/s on 1.5 cores is 8000 on two
    assert summary["ours-2-workers"]["rps_c64_corrected"] == pytest.approx(8000)
    assert "rps_c64_corrected" not in summary["ours"]  # its core was its own
    assert "wrk_cpu_per_s_c64" not in summary["old"]  # not recorded, not invented
    assert corrected_rps(1000, 2, 0.0) == 1000
    by_name = {what: (value, met) for what, value, _, met in targets(summary, CEILING)}
    expect(by_name["one-row req/s at 64, ours-2-workers (corrected for wrk's CPU) / ours"], 8000 / 3000, True)
    raw = by_name["one-row req/s at 64, ours-2-workers (raw) / ours"]
    expect(raw, 2.0, None)  # shown, no bound, no verdict


def test_targets_compare_the_right_pairs() -> None:
    ours = run(1800, 0.8, 2.0, 4e5, lone_after_1024={"p50_ms": 1.0})
    summary = summarise(
        {
            "ours": [ours],
            "stock-bentoml": [run(300, 3.0, 20.0, 1e5)],
            "litserve": [run(900, 1.5, 5, 2e5)],
            "starlette": [run(2000, 0.5, 1.0, 3e5)],
        }
    )
    by_name = {what: (value, met) for what, value, _, met in targets(summary, CEILING)}
    expect(by_name["one-row req/s at 64 connections, ours / stock BentoML"], 6.0, True)
    assert by_name["one-row req/s at 64, ours / LitServe"][1] is True
    assert by_name["one-row req/s at 64, ours / TorchServe"] == (None, None)  # not measured: no verdict
    expect(by_name["one-row req/s at 64, ours / Starlette"], 0.9, True)
    expect(by_name["lone p50, ours / Starlette"], 1.6, False)
    expect(by_name["lone p99 / lone p50, ours"], 2.5, True)
    stdlib = "rows/s, 256-row bodies: ours / in-process, stdlib json + forward + json.dumps"
    expect(by_name[stdlib], 4e5 / 3e5, True)
    codec = "rows/s, 256-row bodies: ours / in-process, our codec decode + forward + encode"
    expect(by_name[codec], 4e5 / 6e5, True)
    expect(by_name["lone p50 after a 1024-row request / before, ours"], 1.25, True)
    slow = summarise({"ours": [run(100, 5.0, 50.0, 1e4)], "stock-bentoml": [run(300, 3.0, 20.0, 1e5)]})
    verdicts = {what: met for what, _, _, met in targets(slow, CEILING)}
    assert verdicts["one-row req/s at 64 connections, ours / stock BentoML"] is False
    assert verdicts["lone p50, ours / stock BentoML"] is False
    assert verdicts[stdlib] is False


def test_cnn_targets_compare_ours_with_stock_bentoml_and_the_in_process_path() -> None:
    summary = summarise({"ours": [digits_run(4.0)], "stock-bentoml": [digits_run(1.0)]})
    by_name = {what: (value, met) for what, value, _, met in targets(summary, CEILING)}
    for workload in WORKLOADS:
        if workload.route != "v2":
            title = f"{workload.title} req/s @{workload.connections}, ours / stock BentoML"
            expect(by_name[title], 4.0, True)
    # ours: 400 req/s x 32 images = 12,800 images/s against 30,000 in-process: under 1/1.5
    share = by_name["/digits, 32 images: ours images/s / in-process, our codec (32 images)"]
    expect(share, 12_800 / 30_000, False)
    assert by_name["non-2xx answers or socket errors on the digits paths under load, ours"] == (0, True)
    failing = digits_run(4.0)
    failing["cnn"]["upload"]["load"]["non_2xx"] = 3
    errors = {what: value for what, value, _, _ in targets(summarise({"ours": [failing]}), {})}
    assert errors["non-2xx answers or socket errors on the digits paths under load, ours"] == 3
    assert errors["/digits, 32 images: ours images/s / in-process, our codec (32 images)"] is None


def test_failed_checks_count_every_step_of_ours_and_only_ours() -> None:
    bad = digits_run(1.0)
    bad["cnn"]["digits32"]["lone"]["errors"] = 2
    bad["v2_binary256"] = {**step(100, non_2xx=1), "rows_per_s": 25600.0}
    assert failures_in(bad) == 3
    runs = {"ours": [bad], "starlette": [bad]}
    assert failed_checks(runs, summarise(runs), CEILING, quick=True) == [
        "ours: 3 non-2xx answers or socket errors"
    ]


def test_report_says_which_paths_a_peer_does_not_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    no_upload = dataclasses.replace(peers.PEERS["litserve"], upload_path=None, not_served="no uploads here")
    monkeypatch.setitem(peers.PEERS, "litserve", no_upload)
    summary = summarise({"ours": [digits_run(2.0)], "litserve": [digits_run(1.0)]})
    meta = {"date": "today", "commit": "abc", "machine": "test", "seconds": 8.0, "rounds": 2}
    text = report(summary, CEILING, meta, CONFIGS)
    assert "| litserve | /digits/image, one PNG (multipart) | not served: no uploads here |" in text
    assert "| torchserve | /digits, 1 image (JSON) | not measured |" in text
    assert "| ours | V2 binary, digits-cnn [32,8,8] FP32 | 8 |" in text
    assert "| litserve | V2 binary" not in text  # ours alone speaks V2
    assert "cannot exceed 1.0 on one core" in text


def test_cuda_is_refused_without_a_gpu(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the refusal cannot be seen")
    done = run_python("-m", "bench", "compare", "--quick", "--device", "cuda", "--out-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr  # one line
    assert "cuda" in done.stderr
    assert not list(tmp_path.iterdir())  # refused before measuring anything


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk; .ci/run does)"
)
def test_quick_benchmark_writes_every_report_file(trained_store: Path, tmp_path: Path) -> None:
    done = run_python("-m", "bench", "compare", "--quick", "--out-dir", str(tmp_path), timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report_text = (tmp_path / "BENCHMARK.md").read_text()
    data = json.loads((tmp_path / "bench.json").read_text())
    for label in ("ours", "stock-bentoml", "starlette"):
        assert label in data["summary"], label
        assert f"| {label} |" in report_text
    assert data["summary"]["ours"]["non_2xx_c64"] == 0
    ours_run = data["runs"]["ours"][0]
    for workload in WORKLOADS:  # every digits path measured on ours, every answer a 2xx
        measured = ours_run["cnn"][workload.key]
        assert measured["load"]["requests"] > 0, workload.key
        assert measured["load"]["non_2xx"] + measured["lone"]["non_2xx"] == 0, workload.key
        assert data["summary"]["ours"][f"{workload.key}_images_per_s"] > 0
    assert set(data["runs"]["starlette"][0]["cnn"]) == {"digits1", "digits32", "upload"}
    assert failures_in(ours_run) == 0
    for name in ("forward_rows_per_s_batch_1", "cnn_forward_images_per_s_batch_256"):
        assert name in data["ceilings"]
    assert "inprocess_upload_requests_per_s_png" in data["ceilings"]
