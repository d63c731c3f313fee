"""The versions a worker serves, on its readiness answers: `GET /readyz` (BentoML's route) carries
`X-Served-Versions: tabular-classifier:<version>, digits-cnn:<version>`, the version each model's plain
routes answer with in the worker that answered the probe. A probe or an operator polling `/readyz`
during a reload or a rollout sees each worker switch; `GET /models` lists every served version.

A pure ASGI middleware around BentoML's whole app (its health routes included): every other request
passes through untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from service.versions import Served

HEADER = b"x-served-versions"
_describe: Callable[[], Mapping[str, Served]] | None = None


def serve_from(served: Callable[[], Mapping[str, Served]]) -> None:
    """This worker's source of truth: called on each probe, so a reload shows at once."""
    global _describe
    _describe = served


def served_versions() -> str | None:
    """The header's value, or None before the worker's models are loaded."""
    if _describe is None:
        return None
    return ", ".join(f"{name}:{served.default}" for name, served in _describe().items())


class ServedVersionsHeader:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/readyz":
            await self.app(scope, receive, send)
            return
        value = served_versions()

        async def send_with_versions(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and value is not None:
                message = {**message, "headers": [*message.get("headers", []), (HEADER, value.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_versions)
