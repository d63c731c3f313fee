"""The API page at ``/`` and the JSON 404/405 of BentoML's own routes, installed on the app BentoML builds.

BentoML's stock page (``_bentoml_impl/server/main-openapi.html``) loads Google Tag Manager and a GitHub
corner from the internet, and its stylesheet hides the document's title. This page is the same Swagger UI,
from the copy BentoML itself serves at ``/static_content/`` (nothing from a CDN), in Swagger UI's plain
layout (no top bar, no validator badge), with its settings in a script of its own (no inline script, so a
``default-src 'self'`` policy allows it). Its routes go first in BentoML's router, so they do not depend on
how BentoML orders or names its own. What the page shows comes from ``/docs.json`` (service/apidoc.py).

Requests that match no route of BentoML's app (the mounted API takes only paths it has) reach Starlette's
plain-text 404 and 405; the handlers below answer them in the service's JSON error shape instead, and in
the V2 protocol's shape under /v2, like the mounted app does (service/app.py).
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.apidoc import project_info
from service.errors import error_response, routing_error
from service.metrics import service_metrics
from service.v2.errors import is_v2, v2_status

logger = logging.getLogger("bentoml.serving.requests")

SWAGGER = "./static_content"  # BentoML's bundled Swagger UI, served by BentoML from this origin
SCRIPT_PATH = "/api-page/init.js"
STYLE_PATH = "/api-page/page.css"

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} {version}: HTTP API</title>
<link rel="stylesheet" href="{swagger}/swagger-ui.css">
<link rel="stylesheet" href=".{style}">
<link rel="icon" type="image/png" href="{swagger}/favicon-light-32x32.png">
</head>
<body>
<div id="swagger-ui">
<noscript><p>{title} {version}: the OpenAPI document is <a href="./docs.json">docs.json</a>;
the demo page is <a href="./ui">/ui</a>.</p></noscript>
</div>
<script src="{swagger}/swagger-ui-bundle.js" charset="utf-8"></script>
<script src=".{script}" charset="utf-8"></script>
</body>
</html>
"""

SCRIPT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "./docs.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    displayRequestDuration: true,
  });
});
"""

# Only this origin: Swagger UI's scripts and styles are files, its icons data: URLs in its stylesheet;
# "Try it out" calls this origin only. Checked in headless Chromium (tests/service/test_apipage.py).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate: a new version of the service brings a new page
}

STYLE = """body { margin: 0; background: #fafafa; }
.swagger-ui .info { margin: 32px 0 24px; }
.swagger-ui .info .title small pre { background: none; }
"""


def install(app: Starlette, bento_version: str | None, is_main: bool) -> None:
    """The page (entry service only, where BentoML serves its index and Swagger UI's files) and the
    JSON answers for requests no route takes."""
    if is_main:
        info = project_info(bento_version)
        page = PAGE.format(
            title=html.escape(info["title"]),
            version=html.escape(info["version"]),
            swagger=SWAGGER,
            style=STYLE_PATH,
            script=SCRIPT_PATH,
        )
        app.router.routes[:0] = [
            Route("/", _text(page, "text/html; charset=utf-8"), methods=["GET"], name="api-page"),
            Route(SCRIPT_PATH, _text(SCRIPT, "text/javascript; charset=utf-8"), methods=["GET"]),
            Route(STYLE_PATH, _text(STYLE, "text/css; charset=utf-8"), methods=["GET"]),
        ]
    app.add_exception_handler(404, not_routed)
    app.add_exception_handler(405, not_routed)


def _text(body: str, media_type: str) -> Any:
    content = body.encode()

    async def endpoint(_: Request) -> Response:
        return Response(content, media_type=media_type, headers=HEADERS)

    return endpoint


async def not_routed(request: Request, error: Exception) -> Response:
    """404 or 405 from BentoML's router, as the mounted app answers them: the error shape, Allow kept."""
    assert isinstance(error, HTTPException)
    code, detail = routing_error(error.status_code, request.method, request.url.path, error.headers)
    assert code is not None  # registered for 404 and 405 only
    assert detail is not None
    service_metrics().errors.labels(code=code).inc()
    logger.info("%s %s -> %s: %s", request.method, request.url.path, code, detail)
    response = error_response(code, detail)
    if is_v2(request.url.path):
        body = json.dumps({"error": detail, "code": code}).encode()
        response = Response(body, status_code=v2_status(code), media_type="application/json")
    response.headers.update(error.headers or {})
    return response
