"""Per-file indexing errors: each names the problem; the rest of the batch goes on.

They are raised by media decoding too, so they live with it in the kernel
(:mod:`rag.media.errors`); this name stays for the indexers' own code."""

from rag.media.errors import ExtractionError, UnsupportedFileError

__all__ = ["ExtractionError", "UnsupportedFileError"]
