"""The rolling replacement, whatever runs the replicas: one replica at a time, start one of the new
tag, wait until it is healthy, let the load balancer see it, stop an old one (SIGTERM: it drains its
in-flight requests while the balancer retries new ones elsewhere), remove it, and let the balancer
forget it. The pool never has fewer healthy replicas than it started with.

A new replica that fails or does not become healthy in time is stopped and removed (the balancer
never had it: it is reloaded only once a new replica is healthy), and the rollout stops with RolloutError: every replica not yet replaced keeps serving.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

HealthState = Literal["starting", "healthy", "failed"]


class RolloutError(Exception):
    """The rollout stopped; the message says why and what serves now."""


@dataclass(frozen=True)
class Replica:
    id: str  # the platform's handle (a container id)
    name: str  # what people see (bento-serving-model-3)
    tag: str  # the image tag it runs


@dataclass(frozen=True)
class Health:
    state: HealthState
    detail: str = ""


class Platform(Protocol):
    """What runs the replicas: compose (deploy/rollout/compose.py) or the network-namespace
    topology (deploy/topology/rolling.py)."""

    def running(self) -> list[Replica]:
        """The replicas running now, oldest first."""
        ...

    def start(self, tag: str) -> Replica:
        """One more replica of ``tag``, started but not waited for."""
        ...

    def health(self, replica: Replica) -> Health: ...

    def reload_balancer(self) -> None:
        """The load balancer re-resolves the replicas (nginx -s reload)."""
        ...

    def stop(self, replica: Replica) -> None:
        """SIGTERM, then wait for the exit (the platform's grace period, then SIGKILL)."""
        ...

    def remove(self, replica: Replica) -> None: ...


@dataclass(frozen=True)
class Event:
    at_s: float  # from the start of the rollout
    step: str  # started, healthy, balancer, stopping, stopped, removed, failed
    replica: str  # a replica's name, or "" for the balancer
    tag: str


@dataclass
class Rollout:
    tag: str
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (old name, new name)
    events: list[Event] = field(default_factory=list)
    took_s: float = 0.0


@dataclass(frozen=True)
class Timing:
    health_timeout_s: float = 180.0  # compose's start_period (60 s) plus margin for a slow load
    poll_s: float = 1.0
    # `nginx -s reload` returns once it has signalled the master; its new workers start a moment later.
    settle_s: float = 1.0


Say = Callable[[str], None]


class _Recorder:
    def __init__(self, rollout: Rollout, say: Say, clock: Callable[[], float]) -> None:
        self.rollout, self.say, self.clock, self.t0 = rollout, say, clock, clock()

    def __call__(self, step: str, replica: Replica | None, message: str) -> None:
        at = round(self.clock() - self.t0, 2)
        name, tag = (replica.name, replica.tag) if replica else ("", self.rollout.tag)
        self.rollout.events.append(Event(at, step, name, tag))
        self.say(f"[{at:7.1f} s] {message}")


def roll(
    platform: Platform,
    tag: str,
    *,
    timing: Timing | None = None,
    say: Say = print,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    limit: int | None = None,
) -> Rollout:
    """Replace every running replica whose tag is not ``tag`` with one that is, one at a time; with
    ``limit``, at most that many (a canary: the rest keep their tag until the next rollout)."""
    timing = timing or Timing()
    current = platform.running()
    if not current:
        raise RolloutError("no replica is running: start the deployment first (docker compose up -d)")
    rollout = Rollout(tag)
    record = _Recorder(rollout, say, clock)
    stale = [replica for replica in current if replica.tag != tag]
    if not stale:
        say(f"every replica ({len(current)}) already runs {tag}: nothing to do")
        return rollout
    stale = stale[:limit] if limit is not None else stale
    say(f"rolling {len(stale)} of {len(current)} replicas to {tag}, one at a time")
    for index, old in enumerate(stale, 1):
        new = platform.start(tag)
        record("started", new, f"{index}/{len(stale)}: started {new.name} ({tag}) to replace {old.name}")
        _wait_healthy(platform, new, timing, record, sleep, clock, done=index - 1, of=len(stale))
        record("healthy", new, f"{new.name} is healthy")
        platform.reload_balancer()
        record("balancer", None, "load balancer reloaded: it sends to the new replica")
        sleep(timing.settle_s)
        record("stopping", old, f"stopping {old.name} ({old.tag}): it drains its requests in flight")
        platform.stop(old)
        record("stopped", old, f"{old.name} exited")
        platform.remove(old)
        record("removed", old, f"{old.name} removed")
        platform.reload_balancer()
        record("balancer", None, "load balancer reloaded: it has forgotten the old replica")
        rollout.replaced.append((old.name, new.name))
    rollout.took_s = round(clock() - record.t0, 2)
    on_tag = sum(replica.tag == tag for replica in platform.running())
    say(f"done in {rollout.took_s:.1f} s: {on_tag} of {len(current)} replicas run {tag}")
    return rollout


def _wait_healthy(
    platform: Platform,
    new: Replica,
    timing: Timing,
    record: _Recorder,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    *,
    done: int,
    of: int,
) -> None:
    """Until ``new`` is healthy; else (or on Ctrl-C) it goes and RolloutError says what serves now."""
    deadline = clock() + timing.health_timeout_s
    try:
        while True:
            health = platform.health(new)
            if health.state == "healthy":
                return
            if health.state == "failed" or clock() > deadline:
                break
            sleep(timing.poll_s)
        reason = (
            health.detail if health.state == "failed" else f"not healthy after {timing.health_timeout_s:g} s"
        )
    except KeyboardInterrupt:
        reason = "interrupted while it was starting"
    record("failed", new, f"{new.name}: {reason}; removing it")
    platform.stop(new)  # never in the balancer's pool: it is reloaded only after "healthy"
    platform.remove(new)
    serving = f"{done} of {of} replicas run {new.tag}, the others their old tag"
    raise RolloutError(f"{new.name} ({new.tag}) did not become healthy: {reason}. It was removed; {serving}.")
