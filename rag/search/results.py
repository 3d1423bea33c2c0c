"""Typed search results."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ResultLocator(BaseModel):
    char_start: int | None = None
    char_end: int | None = None
    page: int | None = None
    record: int | None = None
    start_s: float | None = None
    end_s: float | None = None


class SearchHit(BaseModel):
    id: str = Field(description="Point id (stable for the same bytes, unit and models).")
    modality: str = Field(description="text, image or audio")
    score: float = Field(
        description="Calibrated relevance in [0, 1], comparable across modalities."
    )
    source: str = Field(description="The source: an absolute path or upload://name.")
    source_name: str
    locator: ResultLocator
    snippet: str = Field(description="Chunk text, OCR text or transcript segment.")
    media_url: str = Field(description="Where the original can be fetched (GET /v1/media/{id}).")
    title: str | None = None
    language: str | None = Field(default=None, description="The language Whisper heard (audio).")
    lang: str | None = Field(
        default=None, description="Identified language of the unit's text (ISO 639-1, und)."
    )
    explain: dict[str, Any] | None = Field(
        default=None, description="Each stage's scores (explain=true only)."
    )


class QueryInfo(BaseModel):
    text: str | None = None
    transcript: str | None = None
    ocr_text: str | None = None
    language: str | None = Field(default=None, description="The language Whisper heard (audio).")
    lang: str | None = Field(
        default=None,
        description="Identified language of the text searched (ISO 639-1, und when unsure).",
    )


class SearchResponse(BaseModel):
    results: list[SearchHit]
    query: QueryInfo
    timings_ms: dict[str, float]
    calibration: str = Field(description="Version of the score calibration used.")
    warnings: list[str] = Field(default_factory=list)
