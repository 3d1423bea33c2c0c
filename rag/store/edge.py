"""Embedded backend: the Qdrant engine in-process through qdrant-edge (one shard per
collection, one folder per shard under ``<data dir>/qdrant``).

An embedded store is owned by one process: :class:`~rag.store.lock.StoreLock` is taken on first
use, before qdrant-edge is loaded or any shard file opened (qdrant-edge's own lock comes too late: a
second opener has already truncated the owner's journals by then), and a second process gets
:class:`~rag.errors.StoreLockedError` without touching a file under the root. Payload indexes
are created before any bulk load and ``optimize()`` is called after one (until then search is
brute force).
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.errors import StoreError, StoreLockedError
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
from rag.store.lock import store_lock

logger = logging.getLogger(__name__)


class EmbeddedStore:
    backend = "embedded"

    def __init__(self, root: Path) -> None:
        self.root = root
        self._shards: dict[str, Any] = {}
        self._write_lock = threading.RLock()
        self._lock = store_lock(root)

    def claim(self) -> None:
        """Take the store now rather than on first use (a service claims it at start-up, so it
        fails then, not on its first request, when another process holds it)."""
        self._lock.acquire()

    @property
    def _edge(self) -> Any:
        """The engine, reached only through the store lock: every path that can open a file
        under root passes here first (again after close(); a no-op while held)."""
        self._lock.acquire()  # raises StoreLockedError before the engine is even loaded
        import qdrant_edge

        return qdrant_edge

    # -- collections -------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        return self.root / name

    def collection_exists(self, name: str) -> bool:
        return name in self._shards or (self._path(name) / "edge_config.json").is_file()

    def _shard(self, name: str) -> Any:
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._write_lock:
            shard = self._shards.get(name)
            if shard is None:
                if not self.collection_exists(name):
                    raise StoreError(f"collection {name!r} does not exist", collection=name)
                edge = self._edge  # the lock first
                shard = self._open(lambda: edge.EdgeShard.load(str(self._path(name))), name)
                self._shards[name] = shard
            return shard

    def _open(self, opener: Any, name: str) -> Any:
        try:
            return opener()
        except StoreLockedError:
            raise
        except Exception as exc:
            message = str(exc)
            if "WouldBlock" in message or "lock" in message.lower():
                raise StoreLockedError(
                    f"the embedded store {self._path(name)} is open in another process (a running "
                    "`mmrag serve`?); one process owns an embedded store: send the work to it "
                    "through the HTTP API, stop it, or use the server backend",
                    path=str(self._path(name)),
                ) from exc
            raise StoreError(f"cannot open collection {name!r}: {message}") from exc

    def ensure_collection(self, name: str, spec: CollectionSpec) -> None:
        e = self._edge
        with self._write_lock:
            if self.collection_exists(name):
                self._check_dims(name, spec)
                shard = self._shard(name)
            else:
                config = e.EdgeConfig(
                    vectors={
                        vname: e.EdgeVectorParams(size=dim, distance=e.Distance.Cosine)
                        for vname, dim in spec.dense.items()
                    },
                    sparse_vectors={
                        vname: e.EdgeSparseVectorParams(modifier=e.Modifier.Idf)
                        for vname in spec.sparse
                    },
                )
                self._path(name).mkdir(parents=True, exist_ok=True)
                shard = self._open(lambda: e.EdgeShard.create(str(self._path(name)), config), name)
                self._shards[name] = shard
            indexed = set(shard.info().payload_schema)
            wanted = [
                *((f, e.PayloadSchemaType.Keyword) for f in spec.keyword_indexes),
                *((f, e.PayloadSchemaType.Float) for f in spec.float_indexes),
                *((f, e.PayloadSchemaType.Integer) for f in spec.integer_indexes),
            ]
            for field_name, schema in wanted:
                if field_name not in indexed:
                    shard.update(e.UpdateOperation.create_field_index(field_name, schema))

    def _check_dims(self, name: str, spec: CollectionSpec) -> None:
        import json

        config = json.loads((self._path(name) / "edge_config.json").read_text())
        vectors = config.get("vectors", {})
        for vname, dim in spec.dense.items():
            have = vectors.get(vname, {}).get("size")
            if have is None and vectors:
                raise StoreError(
                    f"collection {name!r} has no {vname!r} vectors (it was created before "
                    f"that signal was configured): drop it and re-index, use another "
                    f"collection prefix, or disable the signal",
                    collection=name,
                )
            if have is not None and have != dim:
                raise StoreError(
                    f"collection {name!r} stores {vname!r} vectors of size {have}, but the "
                    f"configured model gives {dim}: use another collection prefix or re-index",
                    collection=name,
                )

    def info(self, name: str) -> CollectionInfo:
        shard = self._shard(name)
        return CollectionInfo(name=name, points=int(shard.info().points_count))

    def drop_collection(self, name: str) -> None:
        with self._write_lock:
            self._lock.acquire()
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            shutil.rmtree(self._path(name), ignore_errors=True)

    # -- writes --------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        e = self._edge
        converted = [
            e.Point(uuid.UUID(p.id), self._vectors(p.vectors), dict(p.payload)) for p in points
        ]
        with self._write_lock:
            self._shard(name).update(e.UpdateOperation.upsert_points(converted))

    def set_payload(self, name: str, ids: Sequence[str], payload: Mapping[str, Any]) -> None:
        if not ids:
            return
        op = self._edge.UpdateOperation.set_payload([uuid.UUID(i) for i in ids], dict(payload))
        with self._write_lock:
            self._shard(name).update(op)

    def delete_ids(self, name: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        op = self._edge.UpdateOperation.delete_points([uuid.UUID(i) for i in ids])
        with self._write_lock:
            self._shard(name).update(op)

    def delete_where(self, name: str, where: Filter) -> None:
        op = self._edge.UpdateOperation.delete_points_by_filter(self._filter(where))
        with self._write_lock:
            self._shard(name).update(op)

    def optimize(self, name: str) -> None:
        with self._write_lock:
            shard = self._shard(name)
            shard.optimize()
            shard.flush()

    def flush(self) -> None:
        with self._write_lock:
            for shard in self._shards.values():
                shard.flush()

    def close(self) -> None:
        with self._write_lock:
            try:
                for shard in self._shards.values():
                    try:
                        shard.flush()
                    finally:
                        shard.close()
            finally:
                self._shards.clear()
                self._lock.release()

    # -- reads ---------------------------------------------------------------------------
    def count(self, name: str, where: Filter | None = None) -> int:
        request = self._edge.CountRequest(exact=True, filter=self._filter(where))
        return int(self._shard(name).count(request))

    def scroll(
        self,
        name: str,
        where: Filter | None = None,
        *,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[StoredPoint], str | None]:
        request = self._edge.ScrollRequest(
            offset=uuid.UUID(offset) if offset else None,
            limit=limit,
            filter=self._filter(where),
            with_payload=True,
            with_vector=with_vectors,
        )
        records, next_offset = self._shard(name).scroll(request)
        points = [self._stored(r, with_vectors) for r in records]
        return points, str(next_offset) if next_offset is not None else None

    def retrieve(
        self, name: str, ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[StoredPoint]:
        if not ids:
            return []
        records = self._shard(name).retrieve([uuid.UUID(i) for i in ids], True, with_vectors)
        return [self._stored(r, with_vectors) for r in records]

    def search_batch(self, name: str, queries: Sequence[VectorQuery]) -> list[list[ScoredPoint]]:
        if not queries:
            return []
        e = self._edge
        # The queries of a batch usually share one filter (a long id list in the union
        # call): convert each distinct filter once.
        filters: dict[int, Any] = {}
        for q in queries:
            if id(q.filter) not in filters:
                filters[id(q.filter)] = self._filter(q.filter)
        requests = [
            e.QueryRequest(
                limit=q.limit,
                query=e.Query.Nearest(self._vector(q.vector), using=q.vector_name),
                filter=filters[id(q.filter)],
                with_payload=payload_selector(q.with_payload),
                with_vector=False,
            )
            for q in queries
        ]
        results = self._shard(name).query_batch(e.QueryBatchRequest(requests))
        return [
            [ScoredPoint(str(p.id), float(p.score), dict(p.payload or {})) for p in hits]
            for hits in results
        ]

    # -- conversions -----------------------------------------------------------------------
    def _vector(self, value: Any) -> Any:
        if isinstance(value, SparseVector):
            return self._edge.SparseVector(list(value.indices), [float(v) for v in value.values])
        return [float(v) for v in value]

    def _vectors(self, vectors: Mapping[str, Any]) -> dict[str, Any]:
        return {name: self._vector(v) for name, v in vectors.items()}

    def _stored(self, record: Any, with_vectors: bool) -> StoredPoint:
        vectors: dict[str, Any] | None = None
        if with_vectors and record.vector is not None:
            vectors = {}
            for vname, value in dict(record.vector).items():
                if hasattr(value, "indices"):
                    vectors[vname] = SparseVector(tuple(value.indices), tuple(value.values))
                else:
                    vectors[vname] = [float(v) for v in value]
        return StoredPoint(str(record.id), dict(record.payload or {}), vectors)

    def _filter(self, where: Filter | None) -> Any:
        if where is None or where.is_empty:
            return None
        e = self._edge

        def condition(c: Any) -> Any:
            if isinstance(c, Filter):
                return self._filter(c)
            if isinstance(c, MatchValue):
                return e.FieldCondition(c.key, match=e.MatchValue(c.value))
            if isinstance(c, MatchAny):
                return e.FieldCondition(c.key, match=e.MatchAny(list(c.values)))
            if isinstance(c, Range):
                return e.FieldCondition(
                    c.key, range=e.RangeFloat(gte=c.gte, lte=c.lte, gt=c.gt, lt=c.lt)
                )
            if isinstance(c, HasId):
                return e.HasIdCondition({uuid.UUID(i) for i in c.ids})
            raise TypeError(f"unsupported filter condition {c!r}")

        return e.Filter(
            must=[condition(c) for c in where.must] or None,
            must_not=[condition(c) for c in where.must_not] or None,
            should=[condition(c) for c in where.should] or None,
        )
