"""``extract_sections``: one file to the text sections the chunker splits.

txt, md and html files are one section each (they are read whole, so ``max_bytes`` should be
set for untrusted input); PDFs are streamed page by page, JSON Lines line by line and JSON
arrays element by element.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from indexers.text.decoding import decode_text, tidy_text
from indexers.text.errors import ExtractionError, FileTooLargeError, UnsupportedFormatError
from indexers.text.html_text import html_text
from indexers.text.json_records import json_sections, jsonl_sections
from indexers.text.markdown import markdown_text
from indexers.text.pdf import pdf_sections
from indexers.text.sections import TextSection

PLAIN_EXTENSIONS = frozenset({".txt"})
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
TEXT_EXTENSIONS: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".json", ".jsonl"}
)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExtractionError(path, f"cannot read the file: {exc.strerror}") from exc


def _whole_file(path: Path, suffix: str) -> Iterator[TextSection]:
    data = _read(path)
    title: str | None = None
    if suffix in HTML_EXTENSIONS:
        text, title = html_text(path, data)
    else:
        text = tidy_text(decode_text(path, data))
        if suffix in MARKDOWN_EXTENSIONS:
            text, title = markdown_text(text)
    if not text.strip():
        raise ExtractionError(path, "no text found" + (": the file is empty" if not data else ""))
    yield TextSection(text=text, page=None, record=None, title=title)


def extract_sections(
    path: Path,
    *,
    json_text_field: str = "text",
    json_title_field: str | None = "title",
    max_bytes: int | None = None,
) -> Iterator[TextSection]:
    """The text sections of one file, lazily, in document order.

    Sections are a whole txt/md/html file, one PDF page (``page``, 1-based) or one JSON record
    (``record``: array index or 0-based line index). ``json_text_field`` and
    ``json_title_field`` are dotted paths into each record (``"body.text"``).

    Raises :class:`ExtractionError` (a :class:`rag.errors.BadInputError`), while iterating,
    for a file whose text cannot be extracted. With streamed formats that can happen after
    some sections were yielded (a malformed line 900 in a JSON Lines file); the file should
    then be treated as failed as a whole.
    """
    if not json_text_field or any(not part for part in json_text_field.split(".")):
        raise ValueError(f"json_text_field must be a dotted path, got {json_text_field!r}")
    return _sections(path, path.suffix.lower(), json_text_field, json_title_field, max_bytes)


def _sections(
    path: Path,
    suffix: str,
    json_text_field: str,
    json_title_field: str | None,
    max_bytes: int | None,
) -> Iterator[TextSection]:
    # A generator, so that every problem with the file surfaces while iterating.
    if suffix not in TEXT_EXTENSIONS:
        raise UnsupportedFormatError(path, f"unsupported file type {suffix or '(none)'!r}")
    if max_bytes is not None:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ExtractionError(path, f"cannot read the file: {exc.strerror}") from exc
        if size > max_bytes:
            raise FileTooLargeError(path, size=size, max_bytes=max_bytes)
    if suffix == ".pdf":
        yield from pdf_sections(path)
    elif suffix == ".jsonl":
        yield from jsonl_sections(path, text_field=json_text_field, title_field=json_title_field)
    elif suffix == ".json":
        yield from json_sections(path, text_field=json_text_field, title_field=json_title_field)
    else:
        yield from _whole_file(path, suffix)
