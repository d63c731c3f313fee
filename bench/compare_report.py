"""The side-by-side comparison's Markdown report (BENCHMARK.md): the tables, the ceilings, the targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.compare_configs import WORKLOADS, Config, Workload
from bench.compare_summary import Summary
from bench.compare_targets import ratio, targets
from bench.peers import PEERS
from load.server import CLIENT_CPUS, SERVER_CPUS

# Kept importable from here, where the report's readers and older callers looked for them.
__all__ = ["Summary", "ratio", "report", "targets"]


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


def _cnn_cell(config: Config, workload: Workload, row: dict[str, float]) -> str:
    """One CNN table row after the server and path columns."""
    peer = PEERS[config.peer]
    if workload.route != "v2" and peer.cnn_path(workload.route) is None:
        return f"| not served: {peer.not_served} | | | | | | |"
    key = workload.key
    if f"{key}_rps" not in row:
        return "| not measured | | | | | | |"
    errors = row.get(f"{key}_non_2xx", 0) + row.get(f"{key}_socket_errors", 0)
    return (
        f"| {workload.connections} | {_fmt(row.get(f'{key}_rps'), 0)} | {_fmt(row.get(f'{key}_images_per_s'), 0)} "
        f"| {_fmt(row.get(f'{key}_p50_ms'))} / {_fmt(row.get(f'{key}_p99_ms'))} "
        f"| {_fmt(row.get(f'{key}_lone_p50_ms'), 2)} / {_fmt(row.get(f'{key}_lone_p99_ms'), 2)} "
        f"| {_fmt(row.get(f'{key}_cpu_ms'), 2)} | {_fmt(errors, 0)} |"
    )


def _cnn_rows(summary: Summary, configs: Sequence[Config]) -> list[str]:
    lines = []
    for config in configs:
        for workload in WORKLOADS:
            if workload.route == "v2" and config.peer != "ours":
                continue  # the V2 protocol is ours alone
            cells = _cnn_cell(config, workload, summary.get(config.label, {}))
            lines.append(f"| {config.label} | {workload.title} {cells}")
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

    rps, cpu_ms = two.get("rps_c64"), two.get("cpu_ms_c64")
    server_cpu = None if rps is None or cpu_ms is None else rps * cpu_ms / 1000

    def times(row: dict[str, float], other: dict[str, float], name: str) -> str:
        return _fmt(ratio(row.get(name), other.get(name)), 2)

    return [
        f"Batching on / off, one-row req/s at 64: {times(batched, unbatched, 'rps_c64')}x; "
        f"rows/s with 256-row bodies: {times(batched, unbatched, 'rows_per_s_256')}x; "
        f"/digits with 1 image at 64: {times(batched, unbatched, 'digits1_rps')}x.",
        f"Workers 2 / 1 (both cores / one core), one-row req/s at 64: raw {times(two, batched, 'rps_c64')}x, "
        f"corrected for wrk's CPU {_fmt(ratio(two.get('rps_c64_corrected'), batched.get('rps_c64')), 2)}x "
        f"(wrk used {_fmt(two.get('wrk_cpu_per_s_c64'), 2)} CPU-s/s of the server's core {CLIENT_CPUS}; the "
        f"server {_fmt(server_cpu, 2)} CPU-s/s). wrk runs "
        f"on one of the two cores the server may use, so the server had 2 - w CPU-seconds per second (w: wrk's "
        f"own CPU time per second, from its rusage); the corrected rate is req/s x 2 / (2 - w), throughput taken "
        f"as proportional to the CPU the server gets.",
        f"Open Inference Protocol V2 on our server, 256-row bodies at 8 connections: binary tensors "
        f"{_fmt(batched.get('v2_binary_rows_per_s_256'), 0)} rows/s, JSON {_fmt(batched.get('v2_json_rows_per_s_256'), 0)} rows/s; "
        f"V2 binary / the JSON API: {_fmt(ratio(batched.get('v2_binary_rows_per_s_256'), batched.get('rows_per_s_256')), 2)}x, "
        f"V2 JSON / the JSON API: {_fmt(ratio(batched.get('v2_json_rows_per_s_256'), batched.get('rows_per_s_256')), 2)}x. "
        f"V2 binary with the digits CNN, 32 images as one [32,8,8] FP32 tensor: "
        f"{_fmt(batched.get('v2_digits32_images_per_s'), 0)} images/s; / /digits with the same 32 images as JSON: "
        f"{_fmt(ratio(batched.get('v2_digits32_images_per_s'), batched.get('digits32_images_per_s')), 2)}x.",
    ]


def report(
    summary: Summary, ceiling: dict[str, float], meta: dict[str, Any], configs: Sequence[Config]
) -> str:
    """BENCHMARK.md for the configurations ``configs`` (every one, measured or not)."""
    ours = summary.get("ours", {})
    lines = [
        "# Benchmark: this service beside stock BentoML, Starlette, LitServe and TorchServe",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}. `python -m bench compare`: every server "
        f"fresh, pinned to core {SERVER_CPUS}; wrk (1 thread) on core {CLIENT_CPUS}; {meta['seconds']:g} s per "
        f"tabular step, {meta.get('cnn_seconds', meta['seconds']):g} s per digits step, {meta['rounds']} rounds "
        f"in ABAB order, medians; our service on {meta.get('device', 'cpu')}. Same models (tabular-classifier, "
        f"digits-cnn), same JSON contract."
        + (f" The run took {meta['elapsed_s'] / 60:.1f} min." if "elapsed_s" in meta else ""),
        "",
        "## Tabular model",
        "",
        "| server | req/s, 1 row @64 conns | server CPU ms/req | p50 / p99 ms @64 | lone p50 / p99 ms | rows/s, 256-row bodies @8 | CPU ms per 256-row req | non-2xx @64 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *_server_rows(summary, [config.label for config in configs]),
        "",
        "## Digits CNN",
        "",
        "Real digits (`sklearn.datasets.load_digits().images`, float grey levels 0..16) as JSON; the upload is "
        "`load/data/digit-7.png` in the multipart field `image`. Lone latency is one connection; the load runs "
        "at the connections shown (64 for one image, 8 for 32 images and for uploads: enough to keep one core "
        "busy). Ours answers /digits with model, probabilities, labels, margins and unsure; the peers answer "
        "the simpler model, probabilities, labels. Every server turns an upload into the 8x8 grid with "
        "`models.preprocess.to_digit_grid` (ours through `service.images.decode_upload`, which ends in it), so "
        "each does the same work per picture.",
        "",
        "| server | path | conns | req/s | images/s | p50 / p99 ms loaded | lone p50 / p99 ms | server CPU ms/req | non-2xx |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *_cnn_rows(summary, configs),
        "",
        "Configurations:",
        "",
        *[f"- `{config.label}`: {config.describe()}" for config in configs],
        "",
        "Ceilings and floor (in-process, pinned to the server's core, 1 torch thread). Our codec's path is our "
        "parse + the exact per-value validation + forward + encode; the stdlib path is `json.loads` + "
        "`np.asarray(float32)` + forward + `json.dumps` of lists, what a plain hand-written server does. Our "
        "server against the same codec in-process cannot exceed 1.0 on one core (it does that same work plus "
        "HTTP on that core); against the stdlib path it can, by the codec's lead:",
        "",
        *[f"- {name.replace('_', ' ')}: {value:,.0f}" for name, value in ceiling.items()],
        f"- HTTP floor, `GET /livez` on our server at 64 connections: {_fmt(ours.get('floor_rps_c64'), 0)} req/s",
        "",
        "Targets (ratios from this run; `-`: not measured, or shown without a bound):",
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
