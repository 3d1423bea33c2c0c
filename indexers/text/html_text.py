"""HTML to text with its block structure kept as paragraphs.

Parsed with lxml's HTML parser (libxml2), which never fetches anything: no network, no
external DTDs or entities. Scripts, styles and other non-content elements are dropped; each
block element (paragraph, heading, list item, table row, ...) becomes its own paragraph, so
the chunker sees the document's structure. Whitespace collapses as a browser would, except in
``<pre>``.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import lxml.etree
import lxml.html

from indexers.text.decoding import decode_text
from indexers.text.errors import ExtractionError

_DROP = frozenset(
    {
        "head", "script", "style", "noscript", "template", "iframe", "object", "embed",
        "svg", "canvas", "map", "select", "datalist", "button",
    }
)  # fmt: skip
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html",
        "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_SPACE = re.compile(r"[ \t\n\r\f]+")
# The HTML spec's prescan looks for a declaration in the first 1024 bytes.
_META_CHARSET = re.compile(rb"<meta[^>]{0,512}?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.I)
# The HTML spec reads these labels as windows-1252, as browsers do.
_AS_CP1252 = frozenset({"ascii", "latin-1", "iso8859-1", "us-ascii", "cp819"})


def _declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:1024])
    if match is None:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_CP1252 else name


class _TextBuilder:
    """Collects paragraphs; inline text is joined with collapsed whitespace."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self._parts: list[str] = []
        self._pre = 0

    def _ends_with_space(self) -> bool:
        return not self._parts or self._parts[-1][-1:] in (" ", "\n")

    def text(self, value: str) -> None:
        if not value:
            return
        if self._pre:
            self._parts.append(value)
            return
        value = _SPACE.sub(" ", value)
        if value.startswith(" ") and self._ends_with_space():
            value = value[1:]
        if value:
            self._parts.append(value)

    def space(self) -> None:
        if not self._ends_with_space():
            self._parts.append(" ")

    def line_break(self) -> None:
        if self._parts and self._parts[-1].endswith(" ") and not self._pre:
            self._parts[-1] = self._parts[-1].rstrip(" ")
        self._parts.append("\n")

    def enter_pre(self) -> None:
        self._pre += 1

    def leave_pre(self) -> None:
        self._pre -= 1

    def paragraph_break(self) -> None:
        paragraph = "".join(self._parts).strip()
        self._parts = []
        if paragraph:
            self.paragraphs.append(paragraph)


def _tag(element: lxml.etree._Element) -> str | None:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else None  # None: comment, PI, entity


def _collect(root: lxml.etree._Element) -> list[str]:
    out = _TextBuilder()
    # Iterative, so deeply nested documents cannot exhaust the Python stack.
    stack: list[tuple[lxml.etree._Element, bool]] = [(root, False)]
    while stack:
        element, closing = stack.pop()
        tag = _tag(element)
        if closing:
            if tag == "pre":
                out.leave_pre()
            if tag in _BLOCK:
                out.paragraph_break()
            elif tag in _CELLS:
                out.space()
            if element.tail and element is not root:
                out.text(element.tail)
            continue
        if tag is None or tag in _DROP:
            if element.tail and element is not root:
                out.text(element.tail)
            continue
        if tag in _BLOCK:
            out.paragraph_break()
        if tag == "pre":
            out.enter_pre()
        elif tag == "br":
            out.line_break()
        elif tag in _CELLS:
            out.space()
        if element.text:
            out.text(element.text)
        stack.append((element, True))
        stack.extend((child, False) for child in reversed(element))
    out.paragraph_break()
    return out.paragraphs


def _title(root: lxml.etree._Element) -> str | None:
    for path in ("/html/head/title", "//title[not(ancestor::svg)]", "//h1"):
        for element in root.xpath(path):
            title = _SPACE.sub(" ", lxml.etree.tostring(element, method="text", encoding="unicode"))
            if title.strip():
                return title.strip()
    return None


def html_text(path: Path, data: bytes) -> tuple[str, str | None]:
    """The visible text of an HTML document (paragraphs split by blank lines) and its title."""
    text = decode_text(path, data, declared=_declared_charset(data))
    if not text.strip():
        return "", None
    # Bytes in one known encoding: lxml refuses str input that carries an XML encoding
    # declaration (XHTML), and the encoding has already been decided above.
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
        collect_ids=False,
        default_doctype=False,
    )
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (lxml.etree.LxmlError, ValueError) as exc:
        raise ExtractionError(path, f"malformed HTML: {exc}") from exc
    # In recover mode libxml2 drops what lies past its limits (nesting deeper than 256)
    # and carries on; losing part of a document silently would be worse than refusing it.
    for error in parser.error_log:
        if error.type_name == "ERR_RESOURCE_LIMIT":
            raise ExtractionError(path, f"malformed HTML: {error.message}")
    return "\n\n".join(_collect(root)), _title(root)
