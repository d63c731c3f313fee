"""The rollout scenario (`python -m deploy.topology --scenario rollout`): the compose topology with
both replicas on tag "a", then, while open-loop traffic runs through nginx, deploy/rollout's rolling
replacement on the namespace platform (deploy/topology/rolling.py): a rollout to a tag whose replicas
cannot start (with --bad-store: refused), a canary (one replica to "b"), the rest of the rollout to
"b", and the rollback to "a".

A tag is a model store (an image bakes its models in): "a" serves the tabular version of --store,
"b" the newest of --new-store. Every request carries its own X-Request-ID; nginx's access log says
which replica answered it, the answer says which version computed it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploy.rollout.rolling import Event, Rollout, RolloutError, Timing, roll
from deploy.topology.observe import LogEntry, access_log, log
from deploy.topology.rolling import NamespacePlatform
from deploy.topology.scenario import Options, started
from deploy.topology.tracked import Tracked, send_load_during
from load.summary import nearest_rank


@dataclass(frozen=True)
class RolloutOptions:
    topology: Options  # its store is tag "a"
    new_store: Path  # tag "b"
    steady_s: float  # load before the rollout and after the rollback
    pause_s: float  # between the rollout and the rollback; the canary holds twice as long
    bad_store: Path | None = None  # a tag "bad" tried first, whose replica must be refused


@dataclass(frozen=True)
class Latency:
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def latency(answers: Iterable[Tracked]) -> Latency:
    values = [answer.latency_ms for answer in answers]
    return Latency(
        len(values), nearest_rank(values, 0.5), nearest_rank(values, 0.99), max(values, default=None)
    )


@dataclass(frozen=True)
class Served:
    """One replica (container) as the traffic saw it."""

    tag: str
    answers: int
    versions: dict[str, int]  # version named by its answers -> count
    first_s: float | None  # scheduled time of the first request it answered
    last_s: float | None


@dataclass(frozen=True)
class Switch:
    """One replacement: when the old replica answered last and the new one first."""

    old: str
    new: str
    new_healthy_at_s: float
    old_stopping_at_s: float
    old_removed_at_s: float
    old_last_answer_s: float | None
    new_first_answer_s: float | None


@dataclass(frozen=True)
class Phase:
    name: str  # canary, rollout, rollback
    rollout: Rollout
    started_at_s: float  # from the start of the load

    @property
    def ended_at_s(self) -> float:
        return round(self.started_at_s + self.rollout.took_s, 2)

    def to_json(self) -> dict[str, Any]:
        events = [
            {**asdict(event), "at_s": round(self.started_at_s + event.at_s, 2)}
            for event in self.rollout.events
        ]
        return {"started_at_s": self.started_at_s, "took_s": self.rollout.took_s, "events": events}


def _event_at(events: list[Event], step: str, replica: str, started_at_s: float) -> float:
    return round(started_at_s + next(e.at_s for e in events if e.step == step and e.replica == replica), 2)


def run_rollout(options: RolloutOptions, workdir: Path) -> dict[str, Any]:
    t0 = time.monotonic()
    with started(options.topology, workdir) as topology:
        stores = {"a": options.topology.store, "b": options.new_store}
        if options.bad_store is not None:
            stores["bad"] = options.bad_store
        platform = NamespacePlatform(
            topology.network, topology.nginx, topology.dns, list(topology.hosts), stores, workdir,
            options.topology.tools,
        )  # fmt: skip
        for replica in topology.replicas:
            platform.adopt(replica, "a")
        log_offset = topology.nginx.log_path.stat().st_size
        marks: dict[str, float] = {}
        refused: dict[str, Any] = {}
        timing = Timing(health_timeout_s=120)

        def forth_and_back(origin: float) -> list[Phase]:
            marks["start"] = round(time.monotonic() - origin, 2)
            if options.bad_store is not None:
                refused.update(refuse_bad(platform, timing))
                time.sleep(options.pause_s)
            phases = []
            for name, tag, limit, hold in (
                ("canary", "b", 1, 2 * options.pause_s),
                ("rollout", "b", None, options.pause_s),
                ("rollback", "a", None, 0),
            ):
                started_at = round(time.monotonic() - origin, 2)
                phases.append(
                    Phase(name, roll(platform, tag, timing=timing, say=log, limit=limit), started_at)
                )
                time.sleep(hold)
            marks["end"] = phases[-1].ended_at_s
            return phases

        rate = options.topology.rate
        answers, phases = send_load_during(
            topology.url, rate, forth_and_back, options.steady_s, options.steady_s
        )
        time.sleep(0.5)  # nginx writes its access log line after the answer
        entries = access_log(topology.nginx.log_path, log_offset)
        log(f"{len(answers)} requests, {sum(a.error is not None for a in answers)} failed")
        report = summarize(answers, entries, platform, phases, marks, stores)
        report["refused"] = refused or None
        report["elapsed_s"] = round(time.monotonic() - t0, 1)
        report["workdir"] = str(workdir)
        return report


def refuse_bad(platform: NamespacePlatform, timing: Timing) -> dict[str, Any]:
    """A rollout to tag "bad", which must stop at its first replica with the old ones serving."""
    before = [replica.name for replica in platform.running()]
    t0 = time.monotonic()
    try:
        roll(platform, "bad", timing=timing, say=log)
    except RolloutError as error:
        message = str(error)
    else:
        message = ""
    return {
        "error": message,
        "took_s": round(time.monotonic() - t0, 2),
        "running_before": before,
        "running_after": [replica.name for replica in platform.running()],
    }


def tag_versions(stores: dict[str, Path]) -> dict[str, str]:
    """The tabular version each tag's replicas serve (the newest in its store: the default policy)."""
    return {
        tag: (store / "models" / "tabular-classifier" / "latest").read_text().strip()
        for tag, store in stores.items()
    }


