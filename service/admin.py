"""The admin routes: reload the model versions (``POST /admin/reload``) and see what every worker serves
(``GET /admin/versions``).

Off unless a token is configured: ``SERVING_ADMIN_TOKEN``, or ``SERVING_ADMIN_TOKEN_FILE`` naming a file
that holds it (a Kubernetes secret mounted as a file). Without one the routes do not exist (a 404 like
any unknown path). With one, a request must carry ``Authorization: Bearer <token>``, compared in constant
time; anything else is a 401 with ``WWW-Authenticate``. The token is never logged nor echoed, and the
routes are left out of the OpenAPI document. nginx does not pass ``/admin`` on (deploy/nginx.conf): call
a replica directly, from inside the deployment.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from service import reload
from service.errors import ApiError
from service.settings import ServingSettings
from service.versions import Served

PREFIX = "/admin"
MIN_TOKEN_CHARS = 16
CONVERGE_WAIT_S = 5.0  # a reload answers 200 once every worker serves it, 202 if that takes longer


class AdminTokenError(ValueError):
    """The admin token is configured wrongly; the server refuses to start (the token is never shown)."""


def admin_token(settings: ServingSettings) -> bytes | None:
    """The configured token, or None when the admin routes are off."""
    direct = settings.admin_token.get_secret_value().strip() if settings.admin_token else ""
    path = settings.admin_token_file
    if direct and path:
        raise AdminTokenError("set SERVING_ADMIN_TOKEN or SERVING_ADMIN_TOKEN_FILE, not both")
    token = direct
    if path:
        try:
            token = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            raise AdminTokenError(
                f"SERVING_ADMIN_TOKEN_FILE={path}: cannot be read ({type(error).__name__})"
            ) from None
    if not token:
        return None
    if len(token) < MIN_TOKEN_CHARS or not token.isascii() or not token.isprintable():
        raise AdminTokenError(
            f"the admin token must be at least {MIN_TOKEN_CHARS} printable ASCII characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    return token.encode()


def authorize(request: Request, token: bytes) -> None:
    """401 unless the request carries ``Authorization: Bearer <token>``."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest takes time independent of where the strings differ; a wrong length still costs
    # the same whatever the content.
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"), token):
        raise ApiError("unauthorized", "the admin routes need the header Authorization: Bearer <admin token>")


class Reloadable(Protocol):
    """What the admin routes need from the BentoML service instance (service/service.py)."""

    reloader: reload.WorkerReloader

    def served(self) -> dict[str, Served]: ...


def routes(token: bytes, service: Any) -> list[tuple[str, str, Any]]:
    """(path, method, handler) of the admin routes; ``service()`` returns the service instance."""

    async def reload_versions(request: Request) -> Response:
        authorize(request, token)
        current: Reloadable = service()
        pins = await asyncio.to_thread(_reload, current)
        if pins.refused:
            raise ApiError("reload_refused", f"nothing changed; {pins.refused[:400]}")
        converged = await _converged(current, pins.generation)
        return JSONResponse(_state(current, pins), status_code=200 if converged else 202)

    async def served_versions(request: Request) -> Response:
        authorize(request, token)
        current: Reloadable = service()
        pins = reload.read_pins(current.reloader.folder)
        return JSONResponse(_state(current, pins))

    return [(f"{PREFIX}/reload", "POST", reload_versions), (f"{PREFIX}/versions", "GET", served_versions)]


def _reload(service: Reloadable) -> reload.Pins:
    """Publish the next generation (a served app), or take it up here (an in-process app)."""
    reloader = service.reloader
    if reloader.folder is not None:
        return reload.publish(reloader.folder, service.served())
    pins = reload.next_pins(reloader.generation + 1, service.served())
    reloader.take(pins)
    return pins


async def _converged(service: Reloadable, generation: int) -> bool:
    """Wait (at most CONVERGE_WAIT_S) until every live worker says it took up ``generation``."""
    deadline = time.monotonic() + CONVERGE_WAIT_S
    while True:
        acks = reload.worker_acks(service.reloader.folder)
        if all(ack["generation"] >= generation for ack in acks) and service.reloader.generation >= generation:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


def _state(service: Reloadable, pins: reload.Pins | None) -> dict[str, Any]:
    here = {
        name: {"versions": list(s.versions), "default": s.default} for name, s in service.served().items()
    }
    workers = reload.worker_acks(service.reloader.folder)
    return {
        "generation": pins.generation if pins else service.reloader.generation,
        "refused": pins.refused if pins else "",
        "models": {
            name: {"versions": list(s.versions), "default": s.default} for name, s in pins.models.items()
        }
        if pins
        else here,
        "workers": workers
        or [{"generation": service.reloader.generation, "models": here, "error": service.reloader.error}],
    }
