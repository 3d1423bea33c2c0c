"""The middleware stack of the app."""

from __future__ import annotations

from fastapi import FastAPI

from rag.api.middleware import (
    GuardMiddleware,
    MetricsMiddleware,
    RequestIdMiddleware,
)
from rag.api.problems import status_for
from rag.settings import Settings


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost first: request id, metrics, guard (each is pure ASGI)."""
    # add_middleware puts each new one outside the ones added before it.
    app.add_middleware(GuardMiddleware, status_for=status_for)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)