def summarize(
    answers: list[Tracked],
    entries: list[LogEntry],
    platform: NamespacePlatform,
    phases: list[Phase],
    marks: dict[str, float],
    stores: dict[str, Path],
) -> dict[str, Any]:
    by_rid = {entry.rid: entry for entry in entries}
    versions = tag_versions(stores)
    answered_by: dict[str, str] = {}  # rid -> replica name
    by_replica: dict[str, list[Tracked]] = {}  # replica name -> the right answers it gave
    for answer in answers:
        entry = by_rid.get(answer.rid)
        address = entry.final_address if entry is not None else None
        if address is not None:
            answered_by[answer.rid] = platform.ever.get(address, (address, "?"))[0]
            if answer.error is None:
                by_replica.setdefault(answered_by[answer.rid], []).append(answer)
    tag_of = dict(platform.ever.values())
    served: dict[str, Served] = {}
    for name, tag in tag_of.items():
        own = by_replica.get(name, [])
        counts = Counter(str(answer.version) for answer in own)
        times = [a.scheduled_s for a in own]
        served[name] = Served(tag, len(own), dict(counts), min(times, default=None), max(times, default=None))
    wrong_version = [
        {"rid": a.rid, "replica": answered_by[a.rid], "version": a.version}
        for a in answers
        if a.error is None and a.rid in answered_by and a.version != versions[tag_of[answered_by[a.rid]]]
    ]
    switches = []
    for phase in phases:
        rollout, started_at = phase.rollout, phase.started_at_s
        for old, new in rollout.replaced:
            switches.append(
                Switch(
                    old,
                    new,
                    _event_at(rollout.events, "healthy", new, started_at),
                    _event_at(rollout.events, "stopping", old, started_at),
                    _event_at(rollout.events, "removed", old, started_at),
                    served[old].last_s,
                    served[new].first_s,
                )
            )
    steady = [a for a in answers if a.scheduled_s < marks["start"] or a.scheduled_s >= marks["end"]]
    rolling = [a for a in answers if marks["start"] <= a.scheduled_s < marks["end"]]
    draining = [
        a
        for a in answers
        if any(s.old_stopping_at_s <= a.scheduled_s < s.old_removed_at_s + 1 for s in switches)
    ]
    failed = [a for a in answers if a.error is not None]
    retried = [entry for entry in entries if "," in entry.upstream]
    return {
        "tags": versions,
        "requests": len(answers),
        "failed": len(failed),
        "failures": [asdict(a) for a in failed[:10]],
        "not_in_access_log": sum(a.rid not in by_rid for a in answers),
        "client_resets": [
            {"rid": a.rid, "scheduled_s": a.scheduled_s, "error": a.reset} for a in answers if a.reset
        ],
        "balancer_reloads": sum(e.step == "balancer" for phase in phases for e in phase.rollout.events),
        "wrong_version": wrong_version[:10],
        "wrong_version_count": len(wrong_version),
        "retried": len(retried),
        "retried_examples": [asdict(entry) for entry in retried[:5]],
        **{phase.name: phase.to_json() for phase in phases},
        "canary_share": canary_share(answers, phases, versions["b"]),
        "ended_at_s": marks["end"],
        "replicas": {name: asdict(s) for name, s in served.items()},
        "switches": [asdict(s) for s in switches],
        "latency": {
            "steady": asdict(latency(steady)),
            "rolling": asdict(latency(rolling)),
            "draining": asdict(latency(draining)),
        },
        "versions_by_second": by_second(answers),
    }


def canary_share(answers: list[Tracked], phases: list[Phase], version: str) -> float | None:
    """The share of answers ``version`` computed while the canary held (one replica of two on it)."""
    canary, rollout = phases[0], phases[1]
    held = [
        a for a in answers if canary.ended_at_s <= a.scheduled_s < rollout.started_at_s and a.error is None
    ]
    return round(sum(a.version == version for a in held) / len(held), 3) if held else None


def by_second(answers: list[Tracked]) -> list[dict[str, Any]]:
    """Answers per second of the run, counted by the version that computed them."""
    seconds: dict[int, dict[str, int]] = {}
    for answer in answers:
        bucket = seconds.setdefault(int(answer.scheduled_s), {})
        key = answer.version if answer.error is None else "failed"
        bucket[str(key)] = bucket.get(str(key), 0) + 1
    return [{"s": second, **counts} for second, counts in sorted(seconds.items())]
