"""Transcribe audio segment by segment, window after window (see :mod:`rag.media.audio`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from rag.media.audio import SAMPLE_RATE, stream_windows
from rag.media.errors import ExtractionError
from rag.models.ports import SpeechSegment, TranscriptionInfo

__all__ = ["SegmentTranscriber", "TimedSegment", "transcribe_stream"]


@dataclass(frozen=True)
class TimedSegment:
    """A transcribed segment with absolute times in the recording."""

    start: float
    end: float
    text: str
    language: str


class SegmentTranscriber(Protocol):
    def iter_segments(
        self, audio: Any, *, language: str | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]: ...


def transcribe_stream(
    source: Path | BinaryIO,
    transcriber: Callable[[], SegmentTranscriber],
    *,
    window_s: float,
    language: str | None = None,
) -> Iterator[TimedSegment]:
    """Segments of the whole recording, in order, with absolute times.

    ``transcriber`` is called (to load the model) only once the audio has decoded, so a file
    that is not audio at all costs no model load."""
    spoken = False
    for window in stream_windows(source, window_s=window_s):
        if window.samples.size < SAMPLE_RATE // 10:
            continue  # under 100 ms: nothing Whisper can read
        info, segments = transcriber().iter_segments(window.samples, language=language)
        for segment in segments:
            text = segment.text.strip()
            if not text:
                continue
            spoken = True
            yield TimedSegment(
                start=round(window.offset_s + segment.start, 3),
                end=round(window.offset_s + segment.end, 3),
                text=text,
                language=info.language,
            )
    if not spoken:
        raise ExtractionError("no speech detected (silent or non-speech audio)")
