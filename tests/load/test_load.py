"""The load-testing tools: summary and knee arithmetic on recorded data, answer checks, the open-loop
generator against a stand-in server, and (slow) locust and ``python -m load`` against a real server.

Nothing here asserts a timing: a busy machine may make any request slow. locust is only ever run in a
subprocess (importing it here would monkey-patch this process with gevent).
"""

from __future__ import annotations

import asyncio
import csv
import json
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from load.__main__ import build_parser
from load.openloop import run_steps
from load.plots import plot_latency, plot_sweep, plot_throughput
from load.scenarios import MULTIPART_BOUNDARY, SCENARIOS, TAGS, check_answer, rows_in_name
from load.server import ServerProcess
from load.summary import (
    histogram_percentile,
    nearest_rank,
    parse_timespan,
    read_history,
    read_locust_json,
    summarise,
    throughput_series,
    verdict,
)
from load.sweep import find_knee, meets_slo, parse_rates, replica_assumed, replicas_needed
from tests.helpers import run_python

CLASSIFY_OK = {"model": "tabular-classifier:abc", "probabilities": [0.9], "labels": [1]}


# --- scenarios and answer checks -------------------------------------------------------------------


def test_every_scenario_names_its_rows_and_carries_a_valid_body() -> None:
    assert set(SCENARIOS) == {
        "classify-1", "classify-64", "digits-1", "digits-32", "digits-image", "v2-json", "v2-binary",
    }  # fmt: skip
    assert len({scenario.name for scenario in SCENARIOS.values()}) == len(
        SCENARIOS
    )  # one row each in the stats
    for scenario in SCENARIOS.values():
        assert rows_in_name(scenario.name) == scenario.rows
        assert scenario.tag in TAGS
        assert "mix" in scenario.tags
    rows = json.loads(SCENARIOS["classify-64"].body)["rows"]
    assert len(rows) == 64
    assert all(len(row) == 10 for row in rows)
    images = json.loads(SCENARIOS["digits-32"].body)["images"]
    assert len(images) == 32
    assert all(
        len(image) == 8 and all(len(line) == 8 and all(0 <= v <= 16 for v in line) for line in image)
        for image in images
    )
    upload = SCENARIOS["digits-image"]
    assert upload.content_type == f"multipart/form-data; boundary={MULTIPART_BOUNDARY}"
    assert b'name="image"' in upload.body
    assert b"\x89PNG" in upload.body
    assert upload.expected_labels == (7,)
    v2_json = json.loads(SCENARIOS["v2-json"].body)["inputs"][0]
    assert (v2_json["shape"], len(v2_json["data"])) == ([64, 10], 640)
    binary = SCENARIOS["v2-binary"]
    length = int(dict(binary.headers)["Inference-Header-Content-Length"])
    header = json.loads(binary.body[:length])
    assert header["inputs"][0]["parameters"]["binary_data_size"] == len(binary.body) - length == 64 * 10 * 4


def _v2_answer(binary: bool, labels: list[int], probabilities: list[float]) -> bytes:
    """A V2 answer as the service writes it, JSON or with binary outputs after the header."""
    if not binary:
        outputs = [
            {"name": "probabilities", "datatype": "FP32", "shape": [len(labels)], "data": probabilities},
            {"name": "labels", "datatype": "INT64", "shape": [len(labels)], "data": labels},
        ]
        return json.dumps(
            {"model_name": "tabular-classifier", "model_version": "v1", "outputs": outputs}
        ).encode()
    data = [struct.pack(f"<{len(probabilities)}f", *probabilities), struct.pack(f"<{len(labels)}q", *labels)]
    outputs = [
        {
            "name": name,
            "datatype": kind,
            "shape": [len(labels)],
            "parameters": {"binary_data_size": len(part)},
        }
        for (name, kind), part in zip((("probabilities", "FP32"), ("labels", "INT64")), data, strict=True)
    ]
    header = json.dumps({"model_name": "tabular-classifier", "model_version": "v1", "outputs": outputs})
    return header.encode() + b"".join(data)


