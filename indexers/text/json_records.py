"""JSON arrays and JSON Lines to one section per record, streamed.

JSON Lines are read a line at a time; a JSON array is decoded one element at a time from a
bounded buffer, so neither needs the whole file in memory. A single top-level object is one
record (``record=None``: it has no index). Records without text in the chosen field are
skipped and counted (one warning per file); if no record has the field at all, the file is
refused, since that almost always means the wrong field was named.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from indexers.text.decoding import SAMPLE_BYTES, check_textual, detect_stream_encoding, tidy_text
from indexers.text.errors import ExtractionError
from indexers.text.sections import TextSection

logger = logging.getLogger(__name__)

_READ_BYTES = 1 << 20
_WHITESPACE = " \t\n\r"
_MISSING = object()
_DECODER = json.JSONDecoder()


@dataclass
class _Tally:
    """What became of a file's records, for the summary warning and the final verdict."""

    records: int = 0
    with_field: int = 0
    yielded: int = 0
    missing: list[int | None] = field(default_factory=list)
    not_text: list[int | None] = field(default_factory=list)


def _lookup(record: Any, dotted: str) -> Any:
    value = record
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return "\n\n".join(value)  # a list of paragraphs
    return None


class _RecordReader:
    def __init__(self, path: Path, text_field: str, title_field: str | None) -> None:
        self.path = path
        self.text_field = text_field
        self.title_field = title_field
        self.tally = _Tally()

    def section(self, value: Any, record: int | None) -> TextSection | None:
        self.tally.records += 1
        raw = _lookup(value, self.text_field)
        if raw is _MISSING:
            self.tally.missing.append(record)
            return None
        self.tally.with_field += 1
        text = _as_text(raw)
        if text is None:
            self.tally.not_text.append(record)
            return None
        text = tidy_text(text)
        if not text.strip():
            return None
        title = None
        if self.title_field is not None:
            raw_title = _lookup(value, self.title_field)
            if isinstance(raw_title, str) and raw_title.strip():
                title = " ".join(raw_title.split())
        self.tally.yielded += 1
        return TextSection(text=text, page=None, record=record, title=title)

    def finish(self) -> None:
        tally, name = self.tally, self.path.name
        if tally.records == 0:
            raise ExtractionError(self.path, "no text found: the file holds no records")
        if tally.with_field == 0:
            raise ExtractionError(self.path, f"no record has the text field {self.text_field!r}")
        if tally.yielded == 0:
            if tally.not_text:
                raise ExtractionError(
                    self.path,
                    f"no record has text in the field {self.text_field!r} "
                    f"({len(tally.not_text)} hold other JSON values)",
                )
            raise ExtractionError(self.path, "no text found: every record's text is empty")
        for skipped, why in ((tally.missing, "lack"), (tally.not_text, "have no text in")):
            if skipped:
                logger.warning(
                    "%s: skipped %d of %d records that %s the field %r (first: record %s)",
                    name, len(skipped), tally.records, why, self.text_field, skipped[0],
                )  # fmt: skip


