"""Thumbnails made once, at index time, so no request decodes a stored original.

An image unit's thumbnail (longest side :data:`THUMBNAIL_SIDE`, JPEG) is written under
``<data dir>/thumbnails`` when the unit is indexed, named by the source's sha256 and the
unit, so the same bytes indexed twice share one file. ``/v1/media/{id}?thumb=N`` scales that
small file down to N (or serves it as it is for a larger N).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

THUMBNAIL_SIDE = 512
FOLDER = "thumbnails"
_NAME = re.compile(r"^[0-9a-f]{64}-[0-9]{1,9}\.jpg$")

__all__ = ["THUMBNAIL_SIDE", "read_thumbnail", "thumbnail_name", "write_thumbnail"]


def thumbnail_name(sha256: str, unit_index: int) -> str:
    return f"{sha256}-{unit_index}.jpg"


def _path(data_dir: Path, name: str) -> Path:
    if not _NAME.match(name):  # a payload value, never a path of the caller's choosing
        raise ValueError(f"not a thumbnail name: {name!r}")
    return data_dir / FOLDER / name[:2] / name


def write_thumbnail(data_dir: Path, name: str, image: Image.Image) -> None:
    """Write ``image``'s thumbnail once (atomically; an existing one is kept)."""
    path = _path(data_dir, name)
    if path.is_file():
        return
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".thumb-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            small.save(out, format="JPEG", quality=85)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_thumbnail(data_dir: Path, name: str, size: int) -> bytes | None:
    """The stored thumbnail scaled to ``size`` (JPEG bytes), or None when there is none."""
    from PIL import Image

    try:
        path = _path(data_dir, name)
    except ValueError:
        return None
    if not path.is_file():
        return None
    with Image.open(path) as stored:
        if max(stored.size) <= size:
            return path.read_bytes()
        stored.thumbnail((size, size))
        buffer = io.BytesIO()
        stored.convert("RGB").save(buffer, format="JPEG", quality=85)
        return buffer.getvalue()
