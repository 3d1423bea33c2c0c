"""The vector store interface: one protocol, two backends (embedded and server).

Types here are backend-neutral; each backend translates them to its client's types. Point ids
are UUID strings (the only ids both backends and qdrant-client's local mode accept alike).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

DenseVector = Sequence[float]


@dataclass(frozen=True)
class SparseVector:
    indices: tuple[int, ...]
    values: tuple[float, ...]


VectorValue = DenseVector | SparseVector


@dataclass(frozen=True)
class PointRecord:
    """A point to write. Named vectors may be missing (a point without OCR text has no
    ``text`` vector); searches over that vector then simply do not see it."""

    id: str
    vectors: Mapping[str, VectorValue]
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    id: str
    payload: dict[str, Any]
    vectors: dict[str, Any] | None = None


@dataclass(frozen=True)
class ScoredPoint:
    id: str
    score: float
    payload: dict[str, Any]


# -- filters -----------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchValue:
    key: str
    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    key: str
    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class Range:
    key: str
    gte: float | None = None
    lte: float | None = None
    gt: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class HasId:
    ids: tuple[str, ...]


Condition = MatchValue | MatchAny | Range | HasId


@dataclass(frozen=True)
class Filter:
    must: tuple[Condition | Filter, ...] = ()
    must_not: tuple[Condition | Filter, ...] = ()
    should: tuple[Condition | Filter, ...] = ()

    def and_(self, *conditions: Condition | Filter) -> Filter:
        return Filter(self.must + conditions, self.must_not, self.should)

    @property
    def is_empty(self) -> bool:
        return not (self.must or self.must_not or self.should)


# -- collections and queries ---------------------------------------------------------------
@dataclass(frozen=True)
class CollectionSpec:
    dense: Mapping[str, int]
    sparse: tuple[str, ...] = ()
    keyword_indexes: tuple[str, ...] = ()
    float_indexes: tuple[str, ...] = ()
    integer_indexes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VectorQuery:
    vector_name: str
    vector: VectorValue
    limit: int
    filter: Filter | None = None
    # True: the whole payload; False: none; a tuple: only those keys (a field fusion reads
    # for every candidate, without the rest of a point's payload)
    with_payload: bool | tuple[str, ...] = True


def payload_selector(value: bool | tuple[str, ...]) -> bool | list[str]:
    """A VectorQuery's payload choice as both Qdrant clients take it (a list of keys)."""
    return value if isinstance(value, bool) else list(value)


@dataclass
class CollectionInfo:
    name: str
    points: int
    dense: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class VectorStore(Protocol):
    """What mmrag needs from Qdrant. Implemented by ``EmbeddedStore`` (qdrant-edge) and
    ``ServerStore`` (qdrant-client); the congruence tests hold them to the same results."""

    backend: str

    def ensure_collection(self, name: str, spec: CollectionSpec) -> None: ...

    def collection_exists(self, name: str) -> bool: ...

    def info(self, name: str) -> CollectionInfo: ...

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None: ...

    def set_payload(self, name: str, ids: Sequence[str], payload: Mapping[str, Any]) -> None: ...

    def delete_ids(self, name: str, ids: Sequence[str]) -> None: ...

    def delete_where(self, name: str, where: Filter) -> None: ...

    def count(self, name: str, where: Filter | None = None) -> int: ...

    def scroll(
        self,
        name: str,
        where: Filter | None = None,
        *,
        limit: int = 256,
        offset: str | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[StoredPoint], str | None]: ...

    def retrieve(
        self, name: str, ids: Sequence[str], *, with_vectors: bool = False
    ) -> list[StoredPoint]: ...

    def search_batch(
        self, name: str, queries: Sequence[VectorQuery]
    ) -> list[list[ScoredPoint]]: ...

    def optimize(self, name: str) -> None: ...

    def close(self) -> None: ...
