"""Errors under /v2 in the protocol's shape: ``{"error": "<what was wrong>", "code": "<stable code>"}``.

The service answers every mistake as ``{"error": <code>, "detail": ...}`` from one place per source (the
handlers' ApiError, routing's 404/405, the load shedder's 503 in front of the app). Rather than teach
each of them a second shape, this middleware, outermost, rewrites those answers for /v2 paths only:
the same code and headers (Retry-After, Allow), the protocol's field names, and 400 where the JSON API
says 422 (the protocol answers every malformed request with 400). Only error answers are touched, and
they are small.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import STATUS

PREFIX = "/v2"


def v2_status(code: str) -> int:
    status = STATUS[code]
    return 400 if status == 422 else status


def is_v2(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class V2ErrorShape:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_v2(scope["path"]):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def send_v2(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] >= 400:
                held = message  # wait for the body: it decides the new status and length
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start, body = reshaped(held, b"".join(chunks))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_v2)


def reshaped(start: Message, body: bytes) -> tuple[Message, bytes]:
    """The answer in the V2 shape when ``body`` is the service's error shape; otherwise unchanged
    (e.g. the health routes' ``{"ready": false}``)."""
    try:
        error = json.loads(body)
    except ValueError:
        return start, body
    if not isinstance(error, dict) or set(error) != {"error", "detail"} or error["error"] not in STATUS:
        return start, body
    code = error["error"]
    new_body = json.dumps({"error": error["detail"], "code": code}).encode()
    headers = [(name, value) for name, value in start["headers"] if name.lower() != b"content-length"]
    headers.append((b"content-length", str(len(new_body)).encode()))
    return {**start, "status": v2_status(code), "headers": headers}, new_body
