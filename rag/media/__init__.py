"""Media decoding for indexing, query encoding and reranking alike: untrusted images opened
safely, audio streamed as resampled windows. Failures raise :class:`ExtractionError`."""

from rag.media.errors import ExtractionError, UnsupportedFileError

__all__ = ["ExtractionError", "UnsupportedFileError"]
