"""The rollout's platform in the network-namespace topology: what deploy/rollout/compose.py does with
docker compose, done here the way compose and Docker would do it.

- A new replica: a new namespace and address on the bridge, named `model` in the DNS at once (Docker's
  DNS names a container from its start), running `bentoml serve` with the models of the tag's store
  (an image bakes its models in: a tag here is a model store).
- Health: compose's healthcheck command, run in the replica's namespace.
- The balancer: `nginx -s reload` run in nginx's namespaces as nginx's user, as
  `docker compose exec -T nginx nginx -s reload` does.
- Stop: SIGTERM, up to compose's stop_grace_period (30 s) to exit; its name leaves the DNS once it has
  stopped. Remove: its namespace, interface and address go.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.rollout.rolling import Health, Replica
from deploy.topology.containers import NGINX_UID, compose_service, healthcheck, publish_hosts, start_replica
from deploy.topology.netns import Container, Hosts, Network, as_user
from load.server import ServerProcess

STOP_GRACE_S = 30  # compose's stop_grace_period for the model service
FIRST_HOST, LAST_HOST = 11, 19  # replicas' addresses: SUBNET.11 to SUBNET.19


@dataclass
class NamespacePlatform:
    network: Network
    nginx: Container
    dns: ServerProcess
    hosts: Hosts  # the hosts file as it is now; replicas come and go
    stores: dict[str, Path]  # image tag -> the model store its image would hold
    workdir: Path
    tools: Path
    replicas: dict[str, tuple[Container, str]] = field(default_factory=dict)  # name -> (container, tag)
    created: int = 0  # replicas made so far (names model-1, model-2, ...)
    ever: dict[str, tuple[str, str]] = field(default_factory=dict)  # address -> (name, tag), removed too
    _service: dict[str, Any] = field(default_factory=dict)

    def adopt(self, container: Container, tag: str) -> None:
        """A replica started before the rollout (the topology's own model-1, model-2)."""
        self.replicas[container.name] = (container, tag)
        self.ever[container.address] = (container.name, tag)
        self.created = max(self.created, int(container.name.rsplit("-", 1)[1]))

    def _replica(self, name: str) -> Replica:
        container, tag = self.replicas[name]
        return Replica(id=container.name, name=container.name, tag=tag)

    def running(self) -> list[Replica]:
        return [
            self._replica(name)
            for name, (container, _) in self.replicas.items()
            if container.server is not None and container.server.process.poll() is None
        ]

    def start(self, tag: str) -> Replica:
        self.created += 1
        host = FIRST_HOST + self.created - 1
        if host > LAST_HOST:
            raise RuntimeError(f"no address left for replica {self.created}")
        container = self.network.add(f"model-{self.created}", host)
        self.replicas[container.name] = (container, tag)
        self.ever[container.address] = (container.name, tag)
        self._name_in_dns(container, present=True)
        if not self._service:
            self._service = compose_service("model")
        start_replica(container, self.stores[tag], self.workdir, self._service)
        return self._replica(container.name)

    def health(self, replica: Replica) -> Health:
        container, _ = self.replicas[replica.id]
        code = container.started.process.poll()
        if code is not None:
            lines = container.log_path.read_text(errors="replace").strip().splitlines()
            last = lines[-1][:400] if lines else "no output"
            return Health("failed", f"bentoml serve exited with {code}: {last}")
        probe = healthcheck(container, self._service["healthcheck"]["test"])
        return Health("healthy" if probe() else "starting")

    def reload_balancer(self) -> None:
        nginx = self.nginx.started
        enter = ["nsenter", f"--net={self.nginx.netns}", f"--mount=/proc/{nginx.pid}/ns/mnt"]
        command = [*enter, *as_user(NGINX_UID), str(self.tools / "nginx"), "-s", "reload"]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=10)

    def stop(self, replica: Replica) -> None:
        container, _ = self.replicas[replica.id]
        container.stop(grace=STOP_GRACE_S)
        self._name_in_dns(container, present=False)

    def remove(self, replica: Replica) -> None:
        container, _ = self.replicas.pop(replica.id)
        container.remove()

    def _name_in_dns(self, container: Container, present: bool) -> None:
        self.hosts[:] = [(address, names) for address, names in self.hosts if address != container.address]
        if present:
            self.hosts.append((container.address, f"model bento-serving-{container.name}"))
        publish_hosts(self.hosts, self.dns)
