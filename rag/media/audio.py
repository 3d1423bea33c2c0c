"""Decode audio as a stream of fixed-size windows.

A one-hour recording is never held in memory whole: it is decoded and resampled (16 kHz mono
float32, what Whisper takes) in windows of ``window_s`` seconds, each cut at the quietest
moment near its end so that words are not split.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from rag.media.errors import ExtractionError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
_QUIET_FRAME = 400  # 25 ms


@dataclass(frozen=True)
class AudioWindow:
    offset_s: float
    samples: npt.NDArray[np.float32]


def stream_windows(
    source: Path | BinaryIO, *, window_s: float, boundary_search_s: float = 5.0
) -> Iterator[AudioWindow]:
    import av

    window = int(window_s * SAMPLE_RATE)
    search = int(min(boundary_search_s, window_s / 4) * SAMPLE_RATE)
    try:
        container = av.open(str(source) if isinstance(source, Path) else source, mode="r")
    except av.error.FFmpegError as exc:
        raise ExtractionError(f"not a decodable audio file: {_ffmpeg_reason(exc)}") from exc
    except (OSError, ValueError) as exc:
        raise ExtractionError(f"cannot open audio: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise ExtractionError("not an audio file: it has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        pending: list[npt.NDArray[np.float32]] = []
        buffered = 0
        emitted = 0
        for frame in _frames(container, stream):
            for out in resampler.resample(frame):
                chunk = np.ascontiguousarray(out.to_ndarray().reshape(-1), dtype=np.float32)
                pending.append(chunk)
                buffered += chunk.size
            while buffered >= window + search:
                samples = np.concatenate(pending)
                cut = _quiet_cut(samples, window, search)
                yield AudioWindow(emitted / SAMPLE_RATE, samples[:cut])
                emitted += cut
                rest = samples[cut:]
                pending, buffered = [rest], rest.size
        for out in resampler.resample(None):
            chunk = np.ascontiguousarray(out.to_ndarray().reshape(-1), dtype=np.float32)
            pending.append(chunk)
            buffered += chunk.size
        if buffered:
            yield AudioWindow(emitted / SAMPLE_RATE, np.concatenate(pending))
            emitted += buffered
    if emitted == 0:
        raise ExtractionError("the audio has no samples (zero length)")


def _frames(container: Any, stream: Any) -> Iterator[Any]:
    """Decoded frames; a corrupt frame in the middle is skipped, as ffmpeg itself does."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            raise ExtractionError(f"not a decodable audio file: {_ffmpeg_reason(exc)}") from exc
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            logger.debug("skipping an undecodable audio packet")


def _quiet_cut(samples: npt.NDArray[np.float32], window: int, search: int) -> int:
    """Where to end a window: in the quietest 25 ms within ``search`` samples of ``window``."""
    lo, hi = max(window - search, _QUIET_FRAME), min(window + search, samples.size)
    region = samples[lo:hi]
    frames = region[: region.size - region.size % _QUIET_FRAME].reshape(-1, _QUIET_FRAME)
    if frames.size == 0:
        return min(window, samples.size)
    energy = np.square(frames).mean(axis=1)
    # Among the quietest frames (a whole pause is often equally silent), take the one
    # nearest the nominal window end, and cut in its middle.
    quiet = np.flatnonzero(energy <= energy.min() * 1.05 + 1e-10)
    centres = lo + quiet * _QUIET_FRAME + _QUIET_FRAME // 2
    return int(centres[np.argmin(np.abs(centres - window))])


def _ffmpeg_reason(exc: Exception) -> str:
    message = getattr(exc, "strerror", None) or str(exc)
    return str(message).rstrip(".").lower()
