"""Sources -> units: text chunks, images (with OCR text), speech segments."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexers.sources import SourceFile
from rag.types import Locator, Modality

if TYPE_CHECKING:
    from PIL import Image

    from indexers.audio import HeardClip
    from indexers.text import ChunkBudget
    from indexers.text.sections import TextSection
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
    # Words searched beside ``text`` by every text signal (a short clip's other hypotheses; a
    # wordless clip's file name), never shown as the unit's text.
    search_extra: str = ""
    warning: str | None = None  # reported for the source (the unit is still indexed)


def units_for(
    source: SourceFile,
    models: ModelRegistry,
    settings: IndexSettings,
    *,
    heard: HeardClip | None = None,
) -> Iterator[UnitDraft]:
    """``heard``: an audio source already transcribed with others (``indexers.clips``)."""
    if source.modality is Modality.TEXT:
        return text_units(source, models, settings)
    if source.modality is Modality.IMAGE:
        return image_units(source, models, settings)
    return audio_units(source, models, settings, heard=heard)


def text_units(
    source: SourceFile, models: ModelRegistry, settings: IndexSettings
) -> Iterator[UnitDraft]:
    from indexers.text import chunk_sections_by, extract_sections

    models.text()
    budget_of = section_budgets(models, settings)
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

    for chunk in chunk_sections_by(remember_titles(), budget_of):
        locator = Locator(
            char_start=chunk.char_start,
            char_end=chunk.char_end,
            page=chunk.page,
            record=chunk.record,
        )
        title = titles.get((chunk.page, chunk.record))
        yield UnitDraft(locator, chunk.text, extra={"title": title} if title else {})


def section_budgets(
    models: ModelRegistry, settings: IndexSettings
) -> Callable[[TextSection], ChunkBudget]:
    """The chunk budget of a section: the text model's tokens when it covers the section's
    language, else characters up to what the multilingual encoder reads.

    A sentence encoder's token limit exists because it truncates beyond it. For a language
    the text model was not trained on its tokenizer shatters words into many pieces (Greek,
    Arabic, Hindi: about four times as many as English), so its budget would cut a passage
    into fragments that the signals that do read the language (lexical matching, the
    multilingual encoder) then see only piecemeal: BM25 over such fragments ranked XQuAD
    passages 0.016-0.033 nDCG@10 lower than over whole passages in Greek, Arabic, Russian and
    Hindi. Such sections are cut by characters instead (``approximate_tokens``, up to the
    multilingual encoder's ``max_chars``); the text model's vector of them reads their start,
    and fusion weights it as a model outside its languages.
    """
    from indexers.text import ChunkBudget, approximate_tokens
    from indexers.text.chunking import CHARS_PER_TOKEN
    from rag.langid import covers, detect

    embedder = models.text()
    spec = models.settings.models
    overlap = settings.chunk_overlap_tokens
    by_model = ChunkBudget(embedder.count_tokens, embedder.max_tokens, overlap)
    by_chars = ChunkBudget(
        approximate_tokens,
        max(spec.multilingual.max_chars // CHARS_PER_TOKEN, overlap + 1),
        overlap,
    )

    def budget_of(section: TextSection) -> ChunkBudget:
        return by_model if covers(spec.text.languages, detect(section.text)) else by_chars

    return budget_of


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
    source: SourceFile,
    models: ModelRegistry,
    settings: IndexSettings,
    *,
    heard: HeardClip | None = None,
) -> Iterator[UnitDraft]:
    from indexers.audio import StreamResult, TimedSegment, transcribe_stream

    whisper = models.settings.models.whisper
    stream = StreamResult()
    segments = transcribe_stream(
        source.path,
        models.whisper,
        window_s=settings.audio_window_s,
        language=whisper.language,
        alternatives=whisper.alternatives,
        result=stream,
        heard=heard,
    )
    # Hold one segment back so each unit can carry its neighbours' text.
    previous: TimedSegment | None = None
    current: TimedSegment | None = None
    for upcoming in segments:
        if current is not None:
            yield _segment_unit(current, previous, upcoming)
        previous, current = current, upcoming
    if current is None:
        # Decodable audio in which no word was recognised, even without VAD: indexed as one
        # unit without text (found by its file name and metadata), reported as a warning.
        yield UnitDraft(
            Locator(start_s=0.0, end_s=round(stream.duration_s, 3)),
            "",
            extra={"language": stream.language, "context": "", "transcript": "none"},
            search_extra=" ".join(_NAME_WORDS.findall(Path(source.name).stem)),
            warning="no words recognised (indexed by its file name and metadata)",
        )
        return
    yield _segment_unit(current, previous, None)


_NAME_WORDS = re.compile(r"[^\W_]+")


def _segment_unit(segment: Any, previous: Any | None, following: Any | None) -> UnitDraft:
    context = " ".join(s.text for s in (previous, segment, following) if s is not None)
    extra: dict[str, Any] = {"language": segment.language, "context": context}
    if segment.alternatives:
        extra["alternatives"] = list(segment.alternatives)
    return UnitDraft(
        Locator(start_s=segment.start, end_s=segment.end),
        segment.text,
        extra=extra,
        search_extra=" ".join(segment.alternatives),
    )
