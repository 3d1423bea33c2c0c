"""Short recordings of an indexing job, transcribed together.

Whisper reads 30 s windows whatever the recording's length, so a job of one-word voice notes
spends one encoder pass and one beam search per file. Collected here (decoded, up to
``MMRAG_MODELS__WHISPER__BATCH_SIZE`` of them), their speech spans are decoded in batches by
faster-whisper's batched pipeline (``Transcriber.transcribe_clips``); each file then takes
the usual path (``indexers.audio.transcribe_stream``) with that first pass done, and with the other
hypotheses of the clips that keep them (one-word notes) searched in one batch too; only a
clip that VAD emptied is retried on its own. Long recordings are not collected:
their own VAD-cut chunks already fill a batch on CUDA.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from indexers.audio import HeardClip, read_short_clip, wants_alternatives

if TYPE_CHECKING:
    from rag.models.ports import ClipTranscript, Transcriber
    from rag.models.registry import ModelRegistry
    from rag.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ClipBatch(Generic[T]):
    """Collects short recordings (each with the caller's ``item``) and transcribes them
    together when drained. Not thread-safe: one per indexing run."""

    def __init__(self, models: ModelRegistry, settings: Settings) -> None:
        self._models = models
        self._spec = settings.models.whisper
        self._device = settings.models.device
        self._window_s = settings.index.audio_window_s
        self._enabled: bool | None = None
        self._pending: list[tuple[T, npt.NDArray[np.float32]]] = []

    def enabled(self) -> bool:
        """Whether collecting can pay, from the settings alone (no model is loaded)."""
        if self._enabled is None:
            spec = self._spec
            if spec.batch_clips == "never" or not spec.vad_filter:
                self._enabled = False
            elif spec.batch_clips == "always":
                self._enabled = True
            else:
                from rag.models.device import ctranslate2_device

                self._enabled = ctranslate2_device(self._device) == "cuda"
        return self._enabled

    def offer(self, item: T, path: Path) -> bool:
        """Collect the recording at ``path`` if it is a short clip (it is decoded here)."""
        if not self.enabled():
            return False
        samples = read_short_clip(path, window_s=self._window_s)
        if samples is None:
            return False
        self._pending.append((item, samples))
        return True

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def full(self) -> bool:
        return len(self._pending) >= self._spec.batch_size

    def drain(self) -> list[tuple[T, HeardClip | None]]:
        """Every collected item, in order, with what the shared pass heard (None: transcribe
        it on its own, as when only one was collected or the shared pass failed)."""
        pending, self._pending = self._pending, []
        alone: list[tuple[T, HeardClip | None]] = [(item, None) for item, _ in pending]
        if len(pending) < 2:
            return alone
        try:
            transcriber = self._models.whisper()
            if not transcriber.batches_clips:
                self._enabled = False  # e.g. a multilingual model without a language
                return alone
            firsts = transcriber.transcribe_clips(
                [samples for _, samples in pending], language=self._spec.language
            )
            almost = self._alternatives(transcriber, pending, firsts)
        except Exception as exc:  # noqa: BLE001 - each file then fails (or not) on its own
            logger.warning(
                "transcribing %d short recordings together failed (%s: %s); "
                "each is transcribed on its own",
                len(pending),
                type(exc).__name__,
                exc,
            )
            return alone
        return [
            (item, HeardClip(samples, first, almost.get(i)))
            for i, ((item, samples), first) in enumerate(zip(pending, firsts, strict=True))
        ]

    def _alternatives(
        self,
        transcriber: Transcriber,
        pending: list[tuple[T, npt.NDArray[np.float32]]],
        firsts: list[ClipTranscript],
    ) -> dict[int, tuple[str, ...]]:
        """The other hypotheses of every clip whose first pass keeps them, in one batch."""
        n = self._spec.alternatives
        wanted = [
            i
            for i, first in enumerate(firsts)
            if wants_alternatives([s for s in first.segments if s.text.strip()], n)
        ]
        if not wanted:
            return {}
        found = transcriber.alternatives_of(
            [pending[i][1] for i in wanted], n=n, language=self._spec.language
        )
        return {i: tuple(texts) for i, texts in zip(wanted, found, strict=True)}
