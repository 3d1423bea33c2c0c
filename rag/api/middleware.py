"""Pure ASGI middleware: request ids, request metrics, body caps and a last-resort guard.

Pure ASGI (not ``BaseHTTPMiddleware``): no extra task and memory stream per request, the
request body streams straight through, and an error never escapes to Starlette's
``ServerErrorMiddleware``, which re-raises to the server and so resets a keep-alive
connection. Order, outermost first (see ``install_middleware``): request id, metrics, guard,
body cap, then the app.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import MmragError, PayloadTooLargeError

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
PROBLEM_JSON = "application/problem+json"


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def problem_message(
    scope: Scope,
    status: int,
    detail: str,
    code: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> tuple[Message, Message]:
    """The two ASGI messages of a problem+json response, for code that has no Request."""
    body: dict[str, Any] = {
        "type": f"urn:mmrag:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
    }
    request_id = _state(scope).get("request_id")
    if request_id:
        body["trace_id"] = request_id
    body.update({k: v for k, v in extra.items() if k not in body})
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    start = {"type": "http.response.start", "status": status, "headers": raw_headers}
    return start, {"type": "http.response.body", "body": payload}


async def send_problem(send: Send, messages: tuple[Message, Message]) -> None:
    await send(messages[0])
    await send(messages[1])


class RequestIdMiddleware:
    """Echo a sane ``X-Request-ID`` (or make one); problem bodies carry it as ``trace_id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = (
            incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        )
        _state(scope)["request_id"] = request_id
        header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_id)


class GuardMiddleware:
    """The last resort: any error that escapes the app becomes a problem+json answer here.

    Domain errors keep their status (a ``PayloadTooLargeError`` raised while the body streams
    is a 413); anything else is a logged 500. Nothing is re-raised, so the server keeps the
    connection open for the client's next request."""

    def __init__(self, app: ASGIApp, status_for: Callable[[MmragError], int]) -> None:
        self.app = app
        self.status_for = status_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # nobody is left to answer
        except Exception as exc:
            if started:
                raise
            await send_problem(send, self._problem(scope, exc))

    def _problem(self, scope: Scope, exc: Exception) -> tuple[Message, Message]:
        if isinstance(exc, MmragError):
            status = self.status_for(exc)
            if status >= 500:
                logger.warning("%s on %s", type(exc).__name__, scope.get("path"))
            return problem_message(scope, status, exc.detail, exc.code)
        if isinstance(exc, MultiPartException):
            return problem_message(scope, 400, f"malformed multipart body: {exc}", "bad-input")
        if isinstance(exc, RecursionError):
            return problem_message(scope, 400, "the request is nested too deeply", "bad-input")
        logger.error("unhandled error on %s", scope.get("path"), exc_info=exc)
        return problem_message(scope, 500, "internal server error", "internal")


class BodyLimitMiddleware:
    """Cap every request body by the kind of route, while it streams (never read whole first).

    A declared ``Content-Length`` over the cap is refused before a byte is read; a chunked
    body is counted as it arrives and stopped with ``PayloadTooLargeError`` (413) at the cap.
    ``limit_for(path, content_type)`` returns ``(limit_bytes, setting_name)``."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], tuple[int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = ""
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                content_type = value.decode("latin-1").split(";")[0].strip().lower()
            elif name == b"content-length":
                text = value.decode("latin-1").strip()
                declared = int(text) if text.isdigit() else None
        limit, setting = self.limit_for(scope.get("path", ""), content_type)
        if declared is not None and declared > limit:
            await send_problem(send, _too_large(scope, limit, setting, declared))
            return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(
                        f"the body is over the limit of {limit} bytes ({setting})",
                        limit=limit,
                    )
            return message

        await self.app(scope, capped_receive, send)


def _too_large(scope: Scope, limit: int, setting: str, declared: int) -> tuple[Message, Message]:
    return problem_message(
        scope,
        413,
        f"the body is {declared} bytes, over the limit of {limit} bytes ({setting})",
        "payload-too-large",
        {"Connection": "close"},
        limit=limit,
    )


class MetricsMiddleware:
    """Count and time each request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            method = scope["method"]
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
            self.metrics.requests.labels(method, route, str(status)).inc()
