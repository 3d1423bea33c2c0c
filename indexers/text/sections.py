"""What extraction produces (sections of a file) and what chunking produces (chunks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextSection:
    """One extracted piece of a file: a whole txt/md/html file, one PDF page, one JSON record."""

    text: str
    page: int | None  # 1-based PDF page, else None
    record: int | None  # 0-based JSON array index or JSONL line index, else None
    title: str | None  # HTML <title>, first markdown heading, JSON title field, PDF /Title


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A span of one section: ``text == section.text[char_start:char_end]``."""

    text: str
    char_start: int
    char_end: int
    page: int | None
    record: int | None
    index: int  # 0-based chunk number within the whole document
