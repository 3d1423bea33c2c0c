"""/v1/sources: what the caller's tenant has indexed: list (paginated), delete, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rag.api.auth import Tenant
from rag.api.state import ServiceState, get_state
from rag.errors import BadInputError
from rag.store.base import SparseVector, StoredPoint
from rag.store.catalog import delete_source, iter_points, list_sources, tenant_filter
from rag.types import Modality

router = APIRouter(prefix="/v1/sources", tags=["sources"])
State = Annotated[ServiceState, Depends(get_state)]

SAMPLE_SOURCE = "upload://printing.md"  # samples/text/printing.md uploaded


class SourceInfo(BaseModel):
    source: str = Field(description="An absolute path or upload://name.")
    modality: str
    units: int = Field(description="Searchable units (chunks, images, audio segments).")
    sha256: str = Field(description="SHA-256 of the source bytes that were indexed.")
    indexed_at: str | float | None = None


class SourcePage(BaseModel):
    sources: list[SourceInfo]
    total: int = Field(description="Sources of this tenant in all.")
    offset: int
    limit: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")


class DeleteResult(BaseModel):
    deleted: int = Field(description="Units removed.")


@router.get(
    "",
    response_model=SourcePage,
    summary="List the caller's indexed sources",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "sources": [
                            {
                                "source": SAMPLE_SOURCE,
                                "modality": "text",
                                "units": 3,
                                "sha256": "9f2c…",
                                "indexed_at": "2026-12-04T20:00:00+00:00",
                            }
                        ],
                        "total": 1,
                        "offset": 0,
                        "limit": 100,
                        "next_offset": None,
                    }
                }
            }
        }
    },
)
def get_sources(
    state: State,
    tenant: Tenant,
    offset: Annotated[int, Query(ge=0, description="Sources to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Sources per page.")] = 100,
) -> SourcePage:
    rows = list_sources(state.store, state.settings.store.collection_prefix, tenant)
    page = rows[offset : offset + limit]
    return SourcePage(
        sources=[SourceInfo(**vars(r)) for r in page],
        total=len(rows),
        offset=offset,
        limit=limit,
        next_offset=offset + limit if offset + limit < len(rows) else None,
    )


@router.delete(
    "",
    response_model=DeleteResult,
    summary="Delete one source (or every source under a folder)",
    description=(
        "`source` names exactly one source as listed (`upload://name` or an absolute path); "
        "`prefix` (a folder ending in `/`, or `upload://`) every source under it. Only the "
        "caller's tenant is touched. Deleting what is not there deletes 0 units."
    ),
    responses={200: {"content": {"application/json": {"example": {"deleted": 3}}}}},
)
def delete_sources(
    state: State,
    tenant: Tenant,
    source: Annotated[
        str | None, Query(description="Exactly this source.", examples=[SAMPLE_SOURCE])
    ] = None,
    prefix: Annotated[str | None, Query(description="Every source under this folder.")] = None,
) -> DeleteResult:
    if (source is None) == (prefix is None):
        raise BadInputError("give exactly one of `source` or `prefix`", field="source")
    if prefix is not None and not prefix.endswith("/"):
        raise BadInputError("a prefix is a folder: it ends with '/'", field="prefix")
    with state.index_lock:
        deleted = delete_source(
            state.store,
            state.settings.store.collection_prefix,
            tenant,
            source=source,
            under=prefix,
        )
    return DeleteResult(deleted=deleted)


@router.get(
    "/export",
    summary="Export the caller's points as NDJSON",
    description=(
        "One JSON object per line, per live point: `id`, `collection` modality, `payload` "
        "(source, text, locator, …) and, with `vectors=true`, its dense and sparse vectors."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "application/x-ndjson": {
                    "example": '{"id": "1b4e…", "modality": "text", "payload": {"source": '
                    f'"{SAMPLE_SOURCE}", "text": "…"}}}}\n'
                }
            }
        }
    },
)
def export_sources(
    state: State,
    tenant: Tenant,
    vectors: Annotated[bool, Query(description="Include the vectors.")] = False,
    source: Annotated[str | None, Query(description="Only this source.")] = None,
) -> StreamingResponse:
    prefix = state.settings.store.collection_prefix
    where = tenant_filter(tenant, source=source)

    def lines() -> Iterator[bytes]:
        for modality, point in iter_points(state.store, prefix, where, with_vectors=vectors):
            record = export_record(modality, point, vectors)
            yield json.dumps(record, ensure_ascii=False).encode() + b"\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def export_record(modality: Modality, point: StoredPoint, vectors: bool) -> dict[str, Any]:
    """One NDJSON line of an export (the CLI's local export writes the same)."""
    record: dict[str, Any] = {"id": point.id, "modality": modality.value, "payload": point.payload}
    if vectors and point.vectors is not None:
        record["vectors"] = {k: _vector(v) for k, v in point.vectors.items()}
    return record


def _vector(value: Any) -> Any:
    if isinstance(value, SparseVector):
        return {"indices": list(value.indices), "values": list(value.values)}
    return list(value)