@pytest.mark.parametrize("tag", ["v2-json", "v2-binary"])
def test_v2_answers_are_checked(tag: str) -> None:
    scenario = SCENARIOS[tag]
    binary = tag == "v2-binary"
    right = _v2_answer(binary, [1, 0] * 32, [0.75, 0.25] * 32)
    assert check_answer(200, right, scenario) is None
    assert "labels for 64 rows" in (check_answer(200, _v2_answer(binary, [1], [0.75]), scenario) or "")
    assert "not a probability" in (
        check_answer(200, _v2_answer(binary, [1] * 64, [1.5] * 64), scenario) or ""
    )
    assert "cannot be read" in (check_answer(200, b"not json", scenario) or "")


def test_rows_in_name() -> None:
    assert rows_in_name("/classify [64 rows]") == 64
    assert rows_in_name("/digits/image [1 row]") == 1
    assert rows_in_name("Aggregated") is None
    assert rows_in_name("/classify") is None


def _answer(payload: object) -> bytes:
    return json.dumps(payload).encode()


def test_check_answer_accepts_right_answers() -> None:
    assert check_answer(200, _answer(CLASSIFY_OK), SCENARIOS["classify-1"]) is None
    digits = {"model": "digits-cnn:v1", "probabilities": [[0.1] * 10], "labels": [7]}
    assert check_answer(200, _answer(digits), SCENARIOS["digits-1"]) is None
    assert check_answer(200, _answer(digits), SCENARIOS["digits-image"]) is None


@pytest.mark.parametrize(
    ("status", "payload", "scenario", "complaint"),
    [
        (503, {"error": "overloaded"}, "classify-1", "HTTP 503"),
        (200, [1, 2], "classify-1", "not a JSON object"),
        (200, {**CLASSIFY_OK, "model": 3}, "classify-1", "model is 3"),
        (200, {**CLASSIFY_OK, "model": "digits-cnn:v1"}, "classify-1", "model is"),
        (200, {**CLASSIFY_OK, "labels": [1, 0]}, "classify-1", "for 1 rows sent"),
        (200, {**CLASSIFY_OK, "labels": [2]}, "classify-1", "labels[0]"),
        (200, {**CLASSIFY_OK, "labels": [True]}, "classify-1", "labels[0]"),
        (200, {**CLASSIFY_OK, "probabilities": [1.5]}, "classify-1", "not a probability"),
        (200, {**CLASSIFY_OK, "probabilities": None}, "classify-1", "must be lists"),
        (200, CLASSIFY_OK, "classify-64", "for 64 rows sent"),
        (
            200,
            {"model": "digits-cnn:v1", "probabilities": [[0.1] * 9], "labels": [7]},
            "digits-1",
            "wrong shape",
        ),
        (200, {"model": "digits-cnn:v1", "probabilities": [[0.1] * 10], "labels": [10]}, "digits-1", "0..9"),
        (
            200,
            {"model": "digits-cnn:v1", "probabilities": [[0.1] * 10], "labels": [3]},
            "digits-image",
            "expected [7]",
        ),
    ],
)
def test_check_answer_names_what_is_wrong(
    status: int, payload: object, scenario: str, complaint: str
) -> None:
    wrong = check_answer(status, _answer(payload), SCENARIOS[scenario])
    assert wrong is not None
    assert complaint in wrong


def test_check_answer_refuses_what_is_not_json() -> None:
    assert check_answer(200, b"<html>", SCENARIOS["classify-1"]) == "the answer is not JSON"


# --- the summary of a locust run ------------------------------------------------------------------


def test_parse_timespan() -> None:
    assert [parse_timespan(t) for t in ("90", "30s", "5m", "1h30m", "2m5s")] == [90, 30, 300, 5400, 125]
    for bad in ("", "abc", "5x", "1.5s"):
        with pytest.raises(ValueError, match="time span"):
            parse_timespan(bad)


