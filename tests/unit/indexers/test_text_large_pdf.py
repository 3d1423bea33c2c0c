"""A 500-page PDF is extracted and chunked in bounded memory and in a few seconds."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

from indexers.text import chunk_sections, extract_sections
from tests.unit.indexers.large_pdf import write_long_pdf


def _tokens(text: str) -> int:
    return len(text.split()) + 2


def _run(path: Path) -> tuple[int, set[int], int, int]:
    """(chunks, pages seen, characters chunked, peak traced bytes)."""
    chunks, chars, pages = 0, 0, set()
    tracemalloc.start()
    try:
        for chunk in chunk_sections(
            extract_sections(path), count_tokens=_tokens, max_tokens=256, overlap_tokens=32
        ):
            chunks += 1
            chars += len(chunk.text)
            assert chunk.page is not None
            pages.add(chunk.page)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return chunks, pages, chars, peak


def test_500_page_pdf_streams_in_bounded_memory(tmp_path: Path) -> None:
    short = write_long_pdf(tmp_path / "short.pdf", pages=50, words_per_page=300)
    long = write_long_pdf(tmp_path / "long.pdf", pages=500, words_per_page=300)

    *_, short_peak = _run(short)
    started = time.perf_counter()
    chunks, pages, chars, peak = _run(long)
    elapsed = time.perf_counter() - started

    assert pages == set(range(1, 501))
    assert chunks >= 1000  # about 300 words a page: two chunks or more each
    assert chars > 700_000
    # Python-side memory holds about one page at a time, never the document: ten times the
    # pages must not cost ten times the memory, and the peak stays below the size the text
    # alone would take. (What does grow a little is ctypes' cache of array types, one per
    # distinct page text length, which pypdfium2 creates to read each page.)
    assert peak < 4 * short_peak, f"peak {peak} B for 500 pages, {short_peak} B for 50"
    assert peak < chars, f"peak {peak} B for {chars} characters"
    assert elapsed < 20, f"{elapsed:.1f} s"  # ~3 s on a 2-core machine, with tracemalloc on
