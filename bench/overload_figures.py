"""The overload benchmark's figures from recorded outcomes, its checks, and its Markdown report."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from load.openloop import Outcome
from load.summary import nearest_rank

RECOVERED_AFTER_S = 0.5  # probes sent this long after the load stopped give the recovered latency
LAG_LIMIT_MS = 20.0  # a send later than this behind its schedule means the generator did not keep up


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def overload_figures(outcomes: list[Outcome], rate: float, seconds: float) -> dict[str, Any]:
    """What a step did, split by answer: accepted (a right 200), shed (503 by error code), the rest."""
    accepted = [o for o in outcomes if o.status == 200 and o.error is None]
    shed = [o for o in outcomes if o.status == 503]
    other = Counter(
        "no answer" if o.status is None else f"HTTP {o.status}"
        for o in outcomes
        if o.status not in (200, 503)
    )
    start = min((o.scheduled for o in outcomes), default=0.0)
    last_answer = max((o.finished for o in outcomes), default=start + seconds)
    accepted_ms = [o.latency_ms for o in accepted]
    halves = [
        [o.latency_ms for o in accepted if (o.scheduled < start + seconds / 2) == first]
        for first in (True, False)
    ]
    return {
        "offered_rps": round(rate, 1),
        "seconds": seconds,
        "sent": len(outcomes),
        "accepted": len(accepted),
        # over the whole time the server was busy with the step: sends, then the answers still due
        "accepted_rps": round(len(accepted) / max(seconds, last_answer - start), 1),
        "shed": len(shed),
        "shed_by_code": dict(Counter(str(o.code) for o in shed)),
        "shed_without_retry_after": sum(o.retry_after is None for o in shed),
        "other_answers": dict(other),
        "wrong_answers": sum(o.status == 200 and o.error is not None for o in outcomes),
        "accepted_p50_ms": _ms(nearest_rank(accepted_ms, 0.50)),
        "accepted_p99_ms": _ms(nearest_rank(accepted_ms, 0.99)),
        "accepted_max_ms": _ms(max(accepted_ms, default=None)),
        # bounded means the second half of the overload is no worse than the first
        "accepted_p99_first_half_ms": _ms(nearest_rank(halves[0], 0.99)),
        "accepted_p99_second_half_ms": _ms(nearest_rank(halves[1], 0.99)),
        "shed_p99_ms": _ms(nearest_rank([o.latency_ms for o in shed], 0.99)),
        "cleared_ms": _ms((last_answer - (start + seconds)) * 1000),
        "send_lag_p99_ms": _ms(nearest_rank([o.lag_ms for o in outcomes if o.lag_ms is not None], 0.99)),
    }


def recovery_figures(probes: list[tuple[float, int, float]], lone_p50: float) -> dict[str, Any]:
    """How soon after the load stopped a lone request was answered again, and at what speed."""
    answered = [(sent, ms) for sent, status, ms in probes if status == 200]
    later = [ms for sent, ms in answered if sent >= RECOVERED_AFTER_S]
    first_200 = answered[0] if answered else None
    return {
        "first_probe_status": probes[0][1],
        "first_200_answered_after_ms": _ms((first_200[0] * 1000 + first_200[1]) if first_200 else None),
        "first_200_ms": first_200[1] if first_200 else None,
        "probe_p50_after_0_5_s_ms": _ms(statistics.median(later)) if later else None,
        "probe_p50_vs_lone": round(statistics.median(later) / lone_p50, 2) if later else None,
        "probes": len(probes),
    }


def checks(runs: dict[str, Any]) -> dict[str, Any]:
    """Totals over every configuration of what must never happen, and where the generator fell behind."""
    steps = [run["step"] for run in runs.values()]
    return {
        "shed_without_retry_after": sum(s["shed_without_retry_after"] for s in steps),
        "wrong_answers": sum(s["wrong_answers"] for s in steps),
        "other_answers": sum(sum(s["other_answers"].values()) for s in steps),
        "generator_fell_behind_in": [
            label for label, run in runs.items() if (run["step"]["send_lag_p99_ms"] or 0) >= LAG_LIMIT_MS
        ],
    }


def failed_checks(totals: dict[str, Any]) -> list[str]:
    """The checks that failed (the generator falling behind is reported, not failed: it is the client's)."""
    names = ("shed_without_retry_after", "wrong_answers", "other_answers")
    return [f"{name.replace('_', ' ')}: {totals[name]}" for name in names if totals[name]]


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _config_row(label: str, run: dict[str, Any]) -> str:
    step, rec = run["step"], run["recovery"]
    shed = ", ".join(f"{code} {count:,}" for code, count in step["shed_by_code"].items()) or "0"
    other = ", ".join(f"{what} {count:,}" for what, count in step["other_answers"].items()) or "none"
    return (
        f"| {label} | {_fmt(run['lone_p50_ms'])} | {step['sent']:,} | {step['accepted']:,} "
        f"({_fmt(step['accepted_rps'])}) | {shed} | {other} | {_fmt(step['accepted_p50_ms'])} / "
        f"{_fmt(step['accepted_p99_ms'])} / {_fmt(step['accepted_max_ms'])} | "
        f"{_fmt(step['accepted_p99_first_half_ms'])} / {_fmt(step['accepted_p99_second_half_ms'])} "
        f"| {_fmt(step['cleared_ms'])} | {_fmt(rec['first_200_answered_after_ms'])} | "
        f"{_fmt(rec['probe_p50_after_0_5_s_ms'])} | {_fmt(step['send_lag_p99_ms'])} |"
    )


def _closing(result: dict[str, Any]) -> list[str]:
    totals = result["checks"]
    lines = [
        "",
        "Checks over every configuration: "
        f"503s without Retry-After {totals['shed_without_retry_after']}, wrong 200 answers "
        f"{totals['wrong_answers']}, answers other than 200 and 503 {totals['other_answers']}. "
        f"Generator behind its schedule (send lag p99 {LAG_LIMIT_MS:g} ms or more) in: "
        f"{', '.join(totals['generator_fell_behind_in']) or 'none'}.",
    ]
    ratio = result.get("accepted_p99_no_shedding_vs_default")
    if ratio is not None:
        lines.append(f"Accepted p99 without shedding / with the default limit: {_fmt(ratio)}x.")
    cost = result.get("refusal_cost")
    if cost:
        lines += [
            "",
            f"What a refusal costs (one-row requests, wrk at 64 connections): {cost['cpu_ms_per_refusal']:.3f} ms "
            f"of server CPU per 503 against {cost['cpu_ms_per_answer']:.3f} ms per answered request "
            f"({cost['refusal_vs_answer']:.2f}x). For requests this small the HTTP stack is the cost, so a "
            "worker cannot refuse 3x its capacity on the same core: overload of tiny requests has to be "
            "turned away in front of it (nginx `limit_conn`/`limit_req`, more replicas).",
        ]
    return lines


def report(result: dict[str, Any], notes: dict[str, str]) -> str:
    """OVERLOAD.md; ``notes`` describes each configuration by its label."""
    meta, sat, runs = result["meta"], result["saturation"], result["configs"]
    lines = [
        "# Overload: 4x the saturating load, with and without shedding",
        "",
        f"{meta['date']}, commit {meta['commit']}, {meta['machine']}. `python -m bench overload"
        f"{' --quick' if meta['quick'] else ''}`: one worker pinned to core 0, generator on core 1. "
        f"Request: {meta['images']} digit images as JSON to /digits.",
        "",
        f"Saturation (wrk, 64 closed-loop connections, defaults): {_fmt(sat['rps'])} req/s, "
        f"p50 / p99 {_fmt(sat['p50_ms'])} / {_fmt(sat['p99_ms'])} ms, {_fmt(sat['cpu_ms_per_request'])} ms "
        f"server CPU per request. Offered open-loop: {meta['factor']:g}x = {_fmt(meta['rate'])} req/s "
        f"for {meta['seconds']:g} s.",
        "",
        "| configuration | lone p50 ms | sent | accepted (req/s) | shed 503 | other answers | accepted p50 / p99 / max ms "
        "| accepted p99, first / second half of the step ms | last answer, ms after the load stopped | first lone 200, ms after the load stopped "
        "| lone p50 from 0.5 s after, ms | generator send lag p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *[_config_row(label, run) for label, run in runs.items()],
        "",
        "Configurations:",
        "",
        *[f"- `{label}`: {note}" for label, note in notes.items() if label in runs],
        *_closing(result),
    ]
    return "\n".join(lines) + "\n"
