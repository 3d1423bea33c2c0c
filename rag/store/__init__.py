"""Vector storage: one interface, an embedded and a server backend."""

from __future__ import annotations

from rag.settings import Settings
from rag.store.base import (
    CollectionSpec,
    Filter,
    HasId,
    MatchAny,
    MatchValue,
    PointRecord,
    Range,
    ScoredPoint,
    SparseVector,
    StoredPoint,
    VectorQuery,
    VectorStore,
)

__all__ = [
    "CollectionSpec",
    "Filter",
    "HasId",
    "MatchAny",
    "MatchValue",
    "PointRecord",
    "Range",
    "ScoredPoint",
    "SparseVector",
    "StoredPoint",
    "VectorQuery",
    "VectorStore",
    "open_store",
]


def open_store(settings: Settings) -> VectorStore:
    """The configured backend. The embedded one lives under ``<data dir>/qdrant``."""
    if settings.store.backend == "server":
        from rag.store.server import ServerStore

        key = settings.store.api_key.get_secret_value() if settings.store.api_key else None
        return ServerStore(url=settings.store.url, api_key=key, timeout_s=settings.store.timeout_s)
    from rag.store.edge import EmbeddedStore

    return EmbeddedStore(settings.data_dir / "qdrant")
