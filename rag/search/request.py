"""What a search asks for, validated: query parts, filters, bounds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rag.errors import BadInputError
from rag.settings import SearchSettings
from rag.store.base import Filter, MatchAny, MatchValue, Range
from rag.store.collections import Field
from rag.types import Modality

# Payload fields a caller may filter on (tenant and state are never theirs to set).
_FIELD_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
RESERVED_FIELDS = frozenset({Field.TENANT, Field.STATE, "models_key"})


@dataclass(frozen=True)
class SearchFilters:
    modalities: tuple[Modality, ...] = tuple(Modality)
    source_prefix: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    start_s: float | None = None  # audio segments overlapping [start_s, end_s]
    end_s: float | None = None

    @property
    def has_time_range(self) -> bool:
        return self.start_s is not None or self.end_s is not None


@dataclass(frozen=True)
class SearchRequest:
    text: str | None = None
    image: bytes | None = None
    audio: bytes | None = None
    k: int = 10
    rerank_depth: int = 30
    filters: SearchFilters = SearchFilters()
    explain: bool = False
    # pagination: skip this many of the ranked results; and a cut-off on the final score
    offset: int = 0
    min_score: float | None = None


def validate(request: SearchRequest, settings: SearchSettings) -> SearchRequest:
    """Reject what cannot be searched, with the problem named."""
    text = request.text.strip() if request.text else None
    if not text and not request.image and not request.audio:
        raise BadInputError("empty query: send text, an image or an audio clip", field="query")
    if text and len(text) > settings.max_query_chars:
        raise BadInputError(
            f"query text is {len(text)} characters; the limit is {settings.max_query_chars}",
            field="text",
        )
    if not 1 <= request.k <= settings.max_k:
        raise BadInputError(f"k must be between 1 and {settings.max_k}", field="k")
    if not 0 <= request.rerank_depth <= settings.max_rerank_depth:
        raise BadInputError(
            f"rerank_depth must be between 0 and {settings.max_rerank_depth}", field="rerank_depth"
        )
    if not 0 <= request.offset <= settings.max_k * 10:
        raise BadInputError(f"offset must be between 0 and {settings.max_k * 10}", field="offset")
    if request.min_score is not None and not 0.0 <= request.min_score <= 1.0:
        raise BadInputError("min_score must be between 0 and 1", field="min_score")
    _check_filters(request.filters)
    return SearchRequest(
        text=text,
        image=request.image,
        audio=request.audio,
        k=request.k,
        rerank_depth=request.rerank_depth,
        filters=request.filters,
        explain=request.explain,
        offset=request.offset,
        min_score=request.min_score,
    )


def _check_filters(filters: SearchFilters) -> None:
    if not filters.modalities:
        raise BadInputError("modalities is empty: name at least one", field="modalities")
    for key, value in filters.fields.items():
        if not _FIELD_KEY.match(key) or key in RESERVED_FIELDS:
            raise BadInputError(f"cannot filter on field {key!r}", field="filters")
        if isinstance(value, list):
            if not value or not all(
                isinstance(v, str | int) and not isinstance(v, bool) for v in value
            ):
                raise BadInputError(
                    f"filter {key!r}: a list must hold strings or integers", field="filters"
                )
        elif not isinstance(value, str | int | bool):
            raise BadInputError(
                f"filter {key!r} must be a string, integer or boolean, or a list of them",
                field="filters",
            )
        if isinstance(value, list) and len({type(v) for v in value}) > 1:
            raise BadInputError(f"filter {key!r} mixes value types", field="filters")
    if (
        filters.start_s is not None
        and filters.end_s is not None
        and filters.start_s > filters.end_s
    ):
        raise BadInputError("start_s is after end_s", field="time_range")
    for bound in (filters.start_s, filters.end_s):
        if bound is not None and bound < 0:
            raise BadInputError("time range bounds must be >= 0 seconds", field="time_range")


def store_filter(tenant: str, filters: SearchFilters) -> Filter:
    """The filter every store query of a search carries; tenant and liveness come first."""
    must: list[Any] = [MatchValue(Field.TENANT, tenant), MatchValue(Field.STATE, "live")]
    if filters.source_prefix:
        prefix = filters.source_prefix
        if prefix.endswith("://"):
            must.append(MatchValue(Field.SOURCE_PREFIXES, prefix))
        else:
            # a folder (every source under it) or one source named in full
            folder = prefix.rstrip("/") + "/"
            must.append(
                Filter(
                    should=(
                        MatchValue(Field.SOURCE_PREFIXES, folder),
                        MatchValue(Field.SOURCE, prefix),
                    )
                )
            )
    for key, value in sorted(filters.fields.items()):
        if isinstance(value, list):
            must.append(MatchAny(key, tuple(value)))
        else:
            must.append(MatchValue(key, value))
    if filters.end_s is not None:
        must.append(Range(Field.START_S, lte=filters.end_s))
    if filters.start_s is not None:
        must.append(Range(Field.END_S, gte=filters.start_s))
    return Filter(must=tuple(must))


def collections_for(filters: SearchFilters) -> tuple[Modality, ...]:
    """A time range only means something for speech."""
    if filters.has_time_range:
        return tuple(m for m in filters.modalities if m is Modality.AUDIO)
    return filters.modalities
