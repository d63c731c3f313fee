"""The side-by-side comparison's targets (ratios measured in one run) and its Markdown report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from load.server import CLIENT_CPUS, SERVER_CPUS

Summary = dict[str, dict[str, float]]  # configuration label -> figure name -> median over rounds
Target = tuple[str, float | None, str, bool | None]  # what, measured, target, met (None: not measured)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


Figure = tuple[str, str]  # (configuration label, figure name) in the summary
IN_PROCESS = "in-process"  # the in-process decode + forward + encode ceiling, as a pseudo-configuration
# (what, numerator, denominator, target text, bound, higher is better)
RATIO_TARGETS: list[tuple[str, Figure, Figure, str, float, bool]] = [
    (
        "one-row req/s at 64 connections, ours / stock BentoML",
        ("ours", "rps_c64"),
        ("stock-bentoml", "rps_c64"),
        ">= 1.5",
        1.5,
        True,
    ),
    ("one-row req/s at 64, ours / LitServe", ("ours", "rps_c64"), ("litserve", "rps_c64"), "> 1", 1.0, True),
    (
        "one-row req/s at 64, ours / TorchServe",
        ("ours", "rps_c64"),
        ("torchserve", "rps_c64"),
        "> 1",
        1.0,
        True,
    ),
    (
        "lone p50, ours / stock BentoML",
        ("ours", "lone_p50_ms"),
        ("stock-bentoml", "lone_p50_ms"),
        "<= 1.5",
        1.5,
        False,
    ),
    ("lone p99 / lone p50, ours", ("ours", "lone_p99_ms"), ("ours", "lone_p50_ms"), "<= 3", 3.0, False),
    (
        "rows/s, 256-row bodies: ours / in-process decode+forward+encode",
        ("ours", "rows_per_s_256"),
        (IN_PROCESS, "rows_per_s_256"),
        ">= 0.5",
        0.5,
        True,
    ),
    (
        "lone p50 after a 1024-row request / before, ours",
        ("ours", "lone_after_1024_p50_ms"),
        ("ours", "lone_p50_ms"),
        "<= 2",
        2.0,
        False,
    ),
]


def targets(summary: Summary, ceiling: dict[str, float]) -> list[Target]:
    """The benchmark's targets, each as a ratio measured in this run."""
    inprocess = next((v for k, v in ceiling.items() if k.startswith("inprocess_rows_per_s_")), None)
    figures = {**summary, IN_PROCESS: {} if inprocess is None else {"rows_per_s_256": inprocess}}
    out: list[Target] = []
    for what, (top, top_name), (bottom, bottom_name), text, bound, higher in RATIO_TARGETS:
        value = ratio(figures.get(top, {}).get(top_name), figures.get(bottom, {}).get(bottom_name))
        met = None if value is None else (value >= bound if higher else value <= bound)
        out.append((what, value, text, met))
    ours = summary.get("ours", {})
    errors = None if not ours else ours.get("non_2xx_c64", 0) + ours.get("socket_errors_c64", 0)
    what = "non-2xx answers or socket errors at 64 connections, ours"
    out.append((what, errors, "0", None if errors is None else errors == 0))
    return out


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _server_rows(summary: Summary, labels: Sequence[str]) -> list[str]:
    lines = []
    for label in labels:
        row = summary.get(label)
        if not row:
            lines.append(f"| {label} | not measured | | | | | | |")
            continue
        lines.append(
            f"| {label} | {_fmt(row.get('rps_c64'), 0)} | {_fmt(row.get('cpu_ms_c64'), 2)} "
            f"| {_fmt(row.get('p50_ms_c64'))} / {_fmt(row.get('p99_ms_c64'))} "
            f"| {_fmt(row.get('lone_p50_ms'), 2)} / {_fmt(row.get('lone_p99_ms'), 2)} "
            f"| {_fmt(row.get('rows_per_s_256'), 0)} | {_fmt(row.get('cpu_ms_256'), 2)} "
            f"| {_fmt(row.get('non_2xx_c64', 0) + row.get('socket_errors_c64', 0), 0)} |"
        )
    return lines


def _target_rows(summary: Summary, ceiling: dict[str, float]) -> list[str]:
    return [
        f"| {what} | {_fmt(value, 2)} | {text} | {'-' if met is None else ('yes' if met else 'no')} |"
        for what, value, text, met in targets(summary, ceiling)
    ]


def _ratios(summary: Summary) -> list[str]:
    batched, unbatched, two = (
        summary.get("ours", {}),
        summary.get("ours-unbatched", {}),
        summary.get("ours-2-workers", {}),
    )
    return [
        f"Batching on / off, one-row req/s at 64: {_fmt(ratio(batched.get('rps_c64'), unbatched.get('rps_c64')), 2)}x; "
        f"rows/s with 256-row bodies: {_fmt(ratio(batched.get('rows_per_s_256'), unbatched.get('rows_per_s_256')), 2)}x.",
        f"Workers 2 / 1 (both cores / one core), one-row req/s at 64: {_fmt(ratio(two.get('rps_c64'), batched.get('rps_c64')), 2)}x.",
        f"Open Inference Protocol V2 on our server, 256-row bodies at 8 connections: binary tensors "
        f"{_fmt(batched.get('v2_binary_rows_per_s_256'), 0)} rows/s, JSON {_fmt(batched.get('v2_json_rows_per_s_256'), 0)} rows/s; "
        f"V2 binary / the JSON API: {_fmt(ratio(batched.get('v2_binary_rows_per_s_256'), batched.get('rows_per_s_256')), 2)}x, "
        f"V2 JSON / the JSON API: {_fmt(ratio(batched.get('v2_json_rows_per_s_256'), batched.get('rows_per_s_256')), 2)}x.",
    ]


def report(
    summary: Summary, ceiling: dict[str, float], meta: dict[str, Any], configs: Sequence[tuple[str, str]]
) -> str:
    """BENCHMARK.md; ``configs`` holds each configuration's label and its one-line description."""
    lines = [
        "# Benchmark: this service beside stock BentoML, Starlette, LitServe and TorchServe",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}. `python -m bench compare`: every server "
        f"fresh, pinned to core {SERVER_CPUS}; wrk (1 thread) on core {CLIENT_CPUS}; {meta['seconds']:g} s per step, "
        f"{meta['rounds']} rounds in ABAB order, medians. Same model (tabular-classifier), same JSON contract.",
        "",
        "| server | req/s, 1 row @64 conns | server CPU ms/req | p50 / p99 ms @64 | lone p50 / p99 ms | rows/s, 256-row bodies @8 | CPU ms per 256-row req | non-2xx @64 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *_server_rows(summary, [label for label, _ in configs]),
        "",
        "Configurations:",
        "",
        *[f"- `{label}`: {what}" for label, what in configs],
        "",
        "Ceilings and floor (in-process, pinned to the server's core, 1 torch thread; the in-process path is"
        " our parse + the exact per-value validation + forward + encode):",
        "",
        *[f"- {name.replace('_', ' ')}: {value:,.0f}" for name, value in ceiling.items()],
        f"- HTTP floor, `GET /livez` on our server at 64 connections: "
        f"{_fmt(summary.get('ours', {}).get('floor_rps_c64'), 0)} req/s",
        "",
        "Targets (ratios from this run):",
        "",
        "| target | measured | wanted | met |",
        "| --- | --- | --- | --- |",
        *_target_rows(summary, ceiling),
        "",
        *_ratios(summary),
        "",
        "Where the time goes and what was changed: [PROFILE.md](PROFILE.md).",
        "",
    ]
    return "\n".join(lines)