def test_histogram_percentile_follows_locust() -> None:
    histogram = {10: 50, 20: 45, 100: 4, 500: 1}  # 100 requests, response times in ms
    assert histogram_percentile(histogram, 0.50) == 20
    assert histogram_percentile(histogram, 0.95) == 100
    assert histogram_percentile(histogram, 0.99) == 500
    assert histogram_percentile({7: 3}, 0.99) == 7
    assert histogram_percentile({}, 0.5) is None


def test_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert nearest_rank(values, 0.50) == 50.0
    assert nearest_rank(values, 0.99) == 99.0
    assert nearest_rank(values, 1.0) == 100.0
    assert nearest_rank([3.0], 0.99) == 3.0
    assert nearest_rank([], 0.5) is None


def _entry(
    name: str, requests: int, failures: int, histogram: dict[int, int], start: float, last: float
) -> dict[str, Any]:
    """One entry as locust's --json-file writes it."""
    return {
        "name": name, "method": "POST", "last_request_timestamp": last, "start_time": start,
        "num_requests": requests, "num_none_requests": 0, "num_failures": failures,
        "total_response_time": sum(ms * n for ms, n in histogram.items()), "max_response_time": max(histogram),
        "min_response_time": min(histogram), "total_content_length": 0,
        "response_times": {str(ms): n for ms, n in histogram.items()}, "num_reqs_per_sec": {}, "num_fail_per_sec": {},
    }  # fmt: skip


@pytest.fixture
def locust_json(tmp_path: Path) -> Path:
    path = tmp_path / "locust.json"
    entries = [
        _entry("/classify [64 rows]", 100, 10, {10: 90, 200: 10}, start=1000.0, last=1009.0),
        _entry("/digits [1 row]", 50, 0, {5: 50}, start=1000.5, last=1010.0),
    ]
    path.write_text(json.dumps(entries))
    return path


def test_summary_counts_requests_rows_and_percentiles(locust_json: Path) -> None:
    summary = summarise(read_locust_json(locust_json))
    assert summary["duration_s"] == 10.0
    classify = summary["scenarios"]["/classify [64 rows]"]
    assert classify["rows_per_request"] == 64
    assert classify["req_per_s"] == 10.0
    assert classify["rows_per_s"] == 64 * 90 / 10  # rows of the successful requests only
    assert classify["failure_ratio"] == 0.1
    assert (classify["p50_ms"], classify["p95_ms"], classify["p99_ms"]) == (10, 200, 200)
    digits = summary["scenarios"]["/digits [1 row]"]
    assert (digits["req_per_s"], digits["rows_per_s"], digits["p99_ms"]) == (5.0, 5.0, 5)
    total = summary["total"]
    assert (total["requests"], total["failures"]) == (150, 10)
    assert total["failure_ratio"] == pytest.approx(10 / 150)
    assert total["req_per_s"] == 15.0
    assert total["rows_per_s"] == 576.0 + 5.0
    # merged histogram {5: 50, 10: 90, 200: 10}: 140 of 150 at or under 10 ms
    assert (total["p50_ms"], total["p95_ms"], total["p99_ms"]) == (10, 200, 200)
    assert total["max_ms"] == 200


def test_verdict_against_thresholds(locust_json: Path) -> None:
    summary = summarise(read_locust_json(locust_json))
    assert verdict(summary, max_failure_ratio=0.1, max_p99_ms=200) == []
    assert verdict(summary, max_failure_ratio=0.1, max_p99_ms=None) == []
    broken = verdict(summary, max_failure_ratio=0.0, max_p99_ms=100)
    assert len(broken) == 2
    assert "failure ratio" in broken[0]
    assert "p99 200 ms" in broken[1]
    assert verdict(summarise([]), max_failure_ratio=1.0, max_p99_ms=None) == ["no request completed"]


HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)


def _history_row(
    t: int, users: int, name: str, requests: int, failures: int, p50: str, p95: str, p99: str
) -> list[object]:
    return [
        t,
        users,
        "" if name == "Aggregated" else "POST",
        name,
        0,
        0,
        p50,
        0,
        0,
        0,
        0,
        p95,
        0,
        p99,
        0,
        0,
        0,
        requests,
        failures,
        0,
        0,
        0,
        0,
        0,
    ]


