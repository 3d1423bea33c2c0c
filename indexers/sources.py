"""A source (one file or upload) as the indexer sees it: identity, content hash, type."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag.media.errors import ExtractionError
from rag.types import Modality

UPLOAD_SCHEME = "upload://"
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HASH_BLOCK = 1 << 20


def check_tenant(tenant: str) -> str:
    from rag.errors import BadInputError

    if not _TENANT.match(tenant):
        raise BadInputError(
            f"invalid tenant {tenant!r}: use 1-64 letters, digits, '.', '_' or '-'",
            field="tenant",
        )
    return tenant


@dataclass(frozen=True)
class SourceFile:
    path: Path  # where the bytes are read from
    uri: str  # the source's identity in the index: an absolute path or upload://name
    modality: Modality
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return PurePosixPath(self.uri).name

    @property
    def mime(self) -> str:
        guessed, _ = mimetypes.guess_type(self.name)
        return guessed or "application/octet-stream"

    @property
    def prefixes(self) -> list[str]:
        """Every ancestor of the source, so a folder (or ``upload://``) filters by prefix."""
        if self.uri.startswith(UPLOAD_SCHEME):
            return [UPLOAD_SCHEME]
        parents = [p.as_posix() for p in PurePosixPath(self.uri).parents]
        return [p.rstrip("/") + "/" if p != "/" else "/" for p in reversed(parents)]


def source_uri(path: Path) -> str:
    return path.resolve().as_posix()


def read_source(
    path: Path, modality: Modality, *, uri: str | None = None, max_bytes: int
) -> SourceFile:
    """Hash a file (streaming) and describe it; unreadable or oversize files are errors."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while block := fh.read(_HASH_BLOCK):
                size += len(block)
                if size > max_bytes:
                    limit_mb = max_bytes // (1 << 20)
                    raise ExtractionError(
                        f"file is larger than {limit_mb} MB (MMRAG_INDEX__MAX_FILE_MB)"
                    )
                digest.update(block)
    except PermissionError as exc:
        raise ExtractionError("permission denied") from exc
    except IsADirectoryError as exc:
        raise ExtractionError("is a directory") from exc
    except OSError as exc:
        raise ExtractionError(f"cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise ExtractionError("empty file (0 bytes)")
    return SourceFile(path, uri or source_uri(path), modality, digest.hexdigest(), size)
