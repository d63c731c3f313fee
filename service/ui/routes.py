"""Routes of the page at ``/ui`` and of the training plots saved with each model.

The page is a few static files (``static/``), served only by name from a fixed table, with a
Content-Security-Policy that lets it load and call nothing but its own origin. The plots are read from
the store entry of the loaded model, only by a file name that its metadata lists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from service.errors import ApiError
from service.handlers import current_service

STATIC = Path(__file__).parent / "static"
PAGE = "index.html"
# Every file the page may load, with its media type: nothing else under static/ is served.
ASSETS: dict[str, str] = {
    PAGE: "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "digits.js": "text/javascript; charset=utf-8",
    "tabular.js": "text/javascript; charset=utf-8",
    "cards.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Only the page's own origin: no inline script or style, no framing, nothing sent elsewhere.
# blob: images are the previews of a dropped file, which never leaves the browser except to this origin.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",  # revalidate: a new version of the service brings a new page
}
Route = tuple[str, str, Callable[..., Awaitable[Response]], dict[str, Any]]


@cache
def _asset_bytes(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def asset_response(name: str) -> Response:
    if name not in ASSETS:
        raise ApiError("not_found", f"the page has no file {name[:80]!r}")
    return Response(_asset_bytes(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)


async def page() -> Response:
    return asset_response(PAGE)


async def page_slash() -> Response:
    # Relative, so that it also works behind a proxy that serves the API under a prefix.
    return RedirectResponse("../ui", status_code=308, headers=SECURITY_HEADERS)


async def asset(request: Request) -> Response:
    return asset_response(str(request.path_params["file"]))


async def plot(request: Request) -> Response:
    """A training plot of a loaded model, from its store entry (PNG), or 404 not_found."""
    name, file = str(request.path_params["name"]), str(request.path_params["file"])
    runtimes = current_service().runtimes
    path = runtimes[name].loaded.plot_path(file) if name in runtimes else None
    if path is None:
        raise ApiError(
            "not_found", f"no plot {file[:80]!r} is saved with model {name[:80]!r}; see GET /models"
        )
    return Response(path.read_bytes(), media_type="image/png", headers=SECURITY_HEADERS)


def routes() -> list[Route]:
    """(path, method, handler, FastAPI options), as service/app.py's ``routes()`` lists them."""
    hidden = {"include_in_schema": False}
    return [
        ("/ui", "GET", page, hidden),
        ("/ui/", "GET", page_slash, hidden),
        ("/ui/{file}", "GET", asset, hidden),
        ("/models/{name}/plots/{file}", "GET", plot, hidden),
    ]
