"""Which tags the deployment ran, so that `make rollback` knows where to go back to.

A JSON list of {"tag", "at"} in deploy/.rollout/<project>.json (ignored by git). A completed rollout
appends its tag (after the tag every replica ran before, when the history was empty); a completed
rollback removes the last entry. A rollback goes to the last entry when some replica does not run it
(a rollout that stopped half-way), else to the entry before it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.rollout.rolling import Replica, RolloutError

Entry = dict[str, str]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class History:
    path: Path

    def entries(self) -> list[Entry]:
        if not self.path.exists():
            return []
        try:
            entries = json.loads(self.path.read_text())
            return [{"tag": str(entry["tag"]), "at": str(entry["at"])} for entry in entries]
        except (ValueError, TypeError, KeyError) as error:
            raise RolloutError(f"{self.path} is not a rollout history ({error}); move it away") from error

    def save(self, entries: list[Entry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(entries, indent=1) + "\n")
        temporary.replace(self.path)

    def starting(self, before: list[Replica]) -> None:
        """Before a rollout: with no history yet, the tag every replica runs is its first entry, so
        that a rollout stopped half-way (or a canary) can be rolled back."""
        tags_before = {replica.tag for replica in before}
        if not self.entries() and len(tags_before) == 1:
            self.save([{"tag": tags_before.pop(), "at": "before the first recorded rollout"}])

    def rolled_out(self, tag: str, before: list[Replica]) -> None:
        """Record a completed rollout to ``tag`` from the replicas ``before`` it."""
        self.starting(before)
        entries = self.entries()
        if not entries or entries[-1]["tag"] != tag:
            entries.append({"tag": tag, "at": _now()})
        self.save(entries)

    def rollback_target(self, running: list[Replica]) -> str:
        """The tag a rollback goes to."""
        entries = self.entries()
        if entries and any(replica.tag != entries[-1]["tag"] for replica in running):
            return entries[-1]["tag"]  # a rollout stopped half-way: back to where it started
        if len(entries) < 2:
            raise RolloutError(
                f"no earlier tag is recorded in {self.path}: roll out the one you want (make rollout TAG=...)"
            )
        return entries[-2]["tag"]

    def rolled_back(self, tag: str) -> None:
        """Record a completed rollback to ``tag``: the entries after its last one go."""
        entries = self.entries()
        tags = [entry["tag"] for entry in entries]
        if tag in tags:
            last = len(tags) - 1 - tags[::-1].index(tag)
            self.save(entries[: last + 1])
