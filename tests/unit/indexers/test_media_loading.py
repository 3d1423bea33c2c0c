from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from indexers.audio import transcribe_stream
from rag.media.audio import SAMPLE_RATE, stream_windows
from rag.media.errors import ExtractionError
from rag.media.image import load_image
from rag.models.fakes import FakeTranscriber
from rag.models.ports import SpeechSegment, TranscriptionInfo
from tests.media import png_bomb_bytes, png_bytes, write_wav

LIMIT = 10_000_000


def test_valid_image(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(40, 30))
    image, mime = load_image(path, max_pixels=LIMIT)
    assert image.size == (40, 30)
    assert image.mode == "RGB"
    assert mime == "image/png"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (png_bytes()[:60], "truncated"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "corrupt|truncated|not a readable"),
        (b"just some text, not an image", "not a readable image"),
        (png_bomb_bytes(), "decompression bomb"),
    ],
)
def test_bad_images_name_the_problem(data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError, match=reason):
        load_image(data, max_pixels=LIMIT)


def test_bomb_is_refused_from_the_header_without_decoding() -> None:
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(ExtractionError, match="decompression bomb"):
        load_image(png_bomb_bytes(), max_pixels=LIMIT)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5_000_000


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image, mime = load_image(buffer.getvalue(), max_pixels=LIMIT)
    assert mime == "image/gif"
    red, _, blue = image.convert("RGB").getpixel((0, 0))  # type: ignore[misc]
    assert red > 200
    assert blue < 50


def test_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (40, 20), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    loaded, _ = load_image(buffer.getvalue(), max_pixels=LIMIT)
    assert loaded.size == (20, 40)


def test_audio_windows_cover_the_recording_and_cut_in_silence(tmp_path: Path) -> None:
    # 25 s tone, 2 s silence, 20 s tone: a 26 s window must cut inside the silence.
    path = write_wav(tmp_path / "a.wav", [(25, True), (2, False), (20, True)])
    windows = list(stream_windows(path, window_s=26, boundary_search_s=5))
    total = sum(w.samples.size for w in windows)
    assert total == 47 * SAMPLE_RATE
    assert len(windows) == 2
    cut_s = windows[1].offset_s
    assert 25.0 <= cut_s <= 27.0
    assert np.abs(windows[0].samples[-400:]).max() < 0.01


def test_audio_from_other_rates_is_resampled(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", [(2, True)], rate=8_000)
    (window,) = stream_windows(path, window_s=30)
    assert abs(window.samples.size - 2 * SAMPLE_RATE) < 200


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "not a decodable audio file|zero length"), (b"\x00\x01garbage" * 50, "not a decodable")],
)
def test_non_audio_bytes(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.mp3"
    path.write_bytes(content)
    with pytest.raises(ExtractionError, match=reason):
        list(stream_windows(path, window_s=30))


def test_header_only_wav_has_no_samples(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "empty.wav", [])
    with pytest.raises(ExtractionError, match="no samples"):
        list(stream_windows(path, window_s=30))


def test_silence_only_audio_yields_no_segment_and_loads_no_model_for_non_audio(
    tmp_path: Path,
) -> None:
    from indexers.audio import StreamResult

    fake = FakeTranscriber()
    path = write_wav(tmp_path / "quiet.wav", [(3, False)])
    result = StreamResult()
    assert list(transcribe_stream(path, lambda: fake, window_s=30, result=result)) == []
    assert result.duration_s == pytest.approx(3.0, abs=0.05)
    assert result.retried_without_vad  # a short clip: tried once more without VAD
    loads: list[int] = []
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")

    def factory() -> FakeTranscriber:
        loads.append(1)
        return fake

    with pytest.raises(ExtractionError):
        list(transcribe_stream(bad, factory, window_s=30))
    assert loads == []


def test_segment_times_are_absolute_across_windows(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", [(31, True), (2, False), (3, True)])
    segments = list(transcribe_stream(path, FakeTranscriber, window_s=30))
    starts = [s.start for s in segments]
    assert starts == sorted(starts)
    assert segments[-1].end > 33.0


def test_a_short_clip_that_vad_empties_is_transcribed_without_vad(tmp_path: Path) -> None:
    fake = FakeTranscriber(hears_only_without_vad=True)
    path = write_wav(tmp_path / "word.wav", [(1, True)])
    segments = list(transcribe_stream(path, lambda: fake, window_s=30))
    assert [s.text for s in segments] == ["speech at second 0"]
    assert fake.vad_calls == [None, False]


def test_a_long_recording_is_never_retried_without_vad(tmp_path: Path) -> None:
    """Without VAD, Whisper invents words over silence: only one-window clips are retried."""
    fake = FakeTranscriber(hears_only_without_vad=True)
    path = write_wav(tmp_path / "long.wav", [(40, True)])
    assert list(transcribe_stream(path, lambda: fake, window_s=30)) == []
    assert False not in fake.vad_calls


class _OneWord(FakeTranscriber):
    """Hears every clip as "Bye."."""

    def iter_segments(
        self, audio: Any, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]:
        info, _ = super().iter_segments(audio, language=language, vad=vad)
        return info, iter([SpeechSegment(0.0, 0.6, "Bye.")])


def test_a_short_clip_keeps_what_whisper_almost_heard(tmp_path: Path) -> None:
    fake = _OneWord(alternatives=["Bye.", "five.", "5.", "five."])
    path = write_wav(tmp_path / "digit.wav", [(1, True)])
    (segment,) = transcribe_stream(path, lambda: fake, window_s=30, alternatives=5)
    assert segment.text == "Bye."
    assert segment.alternatives == ("five.", "5.")  # the best itself and repeats left out
    (plain,) = transcribe_stream(path, lambda: fake, window_s=30, alternatives=0)
    assert plain.alternatives == ()


def test_a_sentence_keeps_no_alternatives(tmp_path: Path) -> None:
    """The hypotheses of a sentence are the sentence with a word changed: they would only
    dilute it (the fake hears "speech at second 0", four words)."""
    fake = FakeTranscriber(alternatives=["speech at second zero", "speech as second 0"])
    path = write_wav(tmp_path / "sentence.wav", [(1, True)])
    (segment,) = transcribe_stream(path, lambda: fake, window_s=30, alternatives=5)
    assert segment.alternatives == ()


class _HearsYouInSilence(FakeTranscriber):
    """Whisper without VAD over silence: "You", with a no-speech probability of 0.95."""

    def iter_segments(
        self, audio: Any, *, language: str | None = None, vad: bool | None = None
    ) -> tuple[TranscriptionInfo, Iterator[SpeechSegment]]:
        info, _ = super().iter_segments(audio, language=language, vad=vad)
        heard = [] if vad is not False else [SpeechSegment(0.0, 3.0, "You", no_speech_prob=0.95)]
        return info, iter(heard)


def test_a_retry_without_vad_does_not_invent_words_in_silence(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "silence.wav", [(3, False)])
    fake = _HearsYouInSilence()
    assert list(transcribe_stream(path, lambda: fake, window_s=30)) == []
    assert fake.vad_calls == [None, False]
