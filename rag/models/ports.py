"""The ports: one small Protocol per pluggable model kind, and the data they exchange.

The registry (:mod:`rag.models.registry`) returns these types, the real implementations
(``text``, ``clip``, ``whisper``, ``ocr``, ``reranker``, ``llm``) and the fakes
(:mod:`rag.models.fakes`) fit them, and mypy checks both against them. Nothing here
imports a model library, so the module is cheap to import anywhere.

    kind       port               real implementation
    text       TextEmbedder       SentenceTransformerEmbedder (sentence-transformers)
    clip       ImageTextEncoder   ClipEncoder (open_clip)
    whisper    Transcriber        WhisperTranscriber (faster-whisper)
    ocr        OcrReader          OcrEngine (rapidocr-onnxruntime)
    reranker   PairScorer         CrossEncoderScorer (sentence-transformers)
    llm        LLMBackend         OpenAICompatibleLLM, TransformersLLM
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "AudioInput",
    "ChatMessage",
    "ChatTurn",
    "ImageTextEncoder",
    "LLMBackend",
    "MultilingualEmbedder",
    "OcrLine",
    "OcrReader",
    "PairScorer",
    "SpeechSegment",
    "TextEmbedder",
    "Transcriber",
    "Transcription",
    "TranscriptionInfo",
    "Vectors",
]

Vectors = npt.NDArray[np.float32]
AudioInput = str | Path | BinaryIO | npt.NDArray[np.float32]


# -- text ------------------------------------------------------------------------------
@runtime_checkable
class TextEmbedder(Protocol):
    """Turns texts into L2-normalised vectors of one fixed size."""

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def version(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...


class MultilingualEmbedder(Protocol):
    """A second text embedder that covers many languages (named vector ``text_multi``)."""

    @property
    def dim(self) -> int: ...

    @property
    def version(self) -> str: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


# -- image-text ------------------------------------------------------------------------
class ImageTextEncoder(Protocol):
    """Images (image tower) and texts (text tower) into one normalised space."""

    @property
    def dim(self) -> int: ...

    @property
    def version(self) -> str: ...

    @property
    def is_random(self) -> bool: ...

    def encode_images(self, images: Sequence[Image.Image]) -> Vectors: ...

    def encode_texts(self, texts: Sequence[str]) -> Vectors: ...


# -- speech ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SpeechSegment:
    """One recognised stretch of speech, times in seconds from the start of the audio."""

    start: float
    end: float
    text: str
    no_speech_prob: float = 0.0  # the model's probability that the stretch holds no speech


@dataclass(frozen=True)
class TranscriptionInfo:
    language: str
    language_probability: float
    duration: float


@dataclass(frozen=True)
class Transcription:
    info: TranscriptionInfo
    segments: tuple[SpeechSegment, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()


@dataclass(frozen=True)
class ClipTranscript:
    """What a first pass over one short recording heard (``Transcriber.transcribe_clips``)."""

    info: TranscriptionInfo
    segments: tuple[SpeechSegment, ...]


class Transcriber(Protocol):
    """Speech to timed text; segments are produced as the iterator is consumed."""

    @property
    def version(self) -> str: ...

    @property
    def multilingual(self) -> bool: ...

    def iter_segments(
        self, audio: AudioInput, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]:
        """``vad``: filter out non-speech first (None: as configured)."""
        ...

    def transcribe(self, audio: AudioInput, *, language: str | None = None) -> Transcription: ...

    @property
    def batches_clips(self) -> bool:
        """Whether ``transcribe_clips`` should be used for the short recordings of a job."""
        ...

    def transcribe_clips(
        self, clips: Sequence[Any], *, language: str | None = None
    ) -> list[ClipTranscript]:
        """Short recordings (16 kHz samples, at most 30 s each) transcribed together, with
        VAD; one result per clip, in order, times relative to the clip."""
        ...

    def alternatives(self, audio: Any, *, n: int, language: str | None = None) -> list[str]:
        """The ``n`` best whole-clip hypotheses of a short clip (at most 30 s of samples),
        best first: what the recogniser almost heard."""
        ...

    def alternatives_of(
        self, clips: Sequence[Any], *, n: int, language: str | None = None
    ) -> list[list[str]]:
        """``alternatives`` of several short clips, in batches; one list per clip."""
        ...


# -- OCR -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: tuple[tuple[float, float], ...]


class OcrReader(Protocol):
    """Reads text lines from an image, top to bottom."""

    @property
    def version(self) -> str: ...

    def read(self, image: Image.Image) -> list[OcrLine]: ...

    def text(self, image: Image.Image) -> str: ...


# -- pair scoring ----------------------------------------------------------------------
class PairScorer(Protocol):
    """Scores (query, passage) pairs; higher is more relevant, in [0, 1]."""

    @property
    def version(self) -> str: ...

    def score(self, query: str, passages: Sequence[str]) -> Vectors: ...


# -- LLM -------------------------------------------------------------------------------
class ChatTurn(Protocol):
    """What a backend reads of a message: any object with a role and a content fits, so a
    library can keep its own message type (``translators.llm.ChatMessage`` does)."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model. Output is a proposal: callers validate it, never trust it."""

    @property
    def version(self) -> str: ...

    def complete(
        self,
        messages: Sequence[ChatTurn],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str: ...
