"""The prediction routes' short way in: a POST to one of them goes straight to its handler.

FastAPI would reach the same handler through its exception middleware, an exit stack, a route table
matched by regular expression, a request/response wrapper and dependency solving: about 15% of the CPU
of a one-row request on one core, for routes that take the raw request and answer a ready-made
response. This layer sits inside the load shedder and the V2 error shape (so shedding, deadlines and
Server-Timing apply as before) and answers an ApiError exactly as the app's handler does. Anything
else (another method, a path with a trailing slash, any other route) goes on to FastAPI unchanged, and
the routes stay registered there for the OpenAPI document and the 405s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import ApiError
from service.handlers import Endpoint

Refuse = Callable[[Request, ApiError], Response]
RefuseHttp = Callable[[Request, Exception], Awaitable[Response]]


class PredictionRoutes:
    """Pure ASGI: POST on a path of ``routes`` calls its endpoint; an ApiError becomes ``refuse``'s
    answer and a Starlette HTTPException (its form parser raises one for a malformed multipart body)
    ``refuse_http``'s, as the app's exception handlers would; everything else is passed to ``app``."""

    def __init__(
        self, app: ASGIApp, routes: Mapping[str, Endpoint], refuse: Refuse, refuse_http: RefuseHttp
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self.refuse = refuse
        self.refuse_http = refuse_http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except ApiError as error:
            response = self.refuse(request, error)
        except HTTPException as error:
            response = await self.refuse_http(request, error)
        await response(scope, receive, send)
