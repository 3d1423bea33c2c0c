"""Transcribe audio segment by segment, window after window (see :mod:`rag.media.audio`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from rag.media.audio import SAMPLE_RATE, AudioWindow, stream_windows
from rag.media.errors import ExtractionError
from rag.models.ports import ClipTranscript, SpeechSegment, TranscriptionInfo

__all__ = [
    "ALTERNATIVES_MAX_WORDS",
    "SHORT_CLIP_S",
    "HeardClip",
    "SegmentTranscriber",
    "StreamResult",
    "TimedSegment",
    "read_short_clip",
    "transcribe_stream",
    "wants_alternatives",
]


# A recording this short is one Whisper window: a voice note, a command, a spoken digit. Only
# such clips are retried without VAD (on long recordings, silence without VAD makes Whisper
# invent text).
SHORT_CLIP_S = 30.0
# Without VAD, Whisper hears "You" in three seconds of digital silence, with a no-speech
# probability of 0.95; the one-word FSDD clips that VAD empties score 0.3-0.55. Whisper's own
# threshold for "this window is silence" is 0.6: a retry keeps only segments below it.
NO_SPEECH_MAX = 0.6
# Only a transcript this short keeps other hypotheses: an isolated word has no context to
# settle what was said ("Bye." for "five"), while the hypotheses of a sentence are that
# sentence again with a word changed, which only dilutes it (LJ Speech keyword search in the
# speech dev set lost 0.06 nDCG@10 with them).
ALTERNATIVES_MAX_WORDS = 3


@dataclass(frozen=True)
class TimedSegment:
    """A transcribed segment with absolute times in the recording."""

    start: float
    end: float
    text: str
    language: str
    # Other whole-clip hypotheses of a short clip's single segment (searched, not shown).
    alternatives: tuple[str, ...] = ()


@dataclass
class StreamResult:
    """What the stream learnt beside its segments (filled as it is consumed)."""

    duration_s: float = 0.0
    retried_without_vad: bool = False
    language: str = "und"


@dataclass(frozen=True)
class HeardClip:
    """A short recording, decoded, and what a first pass over it (with VAD) heard: its
    transcription was batched with other files' (``Transcriber.transcribe_clips``)."""

    samples: npt.NDArray[np.float32]
    first: ClipTranscript
    # The other hypotheses of the first pass's single short segment, when they were searched
    # in the same batch (None: search them here if wanted).
    almost: tuple[str, ...] | None = None


def wants_alternatives(found: Sequence[SpeechSegment], alternatives: int) -> bool:
    """Whether a short clip's transcript keeps other hypotheses: one segment of at most
    ``ALTERNATIVES_MAX_WORDS`` words (see there)."""
    return (
        alternatives > 0
        and len(found) == 1
        and len(found[0].text.split()) <= ALTERNATIVES_MAX_WORDS
    )


def read_short_clip(source: Path, *, window_s: float) -> npt.NDArray[np.float32] | None:
    """The whole recording, when it is one short clip (one window, at most ``SHORT_CLIP_S``);
    None when it is longer or does not decode (reading it on its own reports why)."""
    if _longer_than(source, SHORT_CLIP_S):
        return None
    try:
        windows = stream_windows(source, window_s=window_s)
        first = next(windows, None)
        if first is None or next(windows, None) is not None:
            return None
    except ExtractionError:
        return None
    if first.samples.size > SHORT_CLIP_S * SAMPLE_RATE:
        return None
    return first.samples


def _longer_than(source: Path, seconds: float) -> bool:
    """What the container says of its duration, without decoding (unknown: not longer)."""
    import av

    try:
        with av.open(str(source), mode="r") as container:
            duration = container.duration
    except (av.error.FFmpegError, OSError, ValueError):
        return False
    return duration is not None and duration / av.time_base > seconds + 1.0


class SegmentTranscriber(Protocol):
    def iter_segments(
        self, audio: Any, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]: ...

    def alternatives(self, audio: Any, *, n: int, language: str | None = None) -> list[str]: ...


def transcribe_stream(
    source: Path | BinaryIO,
    transcriber: Callable[[], SegmentTranscriber],
    *,
    window_s: float,
    language: str | None = None,
    alternatives: int = 0,
    result: StreamResult | None = None,
    heard: HeardClip | None = None,
) -> Iterator[TimedSegment]:
    """Segments of the whole recording, in order, with absolute times; nothing when no words
    were recognised (``result`` then tells how long the audio was).

    ``transcriber`` is called (to load the model) only once the audio has decoded, so a file
    that is not audio at all costs no model load. A short clip (one window, at most
    ``SHORT_CLIP_S``) that VAD empties is transcribed again without VAD; with ``alternatives``
    > 0 its single segment, when at most ``ALTERNATIVES_MAX_WORDS`` words, carries that many
    other hypotheses of the clip. ``heard``: the recording was decoded and transcribed with
    others already; only the retry and the hypotheses remain to do here."""
    result = result if result is not None else StreamResult()
    windows = (
        iter([AudioWindow(0.0, heard.samples)])
        if heard is not None
        else stream_windows(source, window_s=window_s)
    )
    current = next(windows, None)
    while current is not None:
        following = next(windows, None)
        window = current
        result.duration_s = window.offset_s + window.samples.size / SAMPLE_RATE
        short = following is None and window.offset_s == 0 and result.duration_s <= SHORT_CLIP_S
        current = following
        if window.samples.size < SAMPLE_RATE // 10:
            continue  # under 100 ms: nothing Whisper can read
        first: tuple[TranscriptionInfo, Iterator[SpeechSegment]] = (
            (heard.first.info, iter(heard.first.segments))
            if heard is not None
            else transcriber().iter_segments(window.samples, language=language)
        )
        info, segments = first
        found = [s for s in segments if s.text.strip()]
        almost = heard.almost if heard is not None else None
        if not found and short:
            model = transcriber()
            info, segments = model.iter_segments(window.samples, language=language, vad=False)
            found = [s for s in segments if s.text.strip() and s.no_speech_prob < NO_SPEECH_MAX]
            result.retried_without_vad = True
            almost = None
        result.language = info.language
        others: tuple[str, ...] = ()
        if short and wants_alternatives(found, alternatives):
            best = found[0].text.strip()
            if almost is None:
                almost = tuple(
                    transcriber().alternatives(window.samples, n=alternatives, language=language)
                )
            others = tuple(dict.fromkeys(a for a in almost if a != best))
        for segment in found:
            yield TimedSegment(
                start=round(window.offset_s + segment.start, 3),
                end=round(window.offset_s + segment.end, 3),
                text=segment.text.strip(),
                language=info.language,
                alternatives=others,
            )