@pytest.fixture
def history_csv(tmp_path: Path) -> Path:
    """Three seconds of a run with two scenarios, as locust's --csv-full-history writes it (the first
    second twice, as happens when two writes land in one second)."""
    rows = [
        _history_row(100, 0, "Aggregated", 0, 0, "N/A", "N/A", "N/A"),
        _history_row(100, 4, "Aggregated", 0, 0, "N/A", "N/A", "N/A"),
        _history_row(101, 4, "/classify [64 rows]", 10, 0, "9", "12", "15"),
        _history_row(101, 4, "/digits [1 row]", 20, 0, "4", "6", "8"),
        _history_row(101, 4, "Aggregated", 30, 0, "0", "0", "0"),  # 0: locust's window had no data yet
        _history_row(103, 4, "/classify [64 rows]", 30, 2, "9", "13", "16"),
        _history_row(103, 4, "/digits [1 row]", 60, 0, "4", "6", "8"),
        _history_row(103, 4, "Aggregated", 90, 2, "5", "12", "15"),
    ]
    path = tmp_path / "locust_stats_history.csv"
    with path.open("w", newline="") as handle:
        handle.write(HISTORY_HEADER + "\n")
        csv.writer(handle).writerows(rows)
    return path


def test_history_gives_throughput_and_latency_over_time(history_csv: Path, tmp_path: Path) -> None:
    points = read_history(history_csv)
    assert len(points) == 7  # the duplicated second kept once
    totals = [p for p in points if p.name == "Aggregated"]
    assert [p.users for p in totals] == [4, 4, 4]
    assert [(p.p50_ms, p.p99_ms) for p in totals] == [(None, None), (None, None), (5, 15)]
    series = throughput_series(points)
    # 100 -> 101: 30 requests, 10x64 + 20 rows; 101 -> 103: 60 requests in 2 s, (18x64 + 40) rows in 2 s
    assert series == [(1, 30.0, 660.0), (3, 30.0, (18 * 64 + 40) / 2)]
    plot_throughput(points, tmp_path / "throughput.png", "test")
    plot_latency(points, tmp_path / "latency.png", "test")
    assert (tmp_path / "throughput.png").stat().st_size > 0
    assert (tmp_path / "latency.png").stat().st_size > 0


# --- the sweep ----------------------------------------------------------------------------------


def _step(rate: float, p99: float | None, failure_ratio: float = 0.0) -> dict[str, Any]:
    return {
        "offered_rps": rate,
        "p50_ms": p99,
        "p95_ms": p99,
        "p99_ms": p99,
        "failure_ratio": failure_ratio,
        "achieved_rps": rate,
    }


def test_knee_is_the_highest_rate_below_the_first_miss() -> None:
    steps = [_step(400, 150.0), _step(100, 20.0), _step(800, 900.0), _step(200, 99.0)]  # any order
    knee = find_knee(steps, slo_p99_ms=100, max_failure_ratio=0.0)
    assert knee["knee_rps"] == 200
    assert knee["highest_passing_rps"] == 200
    assert not knee["all_pass"]
    assert not knee["none_pass"]
    assert knee["passing"] == {"100": True, "200": True, "400": False, "800": False}
    assert replicas_needed(1000, knee["knee_rps"]) == 5


def test_knee_when_no_step_meets_the_slo() -> None:
    knee = find_knee([_step(100, 150.0), _step(200, 300.0)], slo_p99_ms=100, max_failure_ratio=0.0)
    assert knee["knee_rps"] is None
    assert knee["highest_passing_rps"] is None
    assert knee["none_pass"]
    assert replicas_needed(1000, knee["knee_rps"]) is None
    assert find_knee([], 100, 0.0)["knee_rps"] is None


def test_knee_when_every_step_meets_the_slo() -> None:
    knee = find_knee(
        [_step(100, 5.0), _step(1600, 80.0), _step(800, 40.0)], slo_p99_ms=100, max_failure_ratio=0.0
    )
    assert knee["knee_rps"] == 1600
    assert knee["all_pass"]
    assert replicas_needed(1000, 1600) == 1


