"""What decoding or extracting a file can raise: each names the problem; the rest of a batch
goes on."""

from __future__ import annotations

from rag.errors import BadInputError, UnsupportedMediaError


class ExtractionError(BadInputError):
    """A file's content cannot be turned into units (corrupt, empty, undecodable...)."""

    code = "extraction-failed"


class UnsupportedFileError(UnsupportedMediaError):
    """A file of a type mmrag does not index."""
