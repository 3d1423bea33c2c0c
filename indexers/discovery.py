"""Find the files to index under the paths a user names, safely.

Directories are walked in a stable (sorted) order; hidden entries are skipped; symlinks are
followed but a link back into a folder already being walked is reported, not looped over.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.types import Modality

TEXT_EXTENSIONS = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl"}
)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".m4a", ".webm"})


def modality_for(path: Path | str) -> Modality | None:
    suffix = Path(path).suffix.lower()
    if suffix in TEXT_EXTENSIONS:
        return Modality.TEXT
    if suffix in IMAGE_EXTENSIONS:
        return Modality.IMAGE
    if suffix in AUDIO_EXTENSIONS:
        return Modality.AUDIO
    return None


@dataclass(frozen=True)
class Discovered:
    """A file to index, or a path that could not be used (``error`` says why)."""

    path: Path
    modality: Modality | None
    error: str | None = None
    explicit: bool = False  # named by the user rather than found in a folder


def discover(paths: Iterable[Path], *, recursive: bool = True) -> Iterator[Discovered]:
    seen_files: set[tuple[int, int]] = set()
    for root in paths:
        yield from _discover_one(Path(root), recursive=recursive, seen_files=seen_files)


def _discover_one(
    root: Path, *, recursive: bool, seen_files: set[tuple[int, int]]
) -> Iterator[Discovered]:
    try:
        info = root.stat()
    except FileNotFoundError:
        reason = "broken symlink" if root.is_symlink() else "no such file or directory"
        yield Discovered(root, None, reason, explicit=True)
        return
    except OSError as exc:
        yield Discovered(root, None, _os_reason(exc), explicit=True)
        return
    if stat.S_ISDIR(info.st_mode):
        yield from _walk(root, recursive=recursive, seen_files=seen_files)
        return
    yield from _file(root, info, seen_files, explicit=True)


def _file(
    path: Path, info: os.stat_result, seen_files: set[tuple[int, int]], *, explicit: bool
) -> Iterator[Discovered]:
    if not stat.S_ISREG(info.st_mode):
        yield Discovered(path, None, "not a regular file", explicit=explicit)
        return
    key = (info.st_dev, info.st_ino)
    if key in seen_files:
        return  # the same file reached twice (a link, or a path named twice)
    seen_files.add(key)
    modality = modality_for(path)
    if modality is None:
        suffix = path.suffix.lower() or "(no extension)"
        yield Discovered(path, None, f"unsupported file type {suffix}", explicit=explicit)
        return
    yield Discovered(path, modality, explicit=explicit)


def _walk(root: Path, *, recursive: bool, seen_files: set[tuple[int, int]]) -> Iterator[Discovered]:
    active: set[tuple[int, int]] = set()

    def walk(folder: Path) -> Iterator[Discovered]:
        try:
            folder_info = folder.stat()
        except OSError as exc:
            yield Discovered(folder, None, _os_reason(exc))
            return
        key = (folder_info.st_dev, folder_info.st_ino)
        if key in active:
            yield Discovered(folder, None, "symlink loop: this folder contains itself")
            return
        active.add(key)
        try:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                yield Discovered(folder, None, _os_reason(exc))
                return
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                try:
                    info = path.stat()
                except FileNotFoundError:
                    yield Discovered(path, None, "broken symlink")
                    continue
                except OSError as exc:
                    yield Discovered(path, None, _os_reason(exc))
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if recursive:
                        yield from walk(path)
                    continue
                yield from _file(path, info, seen_files, explicit=False)
        finally:
            active.discard(key)

    yield from walk(root)


def _os_reason(exc: OSError) -> str:
    if exc.errno is not None and exc.strerror:
        if exc.strerror == "Too many levels of symbolic links":
            return "symlink loop"
        return exc.strerror.lower()
    return str(exc)
