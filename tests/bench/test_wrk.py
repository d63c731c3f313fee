"""Reading wrk's --latency report, including figures in seconds, which wrk pads with a trailing space."""

from __future__ import annotations

import pytest

from bench.wrk import parse

# wrk writes a figure in seconds as "1.02s " (trailing space), which an editor would strip: "$" marks it.
REPORT = """Running 3s test @ http://127.0.0.1:43345/digits
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.05s   169.12ms   1.41s    76.47%
    Req/Sec    64.77     15.68    80.00     96.15%
  Latency Distribution
     50%    1.02s$
     75%  959.92ms
     90%    1.18s$
     99%    1.41s$
  170 requests in 3.00s, 10.92MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:     56.59
Transfer/sec:      3.63MB
""".replace("$", " ")


def test_parse_reads_percentiles_in_seconds_and_the_error_counts() -> None:
    result = parse(REPORT, 3.0)
    assert result.requests == 170
    assert result.rps == pytest.approx(56.59)
    assert result.p50_ms == pytest.approx(1020.0)
    assert result.p99_ms == pytest.approx(1410.0)
    assert result.non_2xx == 7
    assert result.errors == 3


def test_parse_reads_microseconds() -> None:
    text = REPORT.replace("     50%    1.02s \n", "     50%  812.00us\n")
    assert parse(text, 3.0).p50_ms == pytest.approx(0.812)
