"""Errors for one file whose text cannot be extracted.

The tree (under :class:`rag.media.errors.ExtractionError`, a ``BadInputError``)::

    ExtractionError              this file's text cannot be extracted (bad-input, 400)
    ├── FileTooLargeError        over ``max_bytes`` (also a PayloadTooLargeError, 413)
    └── UnsupportedFormatError   not a format handled here, or binary content behind a
                                 text extension (also an UnsupportedMediaError, 415)

``detail`` names the file (by name, not its full path) and the reason; the full ``path`` and
the bare ``reason`` are attributes, and ``line`` / ``page`` / ``record`` say where, when known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.errors import PayloadTooLargeError, UnsupportedMediaError
from rag.media.errors import ExtractionError as FileExtractionError


class ExtractionError(FileExtractionError):
    """One file's text could not be extracted; other files can still be indexed."""

    def __init__(
        self,
        path: Path,
        reason: str,
        *,
        line: int | None = None,
        page: int | None = None,
        record: int | None = None,
        **extra: Any,
    ) -> None:
        where = ""
        if page is not None:
            where = f" (page {page})"
        elif line is not None:
            where = f" (line {line})"
        super().__init__(
            f"cannot extract text from {path.name}{where}: {reason}",
            path=str(path),
            reason=reason,
            line=line,
            page=page,
            record=record,
            **extra,
        )
        self.path = path
        self.reason = reason
        self.line = line
        self.page = page
        self.record = record


class FileTooLargeError(ExtractionError, PayloadTooLargeError):
    code = PayloadTooLargeError.code

    def __init__(self, path: Path, *, size: int, max_bytes: int) -> None:
        super().__init__(
            path,
            f"file is too large: {size} bytes, the limit is {max_bytes}",
            size=size,
            max_bytes=max_bytes,
        )
        self.size = size
        self.max_bytes = max_bytes


class UnsupportedFormatError(ExtractionError, UnsupportedMediaError):
    code = UnsupportedMediaError.code