def test_knee_ignores_a_pass_above_a_miss_and_counts_failures() -> None:
    knee = find_knee(
        [_step(100, 10.0), _step(200, 250.0), _step(400, 50.0)], slo_p99_ms=100, max_failure_ratio=0.0
    )
    assert knee["knee_rps"] == 100
    assert knee["highest_passing_rps"] == 400
    assert not meets_slo(_step(100, 10.0, failure_ratio=0.01), 100, 0.0)
    assert meets_slo(_step(100, 10.0, failure_ratio=0.01), 100, 0.05)
    assert not meets_slo(_step(100, None), 100, 1.0)


def test_the_replica_estimate_says_what_one_replica_is() -> None:
    env = {"SERVING_WORKERS": "2", "SERVING_TORCH_THREADS": "1"}
    started = replica_assumed(True, env, "0-1")
    assert "SERVING_WORKERS=2" in started
    assert "CPU(s) 0-1" in started
    assert "not known" in replica_assumed(False, env, "0")


def test_replicas_needed_rounds_up() -> None:
    assert [replicas_needed(1000, knee) for knee in (800.0, 1000.0, 333.0, 5000.0)] == [2, 1, 4, 1]
    assert replicas_needed(1000, 0.0) is None


def test_sweep_plot(tmp_path: Path) -> None:
    plot_sweep([_step(100, 10.0), _step(200, 150.0)], 100, 100.0, tmp_path / "sweep.png", "test")
    assert (tmp_path / "sweep.png").stat().st_size > 0


