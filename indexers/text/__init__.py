"""Text extraction and chunking: files to sections (pages, records) to token-bounded chunks.

::

    for section in extract_sections(path):            # streams: PDF pages, JSON records
        ...
    chunks = chunk_sections(
        extract_sections(path),
        count_tokens=embedder.count_tokens,
        max_tokens=embedder.max_tokens,
    )
"""

from indexers.text.chunking import (
    ChunkBudget,
    approximate_tokens,
    chunk_sections,
    chunk_sections_by,
)
from indexers.text.errors import ExtractionError, FileTooLargeError, UnsupportedFormatError
from indexers.text.extract import TEXT_EXTENSIONS, extract_sections
from indexers.text.sections import TextChunk, TextSection

__all__ = [
    "TEXT_EXTENSIONS",
    "ChunkBudget",
    "ExtractionError",
    "FileTooLargeError",
    "TextChunk",
    "TextSection",
    "UnsupportedFormatError",
    "approximate_tokens",
    "chunk_sections",
    "chunk_sections_by",
    "extract_sections",
]
