"""The comparison's targets, each a ratio of two figures measured in the same run.

A figure is a (configuration label, figure name) pair of the summary; the in-process ceilings join as the
pseudo-configuration ``in-process``. A target whose figures were not both measured has no value and no
verdict; one with no bound is shown for reference and has no verdict either.
"""

from __future__ import annotations

from bench.compare_configs import WORKLOADS
from bench.compare_summary import Summary

Target = tuple[str, float | None, str, bool | None]  # what, measured, target, met (None: no verdict)
Figure = tuple[str, str]  # (configuration label, figure name) in the summary
IN_PROCESS = "in-process"  # the in-process decode + forward + encode ceilings, as a pseudo-configuration
# The in-process figures, by name under IN_PROCESS, and the ceiling each is read from.
IN_PROCESS_FIGURES = {
    "rows_per_s_256": "inprocess_rows_per_s_256_rows",
    "stdlib_rows_per_s_256": "inprocess_stdlib_rows_per_s_256_rows",
    "digits32_images_per_s": "inprocess_digits_images_per_s_32_images",
}
CNN_SPEEDUP = 3.0  # each digits path: ours / stock BentoML, req/s
CNN_INPROCESS_SHARE = 1 / 1.5  # ours' images/s at 32 images >= the in-process path's / 1.5
# (what, numerator, denominator, target text, bound (None: shown only), higher is better)
RatioTarget = tuple[str, Figure, Figure, str, float | None, bool]


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _cnn_targets() -> list[RatioTarget]:
    return [
        (
            f"{workload.title} req/s @{workload.connections}, ours / stock BentoML",
            ("ours", f"{workload.key}_rps"),
            ("stock-bentoml", f"{workload.key}_rps"),
            f">= {CNN_SPEEDUP:g}",
            CNN_SPEEDUP,
            True,
        )
        for workload in WORKLOADS
        if workload.route != "v2"
    ]


RATIO_TARGETS: list[RatioTarget] = [
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
        "one-row req/s at 64, ours / Starlette",
        ("ours", "rps_c64"),
        ("starlette", "rps_c64"),
        ">= 0.8",
        0.8,
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
    (
        "lone p50, ours / Starlette",
        ("ours", "lone_p50_ms"),
        ("starlette", "lone_p50_ms"),
        "<= 1.5",
        1.5,
        False,
    ),
    ("lone p99 / lone p50, ours", ("ours", "lone_p99_ms"), ("ours", "lone_p50_ms"), "<= 3", 3.0, False),
    (
        "rows/s, 256-row bodies: ours / in-process, stdlib json + forward + json.dumps",
        ("ours", "rows_per_s_256"),
        (IN_PROCESS, "stdlib_rows_per_s_256"),
        ">= 1.2",
        1.2,
        True,
    ),
    (
        "rows/s, 256-row bodies: ours / in-process, our codec decode + forward + encode",
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
    *_cnn_targets(),
    (
        "/digits, 32 images: ours images/s / in-process, our codec (32 images)",
        ("ours", "digits32_images_per_s"),
        (IN_PROCESS, "digits32_images_per_s"),
        f">= 1/1.5 ({CNN_INPROCESS_SHARE:.2f})",
        CNN_INPROCESS_SHARE,
        True,
    ),
    (
        "one-row req/s at 64, ours-2-workers (corrected for wrk's CPU) / ours",
        ("ours-2-workers", "rps_c64_corrected"),
        ("ours", "rps_c64"),
        ">= 1.8",
        1.8,
        True,
    ),
    (
        "one-row req/s at 64, ours-2-workers (raw) / ours",
        ("ours-2-workers", "rps_c64"),
        ("ours", "rps_c64"),
        "shown (no bound)",
        None,
        True,
    ),
]


def in_process(ceiling: dict[str, float]) -> dict[str, float]:
    """The in-process ceilings under the figure names the targets use."""
    return {name: ceiling[key] for name, key in IN_PROCESS_FIGURES.items() if key in ceiling}


def _errors(row: dict[str, float], names: list[str]) -> float | None:
    """The sum of the error counts ``names`` in ``row``; None when none of them was measured."""
    present = [row[name] for name in names if name in row]
    return sum(present) if present else None


def targets(summary: Summary, ceiling: dict[str, float]) -> list[Target]:
    """The benchmark's targets, each as a ratio measured in this run, then our error counts."""
    figures = {**summary, IN_PROCESS: in_process(ceiling)}
    out: list[Target] = []
    for what, (top, top_name), (bottom, bottom_name), text, bound, higher in RATIO_TARGETS:
        value = ratio(figures.get(top, {}).get(top_name), figures.get(bottom, {}).get(bottom_name))
        met = None if value is None or bound is None else (value >= bound if higher else value <= bound)
        out.append((what, value, text, met))
    ours = summary.get("ours", {})
    loaded = _errors(ours, ["non_2xx_c64", "socket_errors_c64"])
    cnn = _errors(ours, [f"{w.key}_{kind}" for w in WORKLOADS for kind in ("non_2xx", "socket_errors")])
    for what, errors in (
        ("non-2xx answers or socket errors at 64 connections, ours", loaded),
        ("non-2xx answers or socket errors on the digits paths under load, ours", cnn),
    ):
        out.append((what, errors, "0", None if errors is None else errors == 0))
    return out
