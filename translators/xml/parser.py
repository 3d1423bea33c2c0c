"""The one hardened XML parser. Every XML byte the translator touches goes through here.

What it refuses, before or while parsing, and never by reading a file or the network:

- anything over ``max_bytes`` (checked before parsing: memory stays bounded);
- a document type declaration of any kind (internal subset, external DTD): this is what
  XXE, billion laughs and quadratic blow-up need, so they fail early with one clear reason;
- entity references (there is no DTD to declare them, so libxml2 reports them as malformed);
- XInclude elements (lxml never processes them; refusing them says so);
- nesting deeper than ``max_depth`` (libxml2 itself stops at 256 without XML_PARSE_HUGE,
  which is never set);
- more than ``max_attributes`` attributes on one element, or namespace declarations in scope
  at one element (its own and its ancestors'): both cost work per element downstream (lxml
  reads attributes and in-scope namespaces by walking lists), so they are bounded here. Both
  checks run only when the raw bytes could exceed the limit (counting ``=`` and ``xmlns``);
- malformed XML and wrong or unsupported encoding declarations.

lxml parsers must not be shared between threads, so each thread keeps its own.
"""

from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from lxml import etree

from rag.errors import MalformedXmlError, PayloadTooLargeError, XmlRejectedError
from translators.xml.names import XINCLUDE

if TYPE_CHECKING:
    from translators.config import TranslatorConfig

__all__ = ["XmlLimits", "parse_xml"]

LIBXML2_MAX_DEPTH = 256


@dataclass(frozen=True)
class XmlLimits:
    """Bounds applied to one document."""

    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 200
    max_attributes: int = 1000

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= LIBXML2_MAX_DEPTH:
            raise ValueError(f"max_depth must be within 1..{LIBXML2_MAX_DEPTH}")
        if self.max_attributes < 1:
            raise ValueError("max_attributes must be at least 1")

    @classmethod
    def for_messages(cls, settings: TranslatorConfig) -> XmlLimits:
        return cls(
            max_bytes=settings.max_message_bytes,
            max_depth=settings.max_depth,
            max_attributes=settings.max_attributes,
        )

    @classmethod
    def for_documents(cls, settings: TranslatorConfig) -> XmlLimits:
        """WSDL and XSD documents: their own size limit, the same depth and attribute limits."""
        return cls(
            max_bytes=settings.max_document_bytes,
            max_depth=settings.max_depth,
            max_attributes=settings.max_attributes,
        )


_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,  # never expand, not even internal entities
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,  # keeps libxml2's own limits (depth 256, 10 MB text nodes)
            recover=False,
            remove_comments=True,
            remove_pis=True,
            strip_cdata=True,
            collect_ids=False,
            compact=True,
        )
        _local.parser = parser
    return parser


