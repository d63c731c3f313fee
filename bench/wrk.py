"""wrk, the load generator of every benchmark here: a C client on its own core never becomes the
bottleneck and keeps its own CPU out of the server's."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace

from bench.servers import SetupError
from load.server import CLIENT_CPUS, ServerProcess, pinned


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int  # socket errors: connect, read, write, timeout
    # wrk's own CPU time (user + system) over the run; None where not measured. A server that shares
    # wrk's core loses this much CPU to it (see bench/compare_summary.py).
    client_cpu_s: float | None = None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def require_wrk() -> None:
    """SetupError unless wrk is on the PATH."""
    if shutil.which("wrk") is None:
        raise SetupError("wrk is not installed: apt-get install wrk")


@dataclass(frozen=True)
class RawBody:
    """A body sent as these exact bytes with these headers (the V2 binary extension, say)."""

    payload: bytes
    headers: tuple[tuple[str, str], ...]


def _lua_string(data: bytes) -> str:
    """``data`` as a Lua string literal: printable ASCII as is, every other byte as a \\ddd escape."""
    out = []
    for byte in data:
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '"\\' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _script(body: object) -> str:
    """A wrk Lua script that POSTs ``body`` (a RawBody as given, anything else as JSON; a plain GET when
    None); the caller deletes it."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if isinstance(body, RawBody):
            headers = "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in body.headers)
            script.write(f'wrk.method = "POST"\n{headers}wrk.body = {_lua_string(body.payload)}\n')
        elif body is not None:
            payload = json.dumps(json.dumps(body))  # a Lua string literal is close enough to JSON's
            script.write(
                f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {payload}\n'
            )
    return script.name


def wrk(url: str, body: object, connections: int, seconds: float, cpus: str = CLIENT_CPUS) -> WrkResult:
    """POST ``body`` to ``url`` with wrk (one thread, ``connections`` keep-alive connections): a RawBody
    as it is, anything else as JSON; a plain GET when ``body`` is None."""
    require_wrk()
    script = _script(body)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s"]
    before = _children_cpu()
    try:
        done = subprocess.run(
            pinned([*command, "-s", script, url], cpus),
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(script)
    return replace(parse(done.stdout, seconds), client_cpu_s=_children_cpu() - before)


def _children_cpu() -> float:
    """User + system CPU seconds of this process's children that have ended and been waited for: the
    difference around ``subprocess.run`` is wrk's own (taskset execs it in the same process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk_cpu(
    server: ServerProcess, url: str, body: object, connections: int, seconds: float
) -> tuple[WrkResult, float]:
    """``wrk`` against ``server``, and the CPU seconds its whole process tree spent meanwhile."""
    before = server.cpu_seconds()
    result = wrk(url, body, connections, seconds)
    return result, server.cpu_seconds() - before


def parse(out: str, seconds: float) -> WrkResult:
    """The figures of wrk's ``--latency`` report."""
    # wrk pads a figure in seconds with a trailing space ("1.18s "): allow it
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.MULTILINE))
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert total is not None, out
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )
