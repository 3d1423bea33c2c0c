"""A minimal PDF writer for tests: text pages, image-only pages, metadata, RC4 encryption.

Hand-written so that tests control every byte (and can break them on purpose) without a
PDF-generation dependency. Text uses the base-14 Helvetica font with WinAnsiEncoding, so page
text must be encodable as cp1252. Encryption is the standard security handler, revision 2
(40-bit RC4): old, but every reader supports it and it takes a few lines to produce.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Collection, Sequence
from pathlib import Path

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_PERMISSIONS = -44  # print + copy allowed; the value itself does not matter to readers here
_FILE_ID = hashlib.md5(b"mmrag test pdf").digest()
_LINE_WIDTH = 95  # characters of 11 pt Helvetica that fit a Letter page with margins


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


class _Security:
    """Standard security handler, R2: computes /O, /U and per-object keys."""

    def __init__(self, user_password: str, owner_password: str) -> None:
        owner_key = hashlib.md5(_padded(owner_password)).digest()[:5]
        self.o_value = _rc4(owner_key, _padded(user_password))
        p_bytes = _PERMISSIONS.to_bytes(4, "little", signed=True)
        digest = hashlib.md5(_padded(user_password) + self.o_value + p_bytes + _FILE_ID)
        self.key = digest.digest()[:5]
        self.u_value = _rc4(self.key, _PAD)

    def encrypt(self, number: int, data: bytes) -> bytes:
        salt = number.to_bytes(3, "little") + (0).to_bytes(2, "little")
        object_key = hashlib.md5(self.key + salt).digest()[: len(self.key) + 5]
        return _rc4(object_key, data)


def _literal(text: str) -> bytes:
    raw = text.encode("cp1252")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_lines(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, _LINE_WIDTH) or [""])
    return lines


def _content(text: str, *, image: bool) -> bytes:
    parts: list[bytes] = []
    if image:
        parts.append(b"q 300 0 0 300 150 300 cm /Im1 Do Q")
    if text.strip():
        parts.append(b"BT /F1 11 Tf 14 TL 72 740 Td")
        for line in _page_lines(text):
            parts.append(_literal(line) + b" Tj T*")
        parts.append(b"ET")
    return b"\n".join(parts) + b"\n"


def build_pdf(
    pages: Sequence[str],
    *,
    title: str | None = None,
    image_pages: Collection[int] = (),
    user_password: str | None = None,
    owner_password: str = "owner",
) -> bytes:
    """A PDF with one page per string (wrapped into lines; ``\\n`` forces a new line).

    ``image_pages`` are 0-based pages that also get a grey image (a "scan"); an empty string
    with its index there makes an image-only page. A ``user_password`` (``""`` included)
    encrypts the file; ``""`` means anyone may open it, as with owner-password-only PDFs.
    """
    security = _Security(user_password, owner_password) if user_password is not None else None
    objects: dict[int, bytes] = {}

    def literal_string(number: int, text: str) -> bytes:
        if security is None:
            return _literal(text)
        return b"<" + security.encrypt(number, text.encode("cp1252")).hex().encode() + b">"

    def stream(number: int, body: bytes, extra: bytes = b"") -> bytes:
        if security is not None:
            body = security.encrypt(number, body)
        head = b"<< /Length %d %s>>\nstream\n" % (len(body), extra)
        return head + body + b"\nendstream"

    font, image, pages_root, catalog = 1, 2, 3, 4
    objects[font] = (
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    objects[image] = stream(
        image,
        bytes([0, 128, 128, 255]),
        b"/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 ",
    )
    kids: list[bytes] = []
    number = catalog + 1
    for index, text in enumerate(pages):
        page, content = number, number + 1
        number += 2
        kids.append(b"%d 0 R" % page)
        objects[page] = (
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> /XObject << /Im1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (pages_root, font, image, content)
        )
        objects[content] = stream(content, _content(text, image=index in image_pages))
    objects[pages_root] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(kids),
        len(kids),
    )
    objects[catalog] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_root
    trailer_extra = b""
    if title is not None:
        info = number
        number += 1
        objects[info] = b"<< /Title " + literal_string(info, title) + b" >>"
        trailer_extra += b" /Info %d 0 R" % info
    if security is not None:
        encrypt = number
        number += 1
        objects[encrypt] = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
            security.o_value.hex().encode(),
            security.u_value.hex().encode(),
            _PERMISSIONS,
        )
        trailer_extra += b" /Encrypt %d 0 R" % encrypt

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for obj_number in sorted(objects):
        offsets[obj_number] = len(out)
        out += b"%d 0 obj\n" % obj_number + objects[obj_number] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for obj_number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[obj_number]
    file_id = _FILE_ID.hex().encode()
    out += b"trailer\n<< /Size %d /Root %d 0 R /ID [<%s> <%s>]%s >>\n" % (
        size,
        catalog,
        file_id,
        file_id,
        trailer_extra,
    )
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def write_pdf(path: Path, pages: Sequence[str], **options: object) -> Path:
    path.write_bytes(build_pdf(pages, **options))  # type: ignore[arg-type]
    return path
