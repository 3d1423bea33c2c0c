"""Bytes to text: BOM, then strict UTF-8, then charset-normalizer; binary content refused.

Whole files (txt, md, html) are decoded with :func:`decode_text`; JSON Lines and JSON arrays,
which are streamed, get their encoding from a sample (:func:`detect_stream_encoding`) and are
then decoded strictly as they are read.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

from indexers.text.errors import ExtractionError, UnsupportedFormatError

# Longest first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Signatures of common binary formats, to say what a mislabelled file is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"ID3", "an MP3 file"),
    (b"fLaC", "a FLAC file"),
    (b"OggS", "an Ogg file"),
)

# Control characters that do not occur in text (tab, newlines and form feed do).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# Text may carry a few stray control characters; binary data decoded as text has many.
_MAX_CONTROL_RATIO = 0.01
_MAX_STRAY_CONTROLS = 8
SAMPLE_BYTES = 64 * 1024
# charset-normalizer is given at most this much: enough to decide, and bounded in time.
_DETECT_BYTES = 512 * 1024

# Languages usually written in cp1252. charset-normalizer often ranks a sibling code page
# (cp1250, cp1257, cp1258) first for Western European text although cp1252 decodes it about
# as cleanly (chaos) and reads as one of these languages, or at least as coherently; cp1252
# is by far the most common legacy encoding, so it wins such near-ties. Measured on French,
# German, Spanish, Portuguese, Italian, Danish, Icelandic and English samples, which
# charset-normalizer alone mostly gets wrong, without losing Polish, Czech, Turkish, Greek,
# Hebrew, Russian, Japanese or Chinese ones.
_CP1252_LANGUAGES = frozenset(
    {
        "English", "French", "German", "Spanish", "Portuguese", "Italian", "Dutch",
        "Danish", "Norwegian", "Swedish", "Finnish", "Icelandic", "Catalan", "Indonesian",
        "Unknown",
    }
)  # fmt: skip
_NEAR_TIE_CHAOS = 0.15


def _binary(path: Path, what: str = "binary content") -> UnsupportedFormatError:
    return UnsupportedFormatError(path, f"not a text file: {what}")


def _check_magic(path: Path, data: bytes) -> None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise _binary(path, f"binary content ({what})")


def check_textual(path: Path, text: str) -> None:
    """Refuse decoded text that is really binary data (NULs, many control characters)."""
    if not text:
        return
    if "\x00" in text:
        raise _binary(path)
    controls = len(_CONTROL.findall(text, 0, SAMPLE_BYTES))
    if controls > max(_MAX_CONTROL_RATIO * min(len(text), SAMPLE_BYTES), _MAX_STRAY_CONTROLS):
        raise _binary(path)


def _bom_encoding(data: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _guess_legacy(path: Path, data: bytes, utf8_error: int) -> str:
    """charset-normalizer's guess, with the cp1252 tie-break described above."""
    results = charset_normalizer.from_bytes(data[:_DETECT_BYTES])
    best = results.best()
    if best is None:
        if b"\x00" in data or len(_CONTROL.findall(data.decode("latin-1"))) > 0:
            raise _binary(path)
        raise ExtractionError(
            path,
            f"undecodable text: not UTF-8 (invalid byte at offset {utf8_error}) and no other "
            "encoding fits",
        )
    for match in results:
        reads_as_cp1252 = match.encoding == "cp1252" or "cp1252" in match.could_be_from_charset
        near_tie = match.chaos <= best.chaos + _NEAR_TIE_CHAOS
        plausible = match.language in _CP1252_LANGUAGES or match.coherence >= best.coherence
        if reads_as_cp1252 and near_tie and plausible:
            return "cp1252"
    return str(best.encoding)


def decode_text(path: Path, data: bytes, *, declared: str | None = None) -> str:
    """Decode a whole text file; binary or undecodable content raises.

    ``declared`` is an encoding the file names itself (an HTML ``<meta charset>``): tried
    after strict UTF-8, since documents that decode as UTF-8 are UTF-8 whatever they say.
    """
    found = _bom_encoding(data)
    if found is not None:
        encoding, skip = found
        try:
            text = data[skip:].decode(encoding)
        except UnicodeDecodeError as exc:
            raise ExtractionError(
                path, f"undecodable text: invalid {encoding} after its byte order mark"
            ) from exc
        check_textual(path, text)
        return text
    _check_magic(path, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = _decode_legacy(path, data, declared, utf8_error=exc.start)
    check_textual(path, text)
    return text


def _decode_legacy(path: Path, data: bytes, declared: str | None, *, utf8_error: int) -> str:
    if declared is not None:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong or unknown declaration: detect instead
    encoding = _guess_legacy(path, data, utf8_error)
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:  # the guess came from a sample
        raise ExtractionError(path, f"undecodable text: not valid {encoding}") from exc


_NEWLINES = re.compile(r"\r\n?|[\x0b\x85\u2028]")
_PARAGRAPH_SEPARATORS = re.compile(r"[\x0c\u2029]")
_STRAY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufeff]")


def tidy_text(text: str) -> str:
    """One newline convention (``\\n``); form feeds and paragraph separators become blank
    lines; stray control characters and byte order marks are dropped."""
    text = _NEWLINES.sub("\n", text)
    text = _PARAGRAPH_SEPARATORS.sub("\n\n", text)
    return _STRAY_CONTROLS.sub("", text)


def detect_stream_encoding(path: Path, sample: bytes) -> tuple[str, int]:
    """The encoding of a streamed file from its first bytes, and how many BOM bytes to skip.

    A sample that is valid UTF-8 (a multi-byte character may be cut at its end) means UTF-8;
    bytes later in the file that are not are reported where the reader meets them.
    """
    found = _bom_encoding(sample)
    if found is not None:
        return found
    _check_magic(path, sample)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError as exc:
        return _guess_legacy(path, sample, exc.start), 0
    return "utf-8", 0
