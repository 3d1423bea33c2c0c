"""Sources -> units: text chunks, images (with OCR text), speech segments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from indexers.sources import SourceFile
from rag.media.errors import ExtractionError
from rag.types import Locator, Modality

if TYPE_CHECKING:
    from PIL import Image

    from rag.models.ports import OcrReader
    from rag.models.registry import ModelRegistry
    from rag.settings import IndexSettings

# CLIP looks at 224 px; a bounded copy keeps batches of images small in memory.
CLIP_MAX_SIDE = 448
# Speech segments keep this many neighbours' text on each side, for reranking context.
CONTEXT_SEGMENTS = 1


@dataclass
class UnitDraft:
    """A unit before embedding."""

    locator: Locator
    text: str  # chunk text, OCR text or transcript (may be empty for an image)
    image: Image.Image | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def units_for(
    source: SourceFile, models: ModelRegistry, settings: IndexSettings
) -> Iterator[UnitDraft]:
    if source.modality is Modality.TEXT:
        return text_units(source, models, settings)
    if source.modality is Modality.IMAGE:
        return image_units(source, models, settings)
    return audio_units(source, models, settings)


def text_units(
    source: SourceFile, models: ModelRegistry, settings: IndexSettings
) -> Iterator[UnitDraft]:
    from indexers.text import chunk_sections, extract_sections

    embedder = models.text()
    sections = extract_sections(
        source.path,
        json_text_field=settings.json_text_field,
        json_title_field=settings.json_title_field or None,
        max_bytes=settings.max_file_mb << 20,
    )
    titles: dict[tuple[int | None, int | None], str] = {}

    def remember_titles() -> Iterator[Any]:
        for section in sections:
            if section.title:
                titles[(section.page, section.record)] = section.title
            yield section

    for chunk in chunk_sections(
        remember_titles(),
        count_tokens=embedder.count_tokens,
        max_tokens=embedder.max_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
    ):
        locator = Locator(
            char_start=chunk.char_start,
            char_end=chunk.char_end,
            page=chunk.page,
            record=chunk.record,
        )
        title = titles.get((chunk.page, chunk.record))
        yield UnitDraft(locator, chunk.text, extra={"title": title} if title else {})


def image_units(
    source: SourceFile, models: ModelRegistry, settings: IndexSettings
) -> Iterator[UnitDraft]:
    from rag.media.image import load_image, ocr_copy

    image, mime = load_image(source.path, max_pixels=settings.max_image_pixels)
    ocr_text = _ocr_text(models, ocr_copy(image))
    small = image
    if max(image.size) > CLIP_MAX_SIDE:
        small = image.copy()
        small.thumbnail((CLIP_MAX_SIDE, CLIP_MAX_SIDE))
    extra = {"width": image.width, "height": image.height, "mime": mime}
    yield UnitDraft(Locator(), ocr_text, image=small, extra=extra)


def _ocr_text(models: ModelRegistry, image: Image.Image) -> str:
    if not models.settings.models.ocr.enabled:
        return ""
    engine: OcrReader = models.ocr()
    return engine.text(image)


def audio_units(
    source: SourceFile, models: ModelRegistry, settings: IndexSettings
) -> Iterator[UnitDraft]:
    from indexers.audio import TimedSegment, transcribe_stream

    segments = transcribe_stream(
        source.path,
        models.whisper,
        window_s=settings.audio_window_s,
        language=models.settings.models.whisper.language,
    )
    # Hold one segment back so each unit can carry its neighbours' text.
    previous: TimedSegment | None = None
    current: TimedSegment | None = None
    for upcoming in segments:
        if current is not None:
            yield _segment_unit(current, previous, upcoming)
        previous, current = current, upcoming
    if current is None:
        raise ExtractionError("no speech detected")
    yield _segment_unit(current, previous, None)


def _segment_unit(segment: Any, previous: Any | None, following: Any | None) -> UnitDraft:
    context = " ".join(s.text for s in (previous, segment, following) if s is not None)
    return UnitDraft(
        Locator(start_s=segment.start, end_s=segment.end),
        segment.text,
        extra={"language": segment.language, "context": context},
    )
