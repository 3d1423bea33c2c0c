"""Per-message state of one conversion: limits, SOAP-encoding references, warnings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from rag.errors import MessageMismatchError, PayloadTooLargeError
from translators.convert.deviations import Deviation, DeviationKind, Part, shorten
from translators.xml.names import SOAP11_ENC, SOAP12_ENC, SOAP12_ENV, XSI
from translators.xml.namespaces import NamespaceScopes

__all__ = ["MAX_DEVIATIONS", "ConversionContext", "mismatch"]

MAX_DEVIATIONS = 1000

_XSI_PREFIX = f"{{{XSI}}}"
XSI_NIL = f"{{{XSI}}}nil"
XSI_TYPE = f"{{{XSI}}}type"
XSI_NULL = f"{{{XSI}}}null"  # the 1999 XSD draft's spelling, still sent by old toolkits
ENC12_ID = f"{{{SOAP12_ENC}}}id"
ENC12_REF = f"{{{SOAP12_ENC}}}ref"
# Attributes that carry SOAP or encoding machinery, never data.
META_ATTRIBUTES = frozenset(
    {
        ENC12_ID,
        ENC12_REF,
        f"{{{SOAP11_ENC}}}arrayType",
        f"{{{SOAP11_ENC}}}offset",
        f"{{{SOAP11_ENC}}}position",
        f"{{{SOAP11_ENC}}}root",
        f"{{{SOAP12_ENC}}}itemType",
        f"{{{SOAP12_ENC}}}arraySize",
        f"{{{SOAP12_ENC}}}nodeType",
        "{http://schemas.xmlsoap.org/soap/envelope/}encodingStyle",
        "{http://schemas.xmlsoap.org/soap/envelope/}mustUnderstand",
        "{http://schemas.xmlsoap.org/soap/envelope/}actor",
        f"{{{SOAP12_ENV}}}encodingStyle",
        f"{{{SOAP12_ENV}}}mustUnderstand",
        f"{{{SOAP12_ENV}}}role",
        f"{{{SOAP12_ENV}}}relay",
    }
)


def mismatch(element: etree._Element | None, detail: str) -> MessageMismatchError:
    path = ""
    if element is not None:
        try:
            path = element.getroottree().getpath(element)
        except (ValueError, TypeError):
            path = str(element.tag)
    where = f" at {path}" if path else ""
    return MessageMismatchError(f"the message does not fit its schema{where}: {detail}", path=path)


@dataclass
class ConversionContext:
    """State for one message. ``encoded``: SOAP encoding rules apply (nil anywhere, hrefs).

    ``deviations`` is None for a strict conversion (any misfit raises); a list makes the
    conversion lenient: misfits of a declared kind are kept and recorded there, at ``path``
    (the JSON path of the value being converted, maintained only when lenient)."""

    max_nodes: int = 1_000_000
    encoded: bool = False
    scope: etree._Element | None = None  # where multiRef targets live (the Body)
    warnings: list[str] = field(default_factory=list)
    nodes: int = 0
    _ids: dict[str, etree._Element] | None = None
    _referenced: set[str] | None = None
    _expanding: set[str] = field(default_factory=set)
    namespaces: NamespaceScopes = field(default_factory=NamespaceScopes)  # nsmap, per scope
    deviations: list[Deviation] | None = None
    path: list[str | int] = field(default_factory=list)
    part: Part = "body"
    _seen: set[tuple[object, ...]] = field(default_factory=set)

    @property
    def lenient(self) -> bool:
        return self.deviations is not None

    def deviate(
        self,
        kind: DeviationKind,
        expected: str,
        found: str,
        *,
        at: tuple[str | int, ...] = (),
        admits: dict[str, Any] | None = None,
        optional: str | None = None,
    ) -> None:
        """Record a deviation at the current path (plus ``at``); once per path and kind."""
        assert self.deviations is not None
        path = (*self.path, *at)
        key = (path, kind, self.part, optional)
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self.deviations) >= MAX_DEVIATIONS:
            raise MessageMismatchError(
                f"the message deviates from its schema in more than {MAX_DEVIATIONS} places",
                path="/",
            )
        self.deviations.append(
            Deviation(
                path,
                kind,
                shorten(expected, 200),
                shorten(found),
                self.part,
                admits,
                optional,
            )
        )

    def count(self, element: etree._Element) -> None:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise PayloadTooLargeError(
                f"the translation would exceed {self.max_nodes} JSON values",
                limit=self.max_nodes,
            )

    def warn(self, message: str) -> None:
        if message not in self.warnings and len(self.warnings) < 100:
            self.warnings.append(message)

    # -- SOAP-encoding references (href="#id" / enc:ref="id") -------------------------------
    def reference(self, element: etree._Element) -> str | None:
        href = element.get("href")
        if href is not None and href.startswith("#"):
            return str(href[1:])
        ref = element.get(ENC12_REF)
        return str(ref).lstrip("#") if ref is not None else None

    def is_meta(self, element: etree._Element, name: str) -> bool:
        """SOAP machinery, not data: ``href="#x"``, and ``id`` of a referenced element."""
        if name in META_ATTRIBUTES or name.startswith(_XSI_PREFIX):
            return True
        if name == "href":
            return str(element.get("href", "")).startswith("#")
        if name == "id":
            return str(element.get("id")) in self.referenced()
        return False

    def referenced(self) -> set[str]:
        if self._referenced is None:
            root = self.scope if self.scope is not None else None
            self._referenced = set()
            if root is not None:
                for value in root.xpath(".//@href"):
                    if str(value).startswith("#"):
                        self._referenced.add(str(value)[1:])
        return self._referenced

    def target(self, element: etree._Element, ref: str) -> etree._Element:
        if self._ids is None:
            self._ids = {}
            root = self.scope if self.scope is not None else element.getroottree().getroot()
            for node in root.iter():
                if not isinstance(node.tag, str):
                    continue
                node_id = node.get("id") or node.get(ENC12_ID)
                if node_id is not None:
                    self._ids.setdefault(node_id, node)
        target = self._ids.get(ref)
        if target is None:
            raise mismatch(element, f"reference #{ref} points at no element")
        return target

    def enter(self, element: etree._Element, ref: str) -> None:
        if ref in self._expanding:
            raise mismatch(element, f"reference #{ref} is circular")
        self._expanding.add(ref)

    def leave(self, ref: str) -> None:
        self._expanding.discard(ref)