def parse_xml(
    data: bytes,
    limits: XmlLimits | None = None,
    *,
    base_url: str | None = None,
    what: str = "XML",
) -> etree._Element:
    """Parse ``data`` safely and return the root element.

    ``what`` names the document in error messages ("message", "WSDL", ...).
    Raises :class:`PayloadTooLargeError`, :class:`XmlRejectedError` or
    :class:`MalformedXmlError`; nothing else escapes for bad input.
    """
    limits = limits or XmlLimits()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml takes bytes; let the XML declaration name the encoding")
    size = len(data)
    if size > limits.max_bytes:
        raise PayloadTooLargeError(
            f"{what} is {size} bytes, over the limit of {limits.max_bytes}",
            limit=limits.max_bytes,
            size=size,
        )
    data = bytes(data)
    if _prolog_has_doctype(data):
        raise _dtd_error(what)
    try:
        root = etree.fromstring(data, _parser(), base_url=base_url)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, what) from None
    except (ValueError, LookupError) as exc:  # e.g. a codec lxml cannot set up
        raise MalformedXmlError(f"{what} could not be decoded: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _dtd_error(what)
    # Byte counts bound character counts only where every ASCII character is its own byte;
    # elsewhere (UTF-16, UTF-32, UTF-7, ...) each check walks the tree.
    ascii_bytes = _ascii_compatible(data, docinfo.encoding)
    # The XInclude namespace can only be declared with its name spelt out or with character
    # references; where neither is in the bytes, no walk is needed.
    if (not ascii_bytes or b"XInclude" in data or b"&#" in data) and next(
        root.iter(f"{{{XINCLUDE}}}*"), None
    ) is not None:
        raise XmlRejectedError(f"{what} uses XInclude, which is never processed", reason="xinclude")
    # A document can only nest N deep if it has at least 7 bytes per level ("<a></a>"),
    # and a "<" per level.
    if (
        size > 7 * limits.max_depth
        and (not ascii_bytes or data.count(b"<") > limits.max_depth)
        and _deeper_than(limits.max_depth)(root)
    ):
        raise XmlRejectedError(
            f"{what} nests elements deeper than {limits.max_depth} levels",
            reason="depth",
            limit=limits.max_depth,
        )
    _check_attributes(data, root, limits.max_attributes, what, ascii_bytes=ascii_bytes)
    return root


# Encodings in which every ASCII character is the one byte of the same value (so a count
# of bytes bounds the count of characters). libxml2 reports a UTF-16 document with a byte
# order mark and no declaration as UTF-8, hence the look at the first bytes as well.
_ASCII_ENCODINGS = re.compile(
    r"(?:utf-?8|(?:us-)?ascii|iso[-_]?8859[-_]\d+|latin-?1|windows-125\d|cp125\d)",
    re.IGNORECASE,
)


def _ascii_compatible(data: bytes, encoding: str | None) -> bool:
    head = data[:4]
    if b"\0" in head or head.startswith(_UTF16_BOMS):
        return False
    return encoding is not None and _ascii_encoding(encoding)


@lru_cache(maxsize=64)
def _ascii_encoding(encoding: str) -> bool:
    return _ASCII_ENCODINGS.fullmatch(encoding) is not None


def _check_attributes(
    data: bytes, root: etree._Element, limit: int, what: str, *, ascii_bytes: bool = False
) -> None:
    # Every attribute has a "=" and every declaration an "xmlns": a document with fewer of
    # them than the limit cannot break it, and most never pay for the walks below (only in
    # an ASCII-compatible encoding: in UTF-16 "xmlns" is not those bytes, in UTF-7 "=" may be
    # "+AD0-"). A document of at most ``limit`` bytes has at most ``limit`` of either.
    size = len(data)
    may_exceed = not ascii_bytes or (size > limit and data.count(b"=") > limit)
    if may_exceed and _attributes_over(limit)(root):
        raise XmlRejectedError(
            f"{what} has an element with more than {limit} attributes",
            reason="attributes",
            limit=limit,
        )
    if not ascii_bytes or (size > limit and data.count(b"xmlns") > limit):
        depth_counts = [0]
        pending = 0
        for event, _ in etree.iterwalk(root, events=("start-ns", "start", "end")):
            if event == "start-ns":
                pending += 1
            elif event == "start":
                in_scope = depth_counts[-1] + pending
                if in_scope > limit:
                    raise XmlRejectedError(
                        f"{what} has an element with more than {limit} namespace declarations "
                        "in scope",
                        reason="namespaces",
                        limit=limit,
                    )
                depth_counts.append(in_scope)
                pending = 0
            else:
                depth_counts.pop()


@lru_cache(maxsize=8)
def _attributes_over(limit: int) -> etree.XPath:
    return etree.XPath(f"boolean(//*[count(@*) > {int(limit)}])")


@lru_cache(maxsize=8)
def _deeper_than(depth: int) -> etree.XPath:
    # One compiled XPath walks the tree level by level in C: true when an element exists
    # at depth + 1.
    return etree.XPath("boolean(" + "/*" * (depth + 1) + ")")


def _dtd_error(what: str) -> XmlRejectedError:
    return XmlRejectedError(
        f"{what} contains a document type declaration (DTD); DTDs and entities are refused",
        reason="dtd",
    )


_LIBXML2_DEPTH = re.compile(r"Excessive depth|Maximum depth|depth in document", re.IGNORECASE)
_LIBXML2_ENTITY = re.compile(
    r"Entity '[^']*' not defined|amplification|entity reference loop", re.IGNORECASE
)


def _syntax_error(exc: etree.XMLSyntaxError, what: str) -> MalformedXmlError | XmlRejectedError:
    message = str(exc.msg or exc).strip()
    line = exc.lineno if isinstance(exc.lineno, int) else None
    if _LIBXML2_DEPTH.search(message):
        return XmlRejectedError(
            f"{what} nests elements deeper than the parser allows ({message})",
            reason="depth",
            limit=LIBXML2_MAX_DEPTH,
        )
    if _LIBXML2_ENTITY.search(message):
        return XmlRejectedError(
            f"{what} uses an entity reference, which is refused ({message})", reason="entity"
        )
    return MalformedXmlError(f"{what} is not well-formed XML: {message}", line=line)


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_SPACES = (b" ", b"\t", b"\r", b"\n")
_NOT_ELEMENT = (b"?", b"!")


def _starts_with_element(head: bytes) -> bool:
    """The common prolog: an optional XML declaration, white space, then an element (a
    shortcut of the scan in ``_prolog_has_doctype``; False when unsure)."""
    i = 0
    if head.startswith(b"<?xml"):
        i = head.find(b"?>", 5) + 2
        if i < 2:
            return False
    while head[i : i + 1] in _SPACES:
        i += 1
    return head[i : i + 1] == b"<" and head[i + 1 : i + 2] not in _NOT_ELEMENT


_PROLOG_SCAN = 64 * 1024


def _prolog_has_doctype(data: bytes) -> bool:
    """True when a DOCTYPE appears before the root element (cheap early refusal).

    The parser-level check after parsing stays authoritative; this one only avoids parsing
    a hostile internal subset at all.
    """
    head = data[:_PROLOG_SCAN] if len(data) > _PROLOG_SCAN else data
    text: str
    if head.startswith(_UTF16_BOMS):
        text = head.decode("utf-16", errors="ignore")
    elif head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16-le" if head[0] == 0x3C else "utf-16-be", errors="ignore")
    elif _starts_with_element(head):
        return False  # _scan_prolog would stop at that element
    else:
        text = head.decode("latin-1")
    return _scan_prolog(text)


def _scan_prolog(text: str) -> bool:
    """Skip white space, processing instructions and comments; is a DOCTYPE next?"""
    i, n = 0, len(text)
    if text.startswith("\ufeff") or text.startswith("\xef\xbb\xbf"):
        i = 1 if text.startswith("\ufeff") else 3
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                return False
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                return False
            i = end + 3
        else:
            return text.startswith("<!DOCTYPE", i) or text.startswith("<!doctype", i)
    return False
