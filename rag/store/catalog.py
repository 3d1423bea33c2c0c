"""What a tenant has indexed, read from the aligned collections: one row per source.

Sources are not stored separately; every unit's payload carries its source, so a listing
aggregates the tenant's live points (scrolled with the tenant filter inside the store query,
like every read). Export streams the same points, payload and vectors, one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rag.store.base import Filter, MatchValue, StoredPoint, VectorStore
from rag.store.collections import Field, collection_name
from rag.types import Modality, UnitState

_PAGE = 512


@dataclass(frozen=True)
class SourceRow:
    source: str
    modality: str
    units: int
    sha256: str
    indexed_at: str | float | None


def tenant_filter(tenant: str, *, source: str | None = None, prefix: str | None = None) -> Filter:
    must: list[Any] = [
        MatchValue(Field.TENANT, tenant),
        MatchValue(Field.STATE, UnitState.LIVE.value),
    ]
    if source is not None:
        must.append(MatchValue(Field.SOURCE, source))
    if prefix is not None:
        must.append(MatchValue(Field.SOURCE_PREFIXES, prefix))
    return Filter(must=tuple(must))


def iter_points(
    store: VectorStore,
    prefix: str,
    where: Filter,
    *,
    modalities: tuple[Modality, ...] = tuple(Modality),
    with_vectors: bool = False,
) -> Iterator[tuple[Modality, StoredPoint]]:
    """Every point matching ``where``, collection by collection, in pages."""
    for modality in modalities:
        name = collection_name(prefix, modality)
        if not store.collection_exists(name):
            continue
        offset: str | None = None
        while True:
            points, offset = store.scroll(
                name, where, limit=_PAGE, offset=offset, with_vectors=with_vectors
            )
            for point in points:
                yield modality, point
            if offset is None:
                break


def list_sources(store: VectorStore, prefix: str, tenant: str) -> list[SourceRow]:
    """The tenant's sources, sorted by source, with their unit counts."""
    rows: dict[str, dict[str, Any]] = {}
    for modality, point in iter_points(store, prefix, tenant_filter(tenant)):
        payload = point.payload
        source = str(payload.get(Field.SOURCE, ""))
        row = rows.setdefault(
            source,
            {
                "modality": str(payload.get(Field.MODALITY, modality.value)),
                "units": 0,
                "sha256": str(payload.get(Field.SOURCE_SHA256, "")),
                "indexed_at": payload.get(Field.INDEXED_AT),
            },
        )
        row["units"] += 1
    return [SourceRow(source=s, **rows[s]) for s in sorted(rows)]


def delete_source(
    store: VectorStore, prefix: str, tenant: str, *, source: str | None, under: str | None
) -> int:
    """Delete every unit (pending ones too) of exactly one source, or of every source under
    a folder prefix; the number of units deleted."""
    must: list[Any] = [MatchValue(Field.TENANT, tenant)]
    if source is not None:
        must.append(MatchValue(Field.SOURCE, source))
    if under is not None:
        must.append(MatchValue(Field.SOURCE_PREFIXES, under))
    where = Filter(must=tuple(must))
    deleted = 0
    for modality in Modality:
        name = collection_name(prefix, modality)
        if not store.collection_exists(name):
            continue
        count = store.count(name, where)
        if count:
            store.delete_where(name, where)
            deleted += count
    return deleted
