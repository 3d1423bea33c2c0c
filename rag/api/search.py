"""POST /v1/search (JSON, or multipart with an image or audio clip) and GET /v1/media/{id}."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from rag.api.auth import Tenant
from rag.api.jsonbody import decode_json, reject_surrogates
from rag.api.media import MediaFileResponse
from rag.api.state import ServiceState, get_state
from rag.errors import BadInputError, NotFoundError, PayloadTooLargeError, UnsupportedMediaError
from rag.search.request import SearchFilters, SearchRequest
from rag.search.results import SearchResponse
from rag.store.collections import Field as PayloadField
from rag.store.collections import collection_name
from rag.types import Modality, UnitState

router = APIRouter(prefix="/v1", tags=["search"])
State = Annotated[ServiceState, Depends(get_state)]


class TimeRange(BaseModel):
    start_s: float | None = Field(default=None, ge=0, description="Segments ending after this.")
    end_s: float | None = Field(default=None, ge=0, description="Segments starting before this.")


class SearchBody(BaseModel):
    """A JSON search. Image and audio queries use multipart/form-data instead."""

    model_config = {"extra": "forbid"}

    text: str | None = Field(default=None, description="The query text.")
    k: int | None = Field(default=None, description="Results to return (default 10, max 100).")
    rerank_depth: int | None = Field(
        default=None, description="Candidates to rerank (default 30, 0 turns reranking off)."
    )
    modalities: list[Modality] | None = Field(default=None, description="Default: all three.")
    source_prefix: str | None = Field(
        default=None, description="Only sources under this folder (or this exact source)."
    )
    filters: dict[str, str | int | bool | list[str] | list[int]] = Field(
        default_factory=dict, description='Payload field equality, e.g. {"language": "en"}.'
    )
    time_range: TimeRange | None = Field(default=None, description="Audio segments in this range.")
    explain: bool = Field(default=False, description="Return each stage's scores.")
    offset: int = Field(default=0, description="Skip this many results (pagination).")
    min_score: float | None = Field(
        default=None, description="Drop results scored below this (0-1, calibrated scale)."
    )


# Each example finds something in the bundled samples (`mmrag index samples/`).
EXAMPLES = {
    "text": {
        "summary": "Text query",
        "value": {"text": "red octagon stop sign", "k": 5},
    },
    "images": {
        "summary": "Images only",
        "value": {"text": "horses running on a beach", "modalities": ["image"], "k": 3},
    },
    "filtered": {
        "summary": "Speech only, first minute, with explanations",
        "value": {
            "text": "the history of printing",
            "modalities": ["audio"],
            "time_range": {"start_s": 0, "end_s": 60},
            "explain": True,
        },
    },
    "folder": {
        "summary": "Only sources under a folder (its absolute path, as `mmrag index` saw it)",
        "value": {"text": "clock tower", "source_prefix": "/srv/mmrag/samples/text/"},
    },
}
MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "image": {"type": "string", "format": "binary", "description": "image/* query"},
        "audio": {"type": "string", "format": "binary", "description": "audio/* clip"},
        "k": {"type": "integer"},
        "rerank_depth": {"type": "integer"},
        "modalities": {"type": "string", "description": "Comma-separated: text,image,audio"},
        "source_prefix": {"type": "string"},
        "filters": {"type": "string", "description": "JSON object of payload filters"},
        "start_s": {"type": "number"},
        "end_s": {"type": "number"},
        "explain": {"type": "boolean"},
        "offset": {"type": "integer"},
        "min_score": {"type": "number"},
    },
}
_AUDIO_TYPES = ("audio/", "video/webm", "video/ogg", "application/ogg", "video/mp4")


@router.post(
    "/search",
    response_model=SearchResponse,
    summary="Search text, images and speech with one query",
    description=(
        "Send `application/json` (a text query) or `multipart/form-data` with an `image` and/or "
        "`audio` file (plus optional `text`). Results from every modality come back in one "
        "list, scored on one calibrated scale."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/SearchBody"},
                    "examples": EXAMPLES,
                },
                "multipart/form-data": {"schema": MULTIPART_SCHEMA},
            },
        }
    },
    responses={
        400: {"description": "Empty query, bad bounds, malformed filters, corrupt media"},
        413: {"description": "Upload over MMRAG_INDEX__MAX_UPLOAD_MB"},
        415: {"description": "Wrong media type for an image or audio part"},
        429: {"description": "Model workers saturated; retry after Retry-After seconds"},
    },
)
async def search(request: Request, state: State, tenant: Tenant) -> SearchResponse:
    search_request = await _parse(request, state)
    searcher = state.searcher()
    return await state.model_pool.run(partial(searcher.search, search_request, tenant=tenant))


async def _parse(request: Request, state: ServiceState) -> SearchRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    defaults = state.settings.search
    if content_type == "application/json":
        raw = await request.body()
        try:
            document = decode_json(raw, what="the body") if raw.strip() else None
        except BadInputError as exc:
            raise BadInputError(f"invalid search body: {exc.detail}") from None
        try:
            body = SearchBody.model_validate(document)
        except (ValueError, ValidationError) as exc:
            raise BadInputError(f"invalid search body: {_first_error(exc)}") from exc
        return _request_from(body, None, None, defaults.default_k, defaults.rerank_depth)
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        limit = state.settings.index.max_upload_mb << 20
        async with request.form(max_files=2, max_fields=20) as form:
            image = await _media(form.get("image"), "image", ("image/",), limit)
            audio = await _media(form.get("audio"), "audio", _AUDIO_TYPES, limit)
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        reject_surrogates(fields, "the search form")
        try:
            body = SearchBody.model_validate(_form_fields(fields))
        except (ValueError, ValidationError) as exc:
            raise BadInputError(f"invalid search form: {_first_error(exc)}") from exc
        return _request_from(body, image, audio, defaults.default_k, defaults.rerank_depth)
    raise UnsupportedMediaError(
        f"send application/json or multipart/form-data, not {content_type or 'nothing'}"
    )


def _form_fields(fields: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("text", "source_prefix"):
        if fields.get(key):
            out[key] = fields[key]
    for key in ("k", "rerank_depth", "offset", "min_score"):
        if fields.get(key):
            out[key] = fields[key]
    if fields.get("modalities"):
        out["modalities"] = [m.strip() for m in fields["modalities"].split(",") if m.strip()]
    if fields.get("filters"):
        out["filters"] = decode_json(fields["filters"].encode(), what="filters")
    if fields.get("start_s") or fields.get("end_s"):
        out["time_range"] = {k: fields[k] for k in ("start_s", "end_s") if fields.get(k)}
    if fields.get("explain"):
        out["explain"] = fields["explain"].lower() in ("1", "true", "yes", "on")
    unknown = set(fields) - {
        "text",
        "source_prefix",
        "k",
        "rerank_depth",
        "modalities",
        "filters",
        "start_s",
        "end_s",
        "explain",
        "offset",
        "min_score",
    }
    if unknown:
        raise BadInputError(f"unknown form fields: {', '.join(sorted(unknown))}")
    return out


async def _media(part: Any, name: str, allowed: tuple[str, ...], limit: int) -> bytes | None:
    if part is None or isinstance(part, str):
        return None
    assert isinstance(part, UploadFile)
    declared = (part.content_type or "").lower()
    if not declared.startswith(allowed):
        raise UnsupportedMediaError(
            f"the {name} part is {declared or 'untyped'}; expected {' or '.join(allowed)}",
            field=name,
        )
    data = await part.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"the {name} part is larger than {limit >> 20} MB (MMRAG_INDEX__MAX_UPLOAD_MB)",
            field=name,
        )
    if not data:
        raise BadInputError(f"the {name} part is empty", field=name)
    return data


def _request_from(
    body: SearchBody, image: bytes | None, audio: bytes | None, default_k: int, default_depth: int
) -> SearchRequest:
    filters = SearchFilters(
        modalities=tuple(dict.fromkeys(body.modalities)) if body.modalities else tuple(Modality),
        source_prefix=body.source_prefix,
        fields=body.filters,
        start_s=body.time_range.start_s if body.time_range else None,
        end_s=body.time_range.end_s if body.time_range else None,
    )
    return SearchRequest(
        text=body.text,
        image=image,
        audio=audio,
        k=body.k if body.k is not None else default_k,
        rerank_depth=body.rerank_depth if body.rerank_depth is not None else default_depth,
        filters=filters,
        explain=body.explain,
        offset=body.offset,
        min_score=body.min_score,
    )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
    return str(exc)


@router.get(
    "/media/{point_id}",
    summary="The original file of a result (images and audio inline, with range requests)",
    description="Serves live points only: a point still pending (its source is being "
    "indexed, or was interrupted) is a 404, as it is to search.",
    responses={404: {"description": "No such result for this tenant"}},
)
def media(
    point_id: str,
    state: State,
    tenant: Tenant,
    thumb: Annotated[
        int | None,
        Query(
            ge=16,
            le=1024,
            description="Image thumbnail size (made at index time, at most 512 px; a larger "
            "size gets the 512-px thumbnail)",
        ),
    ] = None,
) -> Response:
    import uuid
    from pathlib import Path

    try:
        uuid.UUID(point_id)
    except ValueError as exc:
        raise NotFoundError(f"no result {point_id!r}") from exc
    for modality in Modality:
        name = collection_name(state.settings.store.collection_prefix, modality)
        if not state.store.collection_exists(name):
            continue
        for point in state.store.retrieve(name, [point_id]):
            if point.payload.get(PayloadField.TENANT) != tenant:
                continue  # another tenant's point is indistinguishable from a missing one
            if point.payload.get(PayloadField.STATE) != UnitState.LIVE:
                continue  # pending: not indexed yet (or being rolled back), as search sees it
            if thumb and modality is Modality.IMAGE:
                return _thumbnail(state.settings.data_dir, point.payload, thumb)
            path = Path(str(point.payload.get("path", "")))
            if not path.is_file():
                raise NotFoundError("the original file is no longer where it was indexed")
            mime = str(point.payload.get("mime") or "application/octet-stream")
            return MediaFileResponse(path, media_type=_safe_type(mime), headers=_media_headers())
    raise NotFoundError(f"no result {point_id!r}")


def _safe_type(mime: str) -> str:
    # Never serve indexed HTML (or anything scriptable) as a page on this origin.
    if mime in ("text/html", "application/xhtml+xml", "image/svg+xml"):
        return "text/plain; charset=utf-8"
    return mime


def _media_headers() -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, max-age=3600",
    }


def _thumbnail(data_dir: Any, payload: dict[str, Any], size: int) -> Response:
    """The thumbnail made when the image was indexed, scaled to ``size``: no request decodes
    the original (a 64-megapixel photo would cost seconds and a gigabyte per request)."""
    from rag.media.thumbnails import read_thumbnail

    data = read_thumbnail(data_dir, str(payload.get(PayloadField.THUMBNAIL) or ""), size)
    if data is None:
        raise NotFoundError("no thumbnail was stored for this image: index it again")
    return Response(data, media_type="image/jpeg", headers=_media_headers())