def test_command_line_checks_its_options() -> None:
    parser = build_parser()
    run = parser.parse_args(["run"])
    assert (run.users, run.run_time, run.tags, run.max_failure_ratio, run.max_p99_ms) == (
        32,
        "30s",
        None,
        0.0,
        None,
    )
    sweep = parser.parse_args(["sweep", "--rates", "400,100", "--slo-p99-ms", "50"])
    assert (sweep.rates, sweep.slo_p99_ms, sweep.scenario) == ([100.0, 400.0], 50.0, "classify-1")
    assert parse_rates("100, 200") == [100.0, 200.0]
    for bad in (
        ["run", "--tags", "nope"],
        ["run", "--run-time", "0s"],
        ["sweep", "--rates", "0,100"],
        ["run", "--users", "0"],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


# --- the open-loop generator against a stand-in server ------------------------------------------------


@contextmanager
def stand_in_server(answer: bytes, delay_s: float = 0.0) -> Iterator[str]:
    """A threaded HTTP server on loopback: 200 on GET /readyz, ``answer`` to every POST after ``delay_s``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._reply(b"{}")

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(delay_s)
            self._reply(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        daemon_threads = True
        block_on_close = False

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # clients that gave up

    server = Quiet(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _sweep(
    url: str,
    rates: list[float],
    seconds: float,
    drain_s: float,
    stop: Callable[[list[dict[str, Any]]], bool] | None = None,
) -> list[dict[str, Any]]:
    return asyncio.run(run_steps(url, SCENARIOS["classify-1"], rates, seconds, drain_s, stop_after=stop))


def test_open_loop_sends_rate_times_seconds_and_checks_answers() -> None:
    with stand_in_server(_answer(CLASSIFY_OK)) as url:
        steps = _sweep(url, [20.0, 40.0], seconds=0.5, drain_s=5.0)
    assert [(s["offered_rps"], s["sent"], s["ok"], s["failures"]) for s in steps] == [
        (20.0, 10, 10, 0),
        (40.0, 20, 20, 0),
    ]
    assert all(s["p50_ms"] is not None and s["p50_ms"] <= s["p99_ms"] <= s["max_ms"] for s in steps)
    with stand_in_server(_answer({**CLASSIFY_OK, "labels": [5]})) as url:
        (wrong,) = _sweep(url, [20.0], seconds=0.5, drain_s=5.0)
    assert wrong["failures"] == wrong["sent"] == 10
    assert wrong["failure_ratio"] == 1.0
    assert any("labels[0]" in error for error in wrong["errors"])


def test_open_loop_gives_up_on_answers_after_the_drain_time_and_can_stop_early() -> None:
    with stand_in_server(_answer(CLASSIFY_OK), delay_s=3.0) as url:
        steps = _sweep(url, [10.0, 20.0, 40.0], seconds=0.3, drain_s=0.2, stop=lambda done: len(done) == 2)
    assert len(steps) == 2  # stopped early
    assert all(s["failures"] == s["sent"] and s["ok"] == 0 for s in steps)
    assert all(any("no answer" in error for error in s["errors"]) for s in steps)


# --- against servers, through subprocesses ---------------------------------------------------------


REPORT_FILES = {
    "locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv",
    "locust.json", "locust.log", "report.html", "summary.json", "throughput.png", "latency.png",
}  # fmt: skip


def _only_folder(root: Path) -> Path:
    (folder,) = list(root.iterdir())
    return folder


@pytest.mark.slow
def test_locustfile_runs_every_scenario_without_failures(server: ServerProcess, tmp_path: Path) -> None:
    done = run_python(
        "-m", "locust", "-f", "load/locustfile.py", "--headless", "--users", "8", "--spawn-rate", "8",
        "--run-time", "5s", "--host", server.url, "--csv", str(tmp_path / "l"), "--json-file", str(tmp_path / "l"),
        "--only-summary", timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = summarise(read_locust_json(tmp_path / "l.json"))
    assert set(summary["scenarios"]) == {scenario.name for scenario in SCENARIOS.values()}
    for name, figures in summary["scenarios"].items():
        assert figures["requests"] > 0, name
        assert figures["failures"] == 0, name


@pytest.mark.slow
def test_load_run_writes_every_report(server: ServerProcess, tmp_path: Path) -> None:
    done = run_python(
        "-m", "load", "run", "--host", server.url, "--run-time", "5s", "--users", "8", "--reports-dir", str(tmp_path),
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    folder = _only_folder(tmp_path)
    assert {path.name for path in folder.iterdir()} >= REPORT_FILES
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["passed"]
    assert summary["total"]["failures"] == 0
    assert summary["total"]["rows_per_s"] > 0
    assert len(summary["scenarios"]) == len(SCENARIOS)
    assert "PASS" in done.stdout


@pytest.mark.slow
def test_load_run_counts_wrong_answers_as_failures_and_exits_1(tmp_path: Path) -> None:
    with stand_in_server(_answer({**CLASSIFY_OK, "labels": [5]})) as url:
        done = run_python(
            "-m", "load", "run", "--host", url, "--run-time", "2s", "--users", "2", "--tags", "classify-1",
            "--reports-dir", str(tmp_path), timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((_only_folder(tmp_path) / "summary.json").read_text())
    assert summary["total"]["requests"] > 0
    assert summary["total"]["failures"] == summary["total"]["requests"]
    assert not summary["passed"]
    assert "failure ratio" in summary["broken"][0]


@pytest.mark.slow
def test_sweep_writes_its_json_and_plot(server: ServerProcess, tmp_path: Path) -> None:
    done = run_python(
        "-m", "load", "sweep", "--host", server.url, "--rates", "20,40", "--step-seconds", "2", "--warmup-seconds",
        "0.5", "--all-steps", "--slo-p99-ms", "100", "--reports-dir", str(tmp_path), timeout=180,
    )  # fmt: skip
    assert done.returncode in (0, 1), (
        done.stdout[-3000:] + done.stderr[-3000:]
    )  # 1: the SLO missed (busy machine)
    folder = _only_folder(tmp_path)
    assert (folder / "sweep.png").stat().st_size > 0
    result = json.loads((folder / "sweep.json").read_text())
    assert [(s["offered_rps"], s["sent"], s["failures"]) for s in result["steps"]] == [
        (20.0, 40, 0),
        (40.0, 80, 0),
    ]
    assert {"knee_rps", "highest_passing_rps", "replicas_needed", "passing"} <= set(result)
    assert "--host" in result["replica_assumed"]  # the sweep measured a server it did not start
