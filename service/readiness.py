"""The versions a worker serves, on its readiness answers: `GET /readyz` (BentoML's route) carries
`X-Served-Versions: tabular-classifier:<version>, digits-cnn:<version>`, the version each model's plain
routes answer with in the worker that answered the probe. A probe or an operator polling `/readyz`
during a reload or a rollout sees each worker switch; `GET /models` lists every served version.

BentoML's readiness handler is wrapped, not the app: an ASGI middleware around BentoML's app would sit
on every prediction's path for the sake of one probe route. The wrapper must be installed before
BentoML builds its routes (each binds the handler then): at import, by service/service.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import bentoml
from starlette.requests import Request
from starlette.responses import Response

from service.patches import PATCHED_VERSION
from service.versions import Served

logger = logging.getLogger("bentoml.serving")
HEADER = "X-Served-Versions"
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


Handler = Callable[[Any, Request], Awaitable[Response]]


def _with_versions(readyz: Handler) -> Handler:
    async def readyz_with_versions(self: Any, request: Request) -> Response:
        response = await readyz(self, request)
        value = served_versions()
        if value is not None and response.status_code == 200:
            response.headers[HEADER] = value
        return response

    readyz_with_versions.__wrapped__ = readyz  # type: ignore[attr-defined]
    return readyz_with_versions


def name_versions_on_readiness() -> bool:
    """Wrap BentoML's readiness handler (once); only on the BentoML version it was written against."""
    from _bentoml_impl.server.app import ServiceAppFactory

    if bentoml.__version__ != PATCHED_VERSION:
        logger.warning(
            "BentoML %s: /readyz does not name the versions (written for %s)",
            bentoml.__version__,
            PATCHED_VERSION,
        )
        return False
    if not hasattr(ServiceAppFactory.readyz, "__wrapped__"):
        ServiceAppFactory.readyz = _with_versions(ServiceAppFactory.readyz)  # type: ignore[method-assign]
    return True
