"""Short recordings of a job transcribed together (indexers.clips), with fake models and the
real embedded engine; the real model's batched path is tested in tests/integration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexers.audio import HeardClip, transcribe_stream
from indexers.clips import ClipBatch
from indexers.pipeline import Indexer
from indexers.report import FileStatus, NullListener
from rag.models.fakes import FakeTranscriber
from rag.models.ports import ClipTranscript, SpeechSegment, TranscriptionInfo
from rag.models.whisper import clip_of, pairwise_bounds, speech_span
from rag.store.base import Filter, MatchValue
from rag.store.edge import EmbeddedStore
from tests.conftest import SettingsFactory
from tests.media import write_wav
from tests.unit.indexers.test_pipeline import Fakes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "qdrant")
    yield s
    s.close()


def _audio(store: EmbeddedStore) -> dict[str, list[dict[str, Any]]]:
    points, _ = store.scroll("mmrag_audio", Filter(must=(MatchValue("state", "live"),)), limit=1000)
    out: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        out.setdefault(Path(p.payload["source"]).name, []).append(p.payload)
    return out


def test_segments_of_the_concatenated_chunks_go_back_to_their_clip() -> None:
    offsets = np.array([0, 16_000, 48_000, 56_000])  # three chunks: 1 s, 2 s, 0.5 s
    assert pairwise_bounds(offsets) == [(0, 16_000), (16_000, 48_000), (48_000, 56_000)]
    assert [clip_of(t, offsets) for t in (0.0, 0.9, 1.0, 2.9, 3.0, 3.4, 9.0)] == [
        0, 0, 1, 1, 2, 2, 2,
    ]  # fmt: skip
    # faster-whisper rounds times to the millisecond: 0.643 for a chunk starting at 0.64302 s
    assert clip_of(0.643, [0, 10_288 + 1, 20_000]) == 1
    assert speech_span([{"start": 800, "end": 4000}, {"start": 9000, "end": 12000}]) == (
        800,
        12_000,
    )
    assert speech_span([]) is None


def test_a_first_pass_done_with_other_files_is_not_repeated(tmp_path: Path) -> None:
    fake = FakeTranscriber(alternatives=["Bye.", "five."])
    path = write_wav(tmp_path / "digit.wav", [(1, True)])
    samples = np.zeros(16_000, dtype=np.float32)
    first = ClipTranscript(TranscriptionInfo("en", 1.0, 1.0), (SpeechSegment(0.1, 0.7, "Bye."),))
    heard = HeardClip(samples, first, almost=("Bye.", "five.", "5."))
    (segment,) = transcribe_stream(path, lambda: fake, window_s=30, alternatives=5, heard=heard)
    assert (segment.text, segment.start, segment.alternatives) == ("Bye.", 0.1, ("five.", "5."))
    assert fake.calls == 0  # neither the first pass nor the hypotheses ran again


def test_a_clip_the_shared_pass_left_empty_is_retried_alone_without_vad(tmp_path: Path) -> None:
    fake = FakeTranscriber(alternatives=["one.", "1."])
    path = write_wav(tmp_path / "word.wav", [(1, True)])
    samples = np.full(16_000, 0.5, dtype=np.float32)
    empty = HeardClip(samples, ClipTranscript(TranscriptionInfo("en", 1.0, 1.0), ()), almost=None)
    (segment,) = transcribe_stream(path, lambda: fake, window_s=30, alternatives=5, heard=empty)
    assert segment.text == "speech at second 0"
    assert fake.vad_calls == [False]


class _ShortClipsAreOneWord(FakeTranscriber):
    """Hears a short clip as one word, "Bye."; longer audio as the base fake does."""

    def iter_segments(
        self, audio: Any, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]:
        info, segments = super().iter_segments(audio, language=language, vad=vad)
        if np.asarray(audio).size > 30 * 16_000:
            return info, segments
        return info, iter([SpeechSegment(0.0, 0.6, "Bye.")])


def test_short_clips_are_transcribed_together_and_long_ones_alone(
    make_settings: SettingsFactory, store: EmbeddedStore, tmp_path: Path
) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    for n in range(5):
        write_wav(root / f"note{n}.wav", [(1, True)])
    write_wav(root / "lecture.wav", [(40, True)])  # longer than one 30 s clip
    (root / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    settings = make_settings(models={"whisper": {"batch_clips": "always", "batch_size": 3}})
    fakes = Fakes()
    fakes.whisper = _ShortClipsAreOneWord(alternatives=["Bye.", "five."], batches_clips=True)
    report = Indexer(settings, fakes.registry(settings), store).index_paths([root])
    by_status = {r.path.rsplit("/", 1)[-1]: r.status for r in report.results}
    assert by_status["broken.wav"] is FileStatus.FAILED
    assert all(by_status[f"note{n}.wav"] is FileStatus.INDEXED for n in range(5))
    assert by_status["lecture.wav"] is FileStatus.INDEXED
    # Five short notes in batches of at most three: 3 + 2 (the broken file and the lecture
    # are not collected); each note's first pass and hypotheses ran in those batches.
    assert fakes.whisper.clip_batches == [3, 2]
    assert fakes.whisper.alternative_batches == [3, 2]
    points = _audio(store)
    assert [(p["text"], p["alternatives"]) for p in points["note0.wav"]] == [("Bye.", ["five."])]
    assert len(points["lecture.wav"]) >= 30


def test_clips_are_not_collected_where_batching_does_not_pay(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """``auto`` on the CPU (and ``never``) reads each file alone, as before."""
    root = tmp_path / "notes"
    root.mkdir()
    for n in range(3):
        write_wav(root / f"note{n}.wav", [(1, True)])
    for mode in ("auto", "never"):
        settings = make_settings(models={"device": "cpu", "whisper": {"batch_clips": mode}})
        fakes = Fakes()
        fakes.whisper = FakeTranscriber(batches_clips=True)
        fresh = EmbeddedStore(tmp_path / mode)
        try:
            Indexer(settings, fakes.registry(settings), fresh).index_paths([root])
        finally:
            fresh.close()
        assert fakes.whisper.clip_batches == []
        assert fakes.whisper.calls == 3


def test_a_model_that_cannot_batch_clips_reads_them_alone(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """A multilingual model without a configured language cannot share one language
    detection between files: the collected clips go back to the per-file path."""
    settings = make_settings(models={"whisper": {"batch_clips": "always"}})
    fakes = Fakes()
    fakes.whisper = FakeTranscriber(batches_clips=False)
    batch: ClipBatch[str] = ClipBatch(fakes.registry(settings), settings)
    for n in range(2):
        assert batch.offer(f"n{n}", write_wav(tmp_path / f"n{n}.wav", [(1, True)]))
    assert batch.drain() == [("n0", None), ("n1", None)]
    assert not batch.offer("n2", write_wav(tmp_path / "n2.wav", [(1, True)]))  # off from now


def test_a_failed_shared_pass_leaves_each_file_to_its_own(
    make_settings: SettingsFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(FakeTranscriber):
        def transcribe_clips(self, clips: Any, *, language: str | None = None) -> Any:
            raise RuntimeError("CUDA out of memory")

    settings = make_settings(models={"whisper": {"batch_clips": "always"}})
    fakes = Fakes()
    fakes.whisper = Broken(batches_clips=True)
    batch: ClipBatch[str] = ClipBatch(fakes.registry(settings), settings)
    for n in range(2):
        batch.offer(f"n{n}", write_wav(tmp_path / f"n{n}.wav", [(1, True)]))
    assert batch.drain() == [("n0", None), ("n1", None)]
    assert "CUDA out of memory" in caplog.text


def test_a_stop_while_clips_are_collected_stops_before_the_next_write(
    make_settings: SettingsFactory, store: EmbeddedStore, tmp_path: Path
) -> None:
    class StopError(Exception):
        pass

    class StopAtSecondWrite(NullListener):
        def __init__(self) -> None:
            self.writing: list[str] = []

        def file_writing(self, path: str) -> None:
            self.writing.append(Path(path).name)
            if len(self.writing) == 2:
                raise StopError

    root = tmp_path / "notes"
    root.mkdir()
    for n in range(4):
        write_wav(root / f"note{n}.wav", [(1, True)])
    settings = make_settings(
        models={"whisper": {"batch_clips": "always"}}, index={"batch_units": 1}
    )
    fakes = Fakes()
    fakes.whisper = FakeTranscriber(batches_clips=True)
    listener = StopAtSecondWrite()
    with pytest.raises(StopError):
        Indexer(settings, fakes.registry(settings), store, listener=listener).index_paths([root])
    assert fakes.whisper.clip_batches == [4]  # all four were collected, read ahead
    assert listener.writing == ["note0.wav", "note1.wav"]
    assert list(_audio(store)) == ["note0.wav"]
