"""MTOM/XOP and SOAP-with-attachments: ``multipart/related`` messages.

The root part is the SOAP envelope; every ``xop:Include href="cid:..."`` in it is replaced by
the referenced attachment's bytes as base64 text (which is what the element's
``xs:base64Binary`` value means). Attachments are also listed with their content id, content
type and size; those no ``xop:Include`` references (SOAP with attachments) carry their bytes
as base64 there.

The splitter is small and strict: the body must start with the boundary delimiter, every
part needs a header block, and the whole body is bounded by the message size limit before
anything is split.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote

from lxml import etree

from rag.errors import MalformedXmlError, UnsupportedMediaError
from translators.xml.names import XOP

__all__ = ["Attachment", "MultipartMessage", "inline_xop", "is_multipart", "split_multipart"]

_XOP_INCLUDE = f"{{{XOP}}}Include"
_MAX_PARTS = 1000


@dataclass(frozen=True)
class Attachment:
    content_id: str
    content_type: str
    data: bytes


@dataclass
class MultipartMessage:
    root: bytes
    root_content_type: str
    attachments: dict[str, Attachment] = field(default_factory=dict)


def is_multipart(data: bytes, content_type: str | None) -> bool:
    if content_type and content_type.strip().lower().startswith("multipart/"):
        return True
    if data[:1] == b"<":  # XML (no copy of a large body to strip it)
        return False
    return data.lstrip(b"\r\n\t ").startswith(b"--")


def _params(content_type: str) -> Message:
    message = Message()
    message["content-type"] = content_type
    return message


def split_multipart(data: bytes, content_type: str | None = None) -> MultipartMessage:
    """Split a multipart/related body (boundary from ``content_type`` or the first line)."""
    boundary: str | None = None
    start: str | None = None
    if content_type:
        params = _params(content_type)
        if params.get_content_maintype() != "multipart":
            raise UnsupportedMediaError(f"expected multipart/related, got {content_type}")
        boundary_param = params.get_param("boundary")
        boundary = boundary_param if isinstance(boundary_param, str) else None
        start_param = params.get_param("start")
        start = start_param.strip("<>") if isinstance(start_param, str) else None
    body = data.lstrip(b"\r\n\t ")
    if boundary is None:
        first_line = body.split(b"\n", 1)[0].rstrip(b"\r")
        if not first_line.startswith(b"--") or len(first_line) > 200:
            raise MalformedXmlError("multipart body without a boundary line")
        boundary = first_line[2:].decode("ascii", errors="replace")
    delimiter = b"--" + boundary.encode("ascii", errors="replace")
    if not body.startswith(delimiter):
        raise MalformedXmlError("multipart body does not start with its boundary")
    chunks = body.split(delimiter)
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        if len(parts) >= _MAX_PARTS:
            raise MalformedXmlError(f"multipart body has more than {_MAX_PARTS} parts")
        parts.append(_part(chunk))
    if not parts:
        raise MalformedXmlError("multipart body has no parts")
    root_index = 0
    if start:
        for i, (headers, _) in enumerate(parts):
            if headers.get("content-id", "").strip("<>") == start:
                root_index = i
                break
    root_headers, root_data = parts[root_index]
    message = MultipartMessage(root_data, root_headers.get("content-type", "application/xop+xml"))
    for i, (headers, payload) in enumerate(parts):
        if i == root_index:
            continue
        content_id = headers.get("content-id", "").strip().strip("<>") or f"part{i}"
        message.attachments[content_id] = Attachment(
            content_id, headers.get("content-type", "application/octet-stream"), payload
        )
    return message


def _part(chunk: bytes) -> tuple[dict[str, str], bytes]:
    chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
    head, sep, payload = chunk.partition(b"\r\n\r\n")
    if not sep:
        head, sep, payload = chunk.partition(b"\n\n")
    if not sep:
        raise MalformedXmlError("multipart part without a header block")
    if payload.endswith(b"\r\n"):
        payload = payload[:-2]
    elif payload.endswith(b"\n"):
        payload = payload[:-1]
    headers: dict[str, str] = {}
    for line in re.split(rb"\r?\n(?![ \t])", head):
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            headers[name.strip().lower()] = " ".join(value.split())
    encoding = headers.get("content-transfer-encoding", "binary").lower()
    try:
        if encoding == "base64":
            payload = base64.b64decode(payload, validate=False)
        elif encoding == "quoted-printable":
            payload = quopri.decodestring(payload)
    except (binascii.Error, ValueError) as exc:
        raise MalformedXmlError(f"multipart part with bad {encoding} content: {exc}") from None
    return headers, payload


def inline_xop(
    root: etree._Element, attachments: dict[str, Attachment], *, keep_missing: bool = False
) -> list[dict[str, Any]]:
    """Replace each xop:Include by its attachment as base64 text; list every attachment.

    An include whose part is missing raises, unless ``keep_missing``: then it is replaced by
    its ``cid:`` reference as text (which the lenient typed conversion declares as a
    ``missing_part`` deviation)."""
    referenced: dict[str, str] = {}
    for include in list(root.iter(_XOP_INCLUDE)):
        href = include.get("href", "")
        content_id = unquote(href[4:]) if href.startswith("cid:") else href
        attachment = attachments.get(content_id)
        parent = include.getparent()
        if parent is None:
            raise MalformedXmlError("xop:Include cannot be the root element")
        if attachment is None:
            if not keep_missing:
                raise MalformedXmlError(
                    f"xop:Include names attachment {href!r}, which is not in the message"
                )
            replacement = href if href.startswith("cid:") else "cid:" + href
        else:
            replacement = base64.b64encode(attachment.data).decode("ascii")
        tail = include.tail or ""
        parent.remove(include)
        parent.text = (parent.text or "") + replacement + tail
        if attachment is None:
            continue
        referenced[content_id] = root.getroottree().getpath(parent)
    listed: list[dict[str, Any]] = []
    for content_id in sorted(attachments):
        attachment = attachments[content_id]
        entry: dict[str, Any] = {
            "content_id": content_id,
            "content_type": attachment.content_type,
            "size": len(attachment.data),
        }
        if content_id in referenced:
            entry["included_at"] = referenced[content_id]
        else:
            entry["base64"] = base64.b64encode(attachment.data).decode("ascii")
        listed.append(entry)
    return listed
