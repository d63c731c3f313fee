"""The rollout's platform for docker compose: the `model` service's containers behind the `nginx`
service, driven through the docker CLI.

- A new replica: `TAG=<tag> docker compose up -d --no-deps --no-recreate --scale model=<n+1> model`.
  `--no-recreate` leaves the running replicas alone although their image differs from the new TAG;
  only the added container gets the new image.
- Health: the container's own healthcheck (docker-compose.yml: /readyz), as `docker inspect` reports it.
- The balancer: `docker compose exec -T nginx nginx -s reload`; nginx resolves `model` afresh, and
  Docker's DNS names only running containers.
- Stop and remove: `docker stop --time <stop_grace_period>` (SIGTERM: the service drains), `docker rm`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deploy.rollout.rolling import Health, Replica, RolloutError

SERVICE = "model"
BALANCER = "nginx"
DEFAULT_GRACE_S = 30
# Rendered in place of TAG to learn how the service's image names a tag ("bento-serving:${TAG:-latest}",
# or "bento-serving:${TAG:-latest}-gpu" with the GPU override).
PLACEHOLDER = "rollout-tag-placeholder"


def _seconds(duration: str | int | float | None) -> int:
    """compose's duration ("30s", "1m30s", or nanoseconds once rendered) in whole seconds."""
    if duration is None:
        return DEFAULT_GRACE_S
    if isinstance(duration, (int, float)):
        return max(1, round(duration / 1e9)) if duration > 10_000 else max(1, round(duration))
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    return (
        max(1, round(sum(float(number) * units[unit] for number, unit in parts)))
        if parts
        else DEFAULT_GRACE_S
    )


def _json_rows(output: str) -> list[dict[str, Any]]:
    """`compose ps --format json`: a JSON array (Compose < 2.21) or one object per line."""
    text = output.strip()
    if not text:
        return []
    if text.startswith("["):
        rows: list[dict[str, Any]] = json.loads(text)
        return rows
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class Compose:
    """``compose_args``: what goes between `docker compose` and its subcommand (-f, --env-file, -p)."""

    compose_args: Sequence[str] = ()
    command: Sequence[str] = field(
        default_factory=lambda: shlex.split(os.environ.get("COMPOSE", "docker compose"))
    )
    docker: str = "docker"
    grace_s: int | None = None  # None: the service's stop_grace_period
    _image: re.Pattern[str] | None = None  # the service's image with the tag as its group
    _rendered: dict[str, Any] | None = None  # the compose config (see _config)

    def _run(self, argv: Sequence[str], env: dict[str, str] | None = None) -> str:
        try:
            done = subprocess.run(
                list(argv), capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
            )
        except FileNotFoundError as error:
            raise RolloutError(f"{argv[0]} is not installed: {error}") from error
        except subprocess.CalledProcessError as error:
            raise RolloutError(
                f"`{shlex.join(argv)}` failed ({error.returncode}): {error.stderr.strip()}"
            ) from error
        return done.stdout

    def _compose(self, *argv: str, env: dict[str, str] | None = None) -> str:
        return self._run([*self.command, *self.compose_args, *argv], env)

    def _containers(self, every: bool) -> list[Replica]:
        rows = _json_rows(self._compose("ps", *(["--all"] if every else []), "--format", "json", SERVICE))
        return [
            Replica(id=str(row["ID"]), name=str(row["Name"]), tag=self._tag_of(str(row["Image"])))
            for row in rows
            if row.get("Service", SERVICE) == SERVICE
        ]

    def _config(self) -> dict[str, Any]:
        """`docker compose config`, rendered once, with TAG as a placeholder: the project's name, the
        service's stop_grace_period and its image template do not change while the rollout runs."""
        if self._rendered is None:
            self._rendered = json.loads(self._compose("config", "--format", "json", env={"TAG": PLACEHOLDER}))
        return self._rendered

    def _tag_of(self, image: str) -> str:
        """The TAG that renders to ``image``; the image itself when none does (it is then replaced)."""
        if self._image is None:
            template = str(self._config()["services"][SERVICE]["image"])
            if PLACEHOLDER not in template:
                raise RolloutError(f"the {SERVICE} service's image ({template}) does not use ${{TAG}}")
            before, _, after = template.partition(PLACEHOLDER)
            self._image = re.compile(re.escape(before) + "(.+)" + re.escape(after))
        found = self._image.fullmatch(image)
        return found.group(1) if found else image

    def project(self) -> str:
        """The compose project's name (the history file is per project)."""
        return str(self._config().get("name") or "default")

    def grace(self) -> int:
        """The service's stop_grace_period, in seconds, unless ``grace_s`` is set."""
        if self.grace_s is None:
            self.grace_s = _seconds(self._config()["services"][SERVICE].get("stop_grace_period"))
        return self.grace_s

    def running(self) -> list[Replica]:
        return self._containers(every=False)

    def start(self, tag: str) -> Replica:
        before = self._containers(every=True)
        if len(before) != len(self.running()):
            names = ", ".join(replica.name for replica in before)
            raise RolloutError(
                f"some {SERVICE} containers are not running ({names}): `docker compose rm` them first"
            )
        scale = f"{SERVICE}={len(before) + 1}"
        self._compose("up", "-d", "--no-deps", "--no-recreate", "--scale", scale, SERVICE, env={"TAG": tag})
        known = {replica.id for replica in before}
        added = [replica for replica in self._containers(every=True) if replica.id not in known]
        if len(added) != 1:
            raise RolloutError(f"expected one new {SERVICE} container, found {len(added)}: {added}")
        return added[0]

    def health(self, replica: Replica) -> Health:
        template = (
            "{{.State.Status}}|{{.State.ExitCode}}|{{.RestartCount}}|"
            "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
        )
        answer = self._run([self.docker, "inspect", "--format", template, replica.id]).strip()
        status, exit_code, restarts, health = answer.split("|")
        # restart: unless-stopped brings a crashing container back: one restart is a failure already.
        if status != "running" or restarts not in ("", "0"):
            detail = f"the container is {status} after {restarts} restarts (last exit code {exit_code})"
            return Health("failed", f"{detail}; see `docker logs {replica.name}`")
        if health == "unhealthy":
            return Health("failed", f"its healthcheck failed: {self._last_probe(replica)}")
        return Health("healthy" if health in ("healthy", "") else "starting")

    def _last_probe(self, replica: Replica) -> str:
        log = json.loads(
            self._run([self.docker, "inspect", "--format", "{{json .State.Health.Log}}", replica.id])
        )
        return str(log[-1].get("Output", "")).strip()[-300:] if log else "no probe output"

    def reload_balancer(self) -> None:
        self._compose("exec", "-T", BALANCER, "nginx", "-s", "reload")

    def stop(self, replica: Replica) -> None:
        self._run([self.docker, "stop", "--time", str(self.grace()), replica.id])

    def remove(self, replica: Replica) -> None:
        self._run([self.docker, "rm", replica.id])
