"""Server backend: qdrant-client against a Qdrant server (the distributed path).

``location=":memory:"`` (or a path) runs qdrant-client's local mode instead, which speaks the
same client API; the tests use it to hold this backend to the embedded one. Local mode has no
HNSW and its path mode writes one sqlite row per point, so it is never a default.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from rag.errors import StoreError
from rag.store.base import (
    CollectionInfo,
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
    payload_selector,
)

logger = logging.getLogger(__name__)


class ServerStore:
    backend = "server"

    def __init__(
        self,
        *,
        url: str | None = None,
        location: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        from qdrant_client import QdrantClient, models

        self._m = models
        if location is not None:
            self._client = QdrantClient(location=location)
        else:
            self._client = QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))

    # -- collections ---------------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return bool(self._client.collection_exists(name))

    def ensure_collection(self, name: str, spec: CollectionSpec) -> None:
        m = self._m
        if self.collection_exists(name):
            vectors = self._client.get_collection(name).config.params.vectors
            if isinstance(vectors, dict):
                for vname, dim in spec.dense.items():
                    have = vectors[vname].size if vname in vectors else None
                    if have is not None and have != dim:
                        raise StoreError(
                            f"collection {name!r} stores {vname!r} vectors of size {have}, but "
                            f"the configured model gives {dim}: use another collection prefix "
                            "or re-index",
                            collection=name,
                        )
        else:
            self._client.create_collection(
                name,
                vectors_config={
                    vname: m.VectorParams(size=dim, distance=m.Distance.COSINE)
                    for vname, dim in spec.dense.items()
                },
                sparse_vectors_config={
                    vname: m.SparseVectorParams(modifier=m.Modifier.IDF) for vname in spec.sparse
                },
            )
        schema = self._client.get_collection(name).payload_schema or {}
        wanted = [
            *((f, m.PayloadSchemaType.KEYWORD) for f in spec.keyword_indexes),
            *((f, m.PayloadSchemaType.FLOAT) for f in spec.float_indexes),
            *((f, m.PayloadSchemaType.INTEGER) for f in spec.integer_indexes),
        ]
        for field_name, field_type in wanted:
            if field_name not in schema:
                self._client.create_payload_index(name, field_name, field_schema=field_type)

    def info(self, name: str) -> CollectionInfo:
        return CollectionInfo(name=name, points=self.count(name))

    def drop_collection(self, name: str) -> None:
        self._client.delete_collection(name)

    # -- writes --------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        structs = [
            self._m.PointStruct(id=p.id, vector=self._vectors(p.vectors), payload=dict(p.payload))
            for p in points
        ]
        self._client.upsert(name, points=structs, wait=True)

    def set_payload(self, name: str, ids: Sequence[str], payload: Mapping[str, Any]) -> None:
        if ids:
            self._client.set_payload(name, payload=dict(payload), points=list(ids), wait=True)

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            selector = self._m.PointIdsList(points=list(ids))
            self._client.delete(name, points_selector=selector, wait=True)

    def delete_where(self, name: str, where: Filter) -> None:
        selector = self._m.FilterSelector(filter=self._filter(where))
        self._client.delete(name, points_selector=selector, wait=True)

    def optimize(self, name: str) -> None:
        # A Qdrant server runs its optimizers itself after bulk loads.
        return None

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self._client.close()

    # -- reads ---------------------------------------------------------------------------
    def count(self, name: str, where: Filter | None = None) -> int:
        return int(self._client.count(name, count_filter=self._filter(where), exact=True).count)

    def scroll(
        self,
        name: str,
        where: Filter | None = None,
        *,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[StoredPoint], str | None]:
        records, next_offset = self._client.scroll(
            name,
            scroll_filter=self._filter(where),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=with_vectors,
        )
        points = [self._stored(r, with_vectors) for r in records]
        return points, str(next_offset) if next_offset is not None else None

    def retrieve(
        self, name: str, ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        records = self._client.retrieve(
            name, ids=list(ids), with_payload=True, with_vectors=with_vectors
        )
        return [self._stored(r, with_vectors) for r in records]

    def search_batch(self, name: str, queries: Sequence[VectorQuery]) -> list[list[ScoredPoint]]:
        if not queries:
            return []
        m = self._m
        requests = [
            m.QueryRequest(
                query=self._vector(q.vector),
                using=q.vector_name,
                filter=self._filter(q.filter),
                limit=q.limit,
                with_payload=payload_selector(q.with_payload),
            )
            for q in queries
        ]
        responses = self._client.query_batch_points(name, requests=requests)
        return [
            [ScoredPoint(str(p.id), float(p.score), dict(p.payload or {})) for p in r.points]
            for r in responses
        ]

    # -- conversions -----------------------------------------------------------------------
    def _vector(self, value: Any) -> Any:
        if isinstance(value, SparseVector):
            return self._m.SparseVector(
                indices=list(value.indices), values=[float(v) for v in value.values]
            )
        return [float(v) for v in value]

    def _vectors(self, vectors: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self._vector(v) for name, v in vectors.items()}

    def _stored(self, record: Any, with_vectors: bool) -> StoredPoint:
        vectors: dict[str, Any] | None = None
        if with_vectors and record.vector is not None:
            vectors = {}
            for vname, value in dict(record.vector).items():
                if isinstance(value, self._m.SparseVector):
                    vectors[vname] = SparseVector(tuple(value.indices), tuple(value.values))
                else:
                    vectors[vname] = [float(v) for v in value]
        return StoredPoint(str(record.id), dict(record.payload or {}), vectors)

    def _filter(self, where: Filter | None) -> Any:
        if where is None or where.is_empty:
            return None
        m = self._m

        def condition(c: Any) -> Any:
            if isinstance(c, Filter):
                return self._filter(c)
            if isinstance(c, MatchValue):
                return m.FieldCondition(key=c.key, match=m.MatchValue(value=c.value))
            if isinstance(c, MatchAny):
                return m.FieldCondition(key=c.key, match=m.MatchAny(any=list(c.values)))
            if isinstance(c, Range):
                return m.FieldCondition(
                    key=c.key, range=m.Range(gte=c.gte, lte=c.lte, gt=c.gt, lt=c.lt)
                )
            if isinstance(c, HasId):
                return m.HasIdCondition(has_id=list(c.ids))
            raise TypeError(f"unsupported filter condition {c!r}")

        return m.Filter(
            must=[condition(c) for c in where.must] or None,
            must_not=[condition(c) for c in where.must_not] or None,
            should=[condition(c) for c in where.should] or None,
        )
