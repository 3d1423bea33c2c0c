"""Which body cap applies to which route, and the middleware stack that enforces it."""

from __future__ import annotations

from fastapi import FastAPI

from rag.api.middleware import (
    BodyLimitMiddleware,
    GuardMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
)
from rag.api.problems import status_for
from rag.settings import Settings

# A multipart translate body carries the message, up to 4 WSDL/XSD documents (the route's
# own cap) and the part boundaries.
_MULTIPART_SLACK = 1 << 20


def body_limits(settings: Settings) -> dict[str, tuple[int, str]]:
    return {
        "json": (settings.api.max_json_kb << 10, "MMRAG_API__MAX_JSON_KB"),
        "form": (settings.api.max_form_mb << 20, "MMRAG_API__MAX_FORM_MB"),
        "translate": (
            settings.translator.max_message_bytes
            + 4 * settings.translator.max_document_bytes
            + _MULTIPART_SLACK,
            "MMRAG_TRANSLATOR__MAX_MESSAGE_BYTES",
        ),
        "bridge": (settings.bridge.max_request_bytes, "MMRAG_BRIDGE__MAX_REQUEST_BYTES"),
    }


def body_kind(path: str, content_type: str) -> str:
    if path.startswith("/v1/translate"):
        return "translate"
    if path.startswith("/v1/bridge/"):
        return "bridge"
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return "form"
    return "json"


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost first: request id, metrics, guard, body cap (each is pure ASGI)."""
    limits = body_limits(settings)

    def limit_for(path: str, content_type: str) -> tuple[int, str]:
        return limits[body_kind(path, content_type)]

    # add_middleware puts each new one outside the ones added before it.
    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(GuardMiddleware, status_for=status_for)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)
