"""Paragraph and sentence boundaries as character spans, for the chunker.

Spans are ``(start, end)`` offsets into the text with surrounding whitespace excluded, and
together they cover every non-whitespace character. The sentence splitter is a regex with a
few rules, not a model. It handles abbreviations ("e.g.", "Dr.", "etc."), initials
("J. R. R."), numbered list markers, decimals ("3.14": no space after the point),
all-lowercase text ("tested. the results": still two sentences) and CJK sentence ends
(U+3002 ideographic full stop, fullwidth ! and ?), which need no space after them. A missed
boundary only makes a sentence longer, and a wrong one only a chunk boundary less tidy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int]

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Written as escapes: several of these characters look like ASCII punctuation.
_TERMINATOR = re.compile(
    r"""
    (?P<cjk>[\u3002\uff01\uff1f\uff61]+)          # CJK: a boundary without a following space
    [\"'\u201d\u2019\u300d\u300f\uff09\u3009\u300b\u3011]*  # closing quotes and brackets
    |
    (?P<latin>[.!?\u2026\u203c\u2047\u2048\u2049]+)  # Latin: whitespace or the end must follow
    [\"'\u201d\u2019\u00bb)\]}]*
    (?=\s|$)
    """,
    re.VERBOSE,
)
# Words that end with a period but rarely end a sentence: titles before a name, Latin
# abbreviations. Those in _BEFORE_NUMBERS are abbreviations only before a number ("No. 5",
# "Fig. 3", "Jan. 12"); elsewhere they are words that may end a sentence ("The answer is no.").
_ABBREVIATIONS = frozenset(
    [
        "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "rev", "hon", "gen",
        "col", "capt", "lt", "sgt", "cmdr", "gov", "sen", "rep", "supt", "e.g", "i.e", "cf",
        "vs", "viz", "al", "approx", "incl", "dept", "p.m", "a.m", "u.s", "u.k", "u.n", "ph.d",
    ]
)  # fmt: skip
_BEFORE_NUMBERS = frozenset(
    [
        "no", "nos", "fig", "figs", "vol", "vols", "p", "pp", "eq", "eqs", "ch", "chap", "sec",
        "art", "ref", "refs", "ca", "est", "op", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec",
    ]
)  # fmt: skip
# Abbreviations that also end sentences: a lowercase word after them continues the sentence.
_BEFORE_LOWERCASE = frozenset(
    ["etc", "esp", "resp", "approx", "avg", "min", "max", "univ", "assoc", "govt", "misc"]
)
_WORD_BEFORE = re.compile(r"[^\s(\[\"'\u201c\u2018\u00ab]+$")
_LIST_MARKER = re.compile(r"(?:\d{1,3}|[A-Za-z]|[ivxlcdm]{1,5})")


def strip_span(text: str, start: int, end: int) -> Span:
    """The span without its leading and trailing whitespace (empty: ``start == end``)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraph_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[Span]:
    """Paragraphs: runs of text between blank lines."""
    end = len(text) if end is None else end
    position = start
    for match in _PARAGRAPH_BREAK.finditer(text, start, end):
        span = strip_span(text, position, match.start())
        if span[0] < span[1]:
            yield span
        position = match.end()
    span = strip_span(text, position, end)
    if span[0] < span[1]:
        yield span


def _is_boundary(text: str, start: int, match: re.Match[str]) -> bool:
    if match.group("cjk"):
        return True
    following = text[match.end() : match.end() + 40].lstrip()
    lower_next = following[:1].islower()
    if match.group("latin") != ".":
        return not lower_next  # '"Really?" he asked', "Wait... no"
    # A bounded look back keeps this linear on long paragraphs.
    word_match = _WORD_BEFORE.search(
        text, max(start, match.start("latin") - 64), match.start("latin")
    )
    if word_match is None:
        return True
    word = word_match.group()
    lowered = word.lower().rstrip(".")
    if lowered in _ABBREVIATIONS or (lowered in _BEFORE_NUMBERS and following[:1].isdigit()):
        return False
    if lowered in _BEFORE_LOWERCASE and lower_next:
        return False  # "etc. and so on", but "etc. The next"
    if len(word) == 1 and word.isupper():
        return False  # an initial: "J. Smith"
    if "." in word and all(len(part) <= 1 for part in word.split(".")):
        return False  # "U.S.", "e.g." spelled with other letters
    if _LIST_MARKER.fullmatch(word):  # "1. First item" at the start of a line
        before = word_match.start() - 1
        while before >= start and text[before] in " \t":
            before -= 1
        if before < start or text[before] == "\n":
            return False
    return True


def sentence_spans(text: str, start: int, end: int) -> Iterator[Span]:
    """Sentences of ``text[start:end]`` (normally one paragraph)."""
    position = start
    for match in _TERMINATOR.finditer(text, start, end):
        if match.end() < end and _is_boundary(text, start, match):
            span = strip_span(text, position, match.end())
            if span[0] < span[1]:
                yield span
            position = match.end()
    span = strip_span(text, position, end)
    if span[0] < span[1]:
        yield span
