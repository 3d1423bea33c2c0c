"""The HTTP service: app factory, routers, problem+json error mapping, metrics."""

from rag.api.app import create_app

__all__ = ["create_app"]
