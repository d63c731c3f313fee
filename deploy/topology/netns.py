"""Network namespace plumbing: one bridge, each "container" a network namespace on it with its own
address, a private /etc (the compose names in its hosts file, the config files at their compose mount
paths) and, where asked, a copy-on-write /tmp of its own.

Everything here runs inside the private mount and network namespaces that ``__main__`` re-executes in:
nothing it creates is visible outside them.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from load.server import REPO, Launch, ServerProcess

SUBNET = "10.89.0"  # a bridge inside the private network namespace only
GATEWAY = f"{SUBNET}.1"
# A fixed MAC address, as Docker gives its bridges: by default a bridge takes the lowest MAC of its
# ports, so removing a container's port can change it, and every namespace's cached neighbour entry
# for the gateway then points nowhere for seconds.
BRIDGE_MAC = "02:42:0a:59:00:01"
# A copy-on-write /tmp: writes stay private, while whatever already lives under /tmp (this repository,
# in a CI clone) stays visible. The upper layer is a tmpfs on /mnt, in a mount namespace of its own.
PRIVATE_TMP = (
    "mount -t tmpfs tmpfs /mnt && mkdir /mnt/upper /mnt/work && chmod 1777 /mnt/upper && "
    'mount -t overlay overlay -o lowerdir=/tmp,upperdir=/mnt/upper,workdir=/mnt/work /tmp && exec "$@"'
)

Hosts = list[tuple[str, str]]  # (address, "name alias ...") lines of /etc/hosts


def sh(*argv: str) -> None:
    """Run a plumbing command; CalledProcessError (with its stderr) when it fails."""
    subprocess.run(argv, check=True, capture_output=True, text=True)


def as_user(uid: int | None) -> list[str]:
    """The prefix that runs a command as ``uid`` (its own gid, no supplementary groups); none for root."""
    return [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


@dataclass
class Container:
    """A network namespace held open by a sleeping process, one address on the bridge, and the one
    server process compose would run in it (started through load.server's launcher)."""

    name: str
    address: str
    holder: subprocess.Popen[bytes]
    log_path: Path
    server: ServerProcess | None = None

    @property
    def netns(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    @property
    def started(self) -> ServerProcess:
        """Its server process; RuntimeError before ``launch``."""
        if self.server is None:
            raise RuntimeError(f"nothing was started in {self.name}")
        return self.server

    def argv(self, command: Sequence[str], uid: int | None = None, private_tmp: bool = False) -> list[str]:
        """``command`` in this container's network namespace, as ``uid``; with its own /tmp if asked."""
        private = ["unshare", "--mount", "--propagation", "private", "sh", "-c", PRIVATE_TMP, "sh"]
        return ["nsenter", f"--net={self.netns}", *(private if private_tmp else []), *as_user(uid), *command]

    def launch(
        self,
        command: Sequence[str],
        *,
        uid: int | None,
        port: int,
        ready: str | Callable[[], bool],
        env: Mapping[str, str] | None = None,
        private_tmp: bool = False,
    ) -> ServerProcess:
        """Start ``command`` here (not waiting for it); its output goes to this container's log."""
        if uid is not None:
            self.log_path.touch()
            os.chown(self.log_path, uid, uid)  # nginx reopens /dev/stdout as its own user
        self.server = ServerProcess(
            Launch(
                argv=self.argv(command, uid, private_tmp),
                url=f"http://{self.address}:{port}",
                ready=ready,
                env=env or {},
                log=self.log_path,
                cwd=REPO,
            )
        )
        return self.server

    def stop(self, grace: float) -> float:
        """As `docker stop`: SIGTERM to the main process, SIGKILL after ``grace``; seconds taken."""
        return self.server.stop(grace) if self.server is not None else 0.0

    def remove(self) -> None:
        """As `docker rm`: the namespace goes, and with it the interface and the address."""
        self.stop(grace=0)
        self.holder.kill()
        self.holder.wait()


@dataclass
class Network:
    """The bridge and the containers on it."""

    workdir: Path
    containers: dict[str, Container] = field(default_factory=dict)

    def add(self, name: str, host: int) -> Container:
        """A new namespace ``name`` with address SUBNET.``host`` on the bridge, default route via it."""
        address = f"{SUBNET}.{host}"
        holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        netns = f"/proc/{holder.pid}/ns/net"
        deadline = time.monotonic() + 5
        while os.readlink(netns) == os.readlink("/proc/self/ns/net"):  # unshare has not run yet
            if time.monotonic() > deadline:
                holder.kill()
                raise RuntimeError(f"no network namespace for {name}")
            time.sleep(0.01)
        veth = f"v{host}"
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "link", "set", veth, "master", "br0", "up")
        inside = ["nsenter", f"--net={netns}", "ip"]
        sh(*inside, "link", "set", "lo", "up")
        sh(*inside, "link", "set", "eth0", "up")
        sh(*inside, "addr", "add", f"{address}/24", "dev", "eth0")
        sh(*inside, "route", "add", "default", "via", GATEWAY)
        container = Container(name, address, holder, self.workdir / f"{name}.log")
        self.containers[name] = container
        return container


@contextmanager
def bridge_network(workdir: Path) -> Iterator[Network]:
    """A bridge at GATEWAY/24 for the block; every container added to it is removed afterwards."""
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "br0", "address", BRIDGE_MAC, "type", "bridge")
    sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", "br0")
    sh("ip", "link", "set", "br0", "up")
    network = Network(workdir)
    try:
        yield network
    finally:
        for container in network.containers.values():
            container.remove()


def private_etc(workdir: Path, hosts: Hosts, mounts: Mapping[Path, Path]) -> None:
    """A copy-on-write /etc for this mount namespace: ``hosts``, a resolv.conf naming the DNS server on
    the bridge, and each file of ``mounts`` (source -> target) bind-mounted read-only at its target,
    as compose mounts config files."""
    upper, work = workdir / "etc-upper", workdir / "etc-work"
    upper.mkdir()
    work.mkdir()
    sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/etc,upperdir={upper},workdir={work}", "/etc")
    write_hosts(hosts)
    Path("/etc/resolv.conf").unlink(missing_ok=True)  # may be a link to a file outside /etc
    Path("/etc/resolv.conf").write_text(f"nameserver {GATEWAY}\n")
    for source, target in mounts.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
        sh("mount", "--bind", str(source), str(target))
        sh("mount", "-o", "remount,bind,ro", str(target))


def write_hosts(hosts: Hosts) -> None:
    """Replace /etc/hosts (the private one) with localhost and ``hosts``."""
    lines = ["127.0.0.1 localhost"] + [f"{address} {names}" for address, names in hosts]
    Path("/etc/hosts").unlink(missing_ok=True)
    Path("/etc/hosts").write_text("\n".join(lines) + "\n")
