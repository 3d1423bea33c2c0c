"""Lexical (BM25-style) sparse vectors, computed client-side with qdrant-edge's Bm25.

Documents carry saturated term frequencies; queries carry each term once; the engine applies
IDF (the collections' sparse vector has the IDF modifier). The same encoder serves both store
backends, so lexical scores agree between them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from rag.store.base import SparseVector

LEXICAL_VERSION = "bm25@qdrant-edge:english"


class LexicalEncoder:
    version = LEXICAL_VERSION

    @cached_property
    def _bm25(self) -> Any:
        from qdrant_edge import Bm25, Bm25Config

        return Bm25(Bm25Config(language="english"))

    def document(self, text: str) -> SparseVector | None:
        return self._convert(self._bm25.embed_document(text)) if text.strip() else None

    def query(self, text: str) -> SparseVector | None:
        return self._convert(self._bm25.embed_query(text)) if text.strip() else None

    @staticmethod
    def _convert(vector: Any) -> SparseVector | None:
        if not vector.indices:
            return None
        return SparseVector(tuple(vector.indices), tuple(float(v) for v in vector.values))