def _open(path: Path) -> tuple[IO[bytes], str]:
    """The file positioned after any byte order mark, and its encoding."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ExtractionError(path, f"cannot read the file: {exc.strerror}") from exc
    try:
        sample = handle.read(SAMPLE_BYTES)
        encoding, bom = detect_stream_encoding(path, sample)
        decoded = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample[bom:])
        check_textual(path, decoded)
        handle.seek(bom)
    except BaseException:
        handle.close()
        raise
    return handle, encoding


def _ascii_compatible(encoding: str) -> bool:
    name = codecs.lookup(encoding).name
    return not name.startswith(("utf-16", "utf-32")) and "\n".encode(encoding) == b"\n"


def _text_lines(path: Path, handle: IO[bytes], encoding: str) -> Iterator[tuple[int, str]]:
    """(0-based line index, line) pairs, each line decoded strictly."""
    if _ascii_compatible(encoding):
        # Split bytes on newlines so that a decoding error names its own line.
        for index, raw in enumerate(handle):
            try:
                yield index, raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ExtractionError(
                    path, f"undecodable text: not valid {encoding}", line=index + 1
                ) from exc
        return
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pending, index = "", 0
    while True:
        chunk = handle.read(_READ_BYTES)
        try:
            pending += decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise ExtractionError(
                path, f"undecodable text: not valid {encoding}", line=index + 1
            ) from exc
        lines = pending.split("\n")
        pending = lines.pop() if chunk else ""  # at the end, the last line is complete
        for line in lines:
            yield index, line
            index += 1
        if not chunk:
            return


def jsonl_sections(
    path: Path, *, text_field: str, title_field: str | None
) -> Iterator[TextSection]:
    reader = _RecordReader(path, text_field, title_field)
    handle, encoding = _open(path)
    with handle:
        for index, line in _text_lines(path, handle, encoding):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ExtractionError(
                    path, f"malformed JSON: {exc.msg} (column {exc.colno})", line=index + 1
                ) from exc
            except RecursionError as exc:
                raise ExtractionError(
                    path, "malformed JSON: nested too deeply", line=index + 1
                ) from exc
            section = reader.section(value, index)
            if section is not None:
                yield section
    reader.finish()


class _ArrayScanner:
    """Decodes a JSON document's top-level array element by element from a bounded buffer."""

    def __init__(self, path: Path, handle: IO[bytes], encoding: str) -> None:
        self.path = path
        self._handle = handle
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._encoding = encoding
        self._buffer = ""
        self._pos = 0
        self._lines_before = 0  # newlines in text already dropped from the buffer
        self._eof = False

    def _line(self, pos: int) -> int:
        return self._lines_before + self._buffer.count("\n", 0, pos) + 1

    def _fill(self) -> bool:
        """Read more; False at the end of the file."""
        if self._eof:
            return False
        # Read at least as much as is buffered, so re-decoding a large element after each
        # read costs linear time overall.
        chunk = self._handle.read(max(_READ_BYTES, len(self._buffer) - self._pos))
        try:
            text = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise ExtractionError(
                self.path,
                f"undecodable text: not valid {self._encoding}",
                line=self._line(len(self._buffer)),
            ) from exc
        self._lines_before += self._buffer.count("\n", 0, self._pos)
        self._buffer = self._buffer[self._pos :] + text
        self._pos = 0
        self._eof = not chunk
        return True

    def peek(self) -> str:
        """The next non-whitespace character ('' at the end), which is not consumed."""
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def take(self) -> None:
        self._pos += 1

    def error(self, message: str, pos: int | None = None) -> ExtractionError:
        return ExtractionError(
            self.path,
            f"malformed JSON: {message}",
            line=self._line(self._pos if pos is None else pos),
        )

    def value(self) -> Any:
        """Decode the value at the cursor, reading more until it is complete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                raise self.error(exc.msg, exc.pos) from exc
            except RecursionError as exc:
                raise self.error("nested too deeply") from exc
            # A number or literal that ends with the buffer may continue in the next read.
            if end == len(self._buffer) and self._fill():
                continue
            self._pos = end
            return value

    def rest(self) -> Any:
        """The whole remaining document, for a top-level object."""
        while self._fill():
            pass
        return self.value()


def json_sections(path: Path, *, text_field: str, title_field: str | None) -> Iterator[TextSection]:
    reader = _RecordReader(path, text_field, title_field)
    handle, encoding = _open(path)
    with handle:
        scanner = _ArrayScanner(path, handle, encoding)
        first = scanner.peek()
        if first == "":
            raise ExtractionError(path, "no text found: the file is empty")
        if first == "{":
            section = reader.section(scanner.rest(), None)
            if scanner.peek() != "":
                raise scanner.error("extra data after the top-level object")
            if section is not None:
                yield section
        elif first == "[":
            scanner.take()
            index = 0
            while True:
                if scanner.peek() == "]":
                    scanner.take()
                    break
                if index:
                    if scanner.peek() != ",":
                        raise scanner.error("expected ',' or ']' between records")
                    scanner.take()
                    scanner.peek()
                section = reader.section(scanner.value(), index)
                index += 1
                if section is not None:
                    yield section
            if scanner.peek() != "":
                raise scanner.error("extra data after the top-level array")
        else:
            if first in '"-0123456789tfn':
                raise ExtractionError(path, "JSON must be an array of records or one object")
            raise scanner.error(f"unexpected character {first!r}")
    reader.finish()
