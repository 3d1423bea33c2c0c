"""Media made by the tests themselves: audio tones and silence, images, crafted bad files."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from pathlib import Path

import numpy as np


def write_wav(path: Path, pattern: list[tuple[float, bool]], rate: int = 16_000) -> Path:
    """Mono 16-bit WAV from (seconds, loud?) pieces: loud pieces are a 440 Hz tone."""
    pieces = []
    for seconds, loud in pattern:
        t = np.arange(int(seconds * rate)) / rate
        pieces.append(0.5 * np.sin(2 * np.pi * 440 * t) if loud else np.zeros_like(t))
    samples = np.concatenate(pieces) if pieces else np.zeros(0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def png_bytes(
    width: int = 32, height: int = 24, color: tuple[int, int, int] = (200, 30, 30)
) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb_bytes(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header claims ``width x height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    data = zlib.compress(row * 16, 9)  # a few rows only; the header is what matters
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
