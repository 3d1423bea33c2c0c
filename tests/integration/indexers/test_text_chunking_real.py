"""Chunking with the real bundled tokenizer (all-MiniLM-L6-v2): the limit holds, and fast."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from indexers.text import TextChunk, TextSection, chunk_sections, extract_sections
from rag.models import ModelRegistry
from rag.models.ports import TextEmbedder
from tests.unit.indexers.large_pdf import write_long_pdf


@pytest.fixture(scope="module")
def embedder(models: ModelRegistry) -> TextEmbedder:
    return models.text()


def _check(sections: list[TextSection], chunks: list[TextChunk], embedder: TextEmbedder) -> None:
    texts = {(s.page, s.record): s.text for s in sections}
    for chunk in chunks:
        assert texts[(chunk.page, chunk.record)][chunk.char_start : chunk.char_end] == chunk.text
        assert embedder.count_tokens(chunk.text) <= embedder.max_tokens, chunk.text[:200]


def test_the_bundled_model_limit(embedder: TextEmbedder) -> None:
    assert embedder.max_tokens == 256
    assert embedder.count_tokens("") == 2  # [CLS] [SEP]: the chunker's measured overhead


def test_hard_text_fits_the_real_tokenizer(embedder: TextEmbedder) -> None:
    hard = "\n\n".join(
        [
            "See https://example.com/" + "/".join(f"segment{n}?q={n}&x=%20" for n in range(200)),
            "Blob: " + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+/" * 120,
            "東京は日本の首都であり、世界最大級の都市圏を形成している" * 40 + "。",
            "word " * 2000,
            "Antidisestablishmentarianism" * 50,
            "🙂 emoji and ünïcödé — text " * 300,
            "1234567890" * 400,
        ]
    )
    sections = [TextSection(hard, None, None, None)]
    chunks = list(
        chunk_sections(sections, count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens)
    )
    _check(sections, chunks, embedder)
    assert len(chunks) > 10


def test_msmarco_records_chunk_within_the_limit(embedder: TextEmbedder, shared_data: Path) -> None:
    corpus = shared_data / "text_retrieval" / "agentset_beir_subsets" / "msmarco" / "corpus.jsonl"
    sections = list(extract_sections(corpus))
    assert len(sections) > 4000
    chunks = list(
        chunk_sections(sections, count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens)
    )
    _check(sections, chunks, embedder)
    # MS MARCO passages are short: nearly all of them are one chunk
    assert len(chunks) < 1.1 * len(sections)
    first = json.loads(corpus.read_text(encoding="utf-8").split("\n", 1)[0])
    assert chunks[0].text == first["text"].strip()


def test_a_long_text_file_chunks_in_seconds(
    embedder: TextEmbedder, shared_data: Path, tmp_path: Path
) -> None:
    # Cranfield as one plain text file: 1.6 million characters of technical prose.
    path = tmp_path / "cranfield.txt"
    shutil.copyfile(shared_data / "text_retrieval" / "cranfield" / "cran.all.1400", path)
    sections = list(extract_sections(path))
    started = time.perf_counter()
    chunks = list(
        chunk_sections(sections, count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens)
    )
    elapsed = time.perf_counter() - started
    _check(sections, chunks, embedder)
    chars = len(sections[0].text)
    print(f"\nchunked {chars:,} characters into {len(chunks)} chunks in {elapsed:.2f} s")
    assert chars > 1_000_000
    assert elapsed < 30  # a few seconds on a 2-core machine; embedding takes far longer


@pytest.mark.slow
def test_500_page_pdf_with_the_real_tokenizer(embedder: TextEmbedder, tmp_path: Path) -> None:
    path = write_long_pdf(tmp_path / "long.pdf", pages=500, words_per_page=300)
    started = time.perf_counter()
    sections = list(extract_sections(path))
    extracted = time.perf_counter()
    chunks = list(
        chunk_sections(sections, count_tokens=embedder.count_tokens, max_tokens=embedder.max_tokens)
    )
    chunked = time.perf_counter()
    _check(sections, chunks, embedder)
    print(
        f"\n500 pages: extracted in {extracted - started:.2f} s, "
        f"{sum(len(s.text) for s in sections):,} characters chunked into {len(chunks)} "
        f"chunks in {chunked - extracted:.2f} s"
    )
    assert {c.page for c in chunks} == set(range(1, 501))
    assert chunked - started < 60
