"""JSON -> SOAP request envelope, over the translator's compiled schema.

The inverse of the typed XML -> JSON conversion, following the same layout
(:mod:`translators.schema.layout`), so a translated message's JSON serialises back to the
message it came from:

- the JSON object has one key per body element (document style) or the rpc wrapper (rpc
  style, named after the operation; its children are the parts, unqualified unless a part
  names a global element);
- ``@name`` keys are attributes, ``#text`` is simple content (or the text of mixed content),
  other keys are child elements, written in the order the content model declares them;
  an array under a key is that element repeated; ``null`` is ``xsi:nil="true"``;
- ``@xsi:type`` names a type derived from the declared one (by local name) and is written as
  ``xsi:type``; its own attributes and children then follow that type's layout;
- a SOAP-encoded array is a JSON array: one ``item`` element per value (the declared item
  name if the schema gives one) and ``soapenc:arrayType="T[n]"``;
- QNames are written from the Clark notation the translator reads them into
  (``{namespace}local``), with a prefix declared where they are used;
- keys a wildcard admits (and ``xs:anyType`` content) follow the schema-less convention.

``use="encoded"`` messages get ``soap-env:encodingStyle`` on the rpc wrapper (or each body
element), and every element under it may be nil. The input has already passed the operation's
input JSON Schema; what that schema cannot say (an unknown ``@xsi:type``, a value outside a
type's lexical space) raises :class:`~rag.errors.RequestInvalidError` naming the JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lxml import etree

from rag.errors import RequestInvalidError
from translators.compiled import CompiledWsdl
from translators.schema.generate import XSI_TYPE_KEY
from translators.schema.layout import ComplexLayout, LayoutCache
from translators.schema.message import BodyEntry, MessageShape
from translators.wsdl.model import Operation, SoapVersion
from translators.xml.names import (
    SOAP11_ENC,
    SOAP11_ENV,
    SOAP12_ENC,
    SOAP12_ENV,
    XSD,
    XSI,
    local_name,
    namespace_of,
)
from translators.xsd.compiler import SchemaSet
from translators.xsd.model import ComplexType, ElementDecl, SimpleType, SoapArray, XsdType

__all__ = ["ENVELOPES", "RequestSerializer"]

ENVELOPES: dict[str, str] = {"1.1": SOAP11_ENV, "1.2": SOAP12_ENV}
_NIL = f"{{{XSI}}}nil"
_TYPE = f"{{{XSI}}}type"
_ARRAY_TYPE = f"{{{SOAP11_ENC}}}arrayType"
_MAX_DEPTH = 256


class RequestSerializer:
    """Builds request envelopes for one compiled WSDL (thread-safe: it only reads)."""

    def __init__(self, compiled: CompiledWsdl) -> None:
        self.compiled = compiled
        self.schemas: SchemaSet = compiled.loaded.schemas
        self.layouts: LayoutCache = compiled.layouts

    def envelope(
        self,
        operation: Operation,
        data: Mapping[str, Any],
        *,
        soap_version: SoapVersion = "1.1",
        headers: Mapping[str, Any] | None = None,
        extra_headers: list[etree._Element] | None = None,
    ) -> etree._Element:
        """The ``Envelope`` for the operation's input message built from ``data``."""
        shape = self.compiled.message(operation, "input").shape
        env_ns = ENVELOPES[soap_version]
        root = etree.Element(f"{{{env_ns}}}Envelope", nsmap={"soap-env": env_ns})
        header_values = dict(headers or {})
        if header_values or extra_headers:
            header = etree.SubElement(root, f"{{{env_ns}}}Header")
            self._entries(header, shape.headers, header_values, shape, "/soap:Header", env_ns)
            for element in extra_headers or ():
                header.append(element)
        body = etree.SubElement(root, f"{{{env_ns}}}Body")
        self._entries(body, shape.body, dict(data), shape, "", env_ns)
        return root

    # -- message level -------------------------------------------------------------------
    def _entries(
        self,
        parent: etree._Element,
        entries: tuple[BodyEntry, ...],
        data: dict[str, Any],
        shape: MessageShape,
        path: str,
        env_ns: str,
    ) -> None:
        known = {e.key for e in entries}
        for entry in entries:
            if entry.key not in data:
                continue
            before = len(parent)
            self._element(
                parent, entry.element, data[entry.key], shape.encoded, f"{path}/{entry.key}", 0
            )
            if shape.encoded:
                encoding = SOAP12_ENC if env_ns == SOAP12_ENV else SOAP11_ENC
                for written in parent[before:]:
                    written.set(f"{{{env_ns}}}encodingStyle", encoding)
        for key, value in data.items():
            if key in known:
                continue
            if not shape.any_body and path == "":
                raise _invalid(f"{path}/{key}", "not an element of this message")
            self._schemaless(parent, key, value, f"{path}/{key}", 0)

    # -- elements ------------------------------------------------------------------------
    def _element(
        self,
        parent: etree._Element,
        decl: ElementDecl,
        value: Any,
        encoded: bool,
        path: str,
        depth: int,
        instance_type: str | None = None,
    ) -> None:
        try:
            self._typed(parent, decl, value, encoded, path, depth, instance_type)
        except ValueError as exc:  # lxml: a control character in text, a name that is not XML
            raise _invalid(path, f"cannot be written as XML: {exc}") from None

    def _typed(
        self,
        parent: etree._Element,
        decl: ElementDecl,
        value: Any,
        encoded: bool,
        path: str,
        depth: int,
        instance_type: str | None,
    ) -> None:
        if depth > _MAX_DEPTH:
            raise _invalid(path, "nested too deeply")
        if value is None:
            element = etree.SubElement(parent, decl.name)
            element.set(_NIL, "true")
            return
        xsd_type: XsdType = decl.type
        if isinstance(xsd_type, SimpleType):
            text, nsmap = self._lexical(value, xsd_type, path)
            attrs = {_TYPE: _qname_text(instance_type, nsmap)} if instance_type else {}
            element = etree.SubElement(parent, decl.name, attrs, nsmap=nsmap or None)
            element.text = text
            return
        self._complex(parent, decl.name, xsd_type, value, encoded, path, depth, instance_type)

    def _complex(
        self,
        parent: etree._Element,
        name: str,
        complex_type: ComplexType,
        value: Any,
        encoded: bool,
        path: str,
        depth: int,
        instance_type: str | None = None,
    ) -> None:
        if complex_type.is_any:
            self._schemaless(parent, name, value, path, depth)
            return
        if complex_type.array is not None:
            self._array(parent, name, complex_type.array, value, encoded, path, depth)
            return
        if not isinstance(value, dict):
            if complex_type.simple_content is not None and not complex_type.attributes:
                value = {"#text": value}
            else:
                raise _invalid(path, "an object is expected here")
        label = value.get(XSI_TYPE_KEY)
        nsmap: dict[str, str] = {}
        attrs: dict[str, str] = {}
        if label is not None:
            complex_type, type_name = self._derived(complex_type, label, path)
            attrs[_TYPE] = _qname_text(type_name, nsmap)
        elif instance_type is not None:
            attrs[_TYPE] = _qname_text(instance_type, nsmap)
        layout = self.layouts.get(complex_type)
        attribute_keys = self._attributes(layout, value, path, attrs, nsmap)
        text: str | None = None
        if layout.text is not None:
            if "#text" in value:
                text, needed = self._lexical(value["#text"], layout.text, path + "/#text")
                nsmap.update(needed)
        elif layout.mixed and "#text" in value:
            text = _plain(value["#text"])
        element = etree.SubElement(parent, name, attrs, nsmap=nsmap or None)
        element.text = text
        slot_keys = set()
        for slot in layout.slots:
            slot_keys.add(slot.key)
            if slot.key not in value:
                continue
            item = value[slot.key]
            child_path = f"{path}/{slot.key}"
            if slot.array and isinstance(item, list):
                for index, one in enumerate(item):
                    self._element(
                        element, slot.element, one, encoded, f"{child_path}/{index}", depth + 1
                    )
            else:
                self._element(element, slot.element, item, encoded, child_path, depth + 1)
        for key, item in value.items():
            if key in slot_keys or key in attribute_keys or key in ("#text", XSI_TYPE_KEY):
                continue
            if layout.wildcard is None:
                raise _invalid(f"{path}/{key}", "not an element or attribute of this type")
            self._wildcard(element, key, item, f"{path}/{key}", depth + 1)

    def _attributes(
        self,
        layout: ComplexLayout,
        value: dict[str, Any],
        path: str,
        attrs: dict[str, str],
        nsmap: dict[str, str],
    ) -> set[str]:
        keys: set[str] = set()
        for name, (key, use) in layout.attributes.items():
            keys.add(key)
            if key not in value or value[key] is None:
                continue
            text, needed = self._lexical(value[key], use.type, f"{path}/{key}")
            nsmap.update(needed)
            attrs[name] = text
        if layout.type.any_attribute:
            for key, item in value.items():
                if key.startswith("@") and key not in keys and key != XSI_TYPE_KEY:
                    keys.add(key)
                    attrs[key[1:].rpartition(":")[2]] = _plain(item)
        return keys

    def _derived(self, declared: ComplexType, label: Any, path: str) -> tuple[ComplexType, str]:
        """The type ``@xsi:type`` names: the declared one or a type derived from it."""
        if not isinstance(label, str):
            raise _invalid(f"{path}/{XSI_TYPE_KEY}", "must be a type name")
        for candidate in [declared, *_all_derived(declared)]:
            if candidate.name and label in (candidate.name, local_name(candidate.name)):
                return candidate, candidate.name
        names = [label] if label.startswith("{") else self.schemas.type_names(label)
        for type_name in names:
            found = self.schemas.type(type_name)
            if isinstance(found, ComplexType) and (
                declared.is_any
                or declared.array is not None
                or self.schemas.is_derived(found, declared)
            ):
                return found, type_name
        raise _invalid(
            f"{path}/{XSI_TYPE_KEY}",
            f"{label!r} is not {local_name(declared.name or 'the declared type')} "
            "or a type derived from it",
        )

    # -- SOAP-encoded arrays -------------------------------------------------------------
    def _array(
        self,
        parent: etree._Element,
        name: str,
        array: SoapArray,
        value: Any,
        encoded: bool,
        path: str,
        depth: int,
    ) -> None:
        if not isinstance(value, list):
            raise _invalid(path, "an array is expected here")
        nsmap: dict[str, str] = {}
        type_name = array.item.name or f"{{{XSD}}}anyType"
        brackets = "[]" * (array.dimensions - 1)
        array_type = f"{_qname_text(type_name, nsmap)}{brackets}[{len(value)}]"
        element = etree.SubElement(parent, name, {_ARRAY_TYPE: array_type}, nsmap=nsmap)
        item_type = array.item
        if array.dimensions > 1:
            inner = ComplexType(None)
            inner.array = SoapArray(item_type, array.dimensions - 1)
            item_type = inner
        item_decl = ElementDecl(array.item_name or "item", item_type, nillable=True)
        # Items carry xsi:type when their type has a name (SOAP 1.1 section 5.4.2 allows it,
        # and encoding-driven servers look for it).
        item_label = array.item.name if array.dimensions == 1 else None
        for index, item in enumerate(value):
            self._element(
                element, item_decl, item, encoded, f"{path}/{index}", depth + 1, item_label
            )

    # -- wildcards and schema-less content -----------------------------------------------
    def _wildcard(
        self, parent: etree._Element, key: str, value: Any, path: str, depth: int
    ) -> None:
        local = key.rpartition(":")[2]
        candidates = [n for n in self.schemas.global_element_names() if local_name(n) == local]
        decl = self.schemas.element(candidates[0]) if len(candidates) == 1 else None
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            item_path = f"{path}/{index}" if isinstance(value, list) else path
            if decl is not None:
                self._element(parent, decl, item, False, item_path, depth)
            else:
                self._schemaless(parent, local, item, item_path, depth)

    def _schemaless(
        self, parent: etree._Element, name: str, value: Any, path: str, depth: int
    ) -> None:
        try:
            self._untyped(parent, name, value, path, depth)
        except ValueError as exc:
            raise _invalid(path, f"cannot be written as XML: {exc}") from None

    def _untyped(
        self, parent: etree._Element, name: str, value: Any, path: str, depth: int
    ) -> None:
        if depth > _MAX_DEPTH:
            raise _invalid(path, "nested too deeply")
        if isinstance(value, list):
            for index, item in enumerate(value):
                self._schemaless(parent, name, item, f"{path}/{index}", depth + 1)
            return
        tag = name if name.startswith("{") else name.rpartition(":")[2]
        element = etree.SubElement(parent, tag)
        if value is None:
            element.set(_NIL, "true")
        elif isinstance(value, dict):
            for key, item in value.items():
                if key == "#text":
                    element.text = _plain(item)
                elif key.startswith("@"):
                    if key != XSI_TYPE_KEY:
                        element.set(key[1:].rpartition(":")[2], _plain(item))
                else:
                    self._schemaless(element, key, item, f"{path}/{key}", depth + 1)
        else:
            element.text = _plain(value)

    # -- simple values -------------------------------------------------------------------
    def _lexical(self, value: Any, simple: SimpleType, path: str) -> tuple[str, dict[str, str]]:
        """The lexical form of a JSON value, and namespaces a QName in it needs."""
        if simple.variety == "list":
            if not isinstance(value, list):
                raise _invalid(path, "a list type takes a JSON array")
            assert simple.item is not None
            texts: list[str] = []
            nsmap: dict[str, str] = {}
            for item in value:
                text, needed = self._lexical(item, simple.item, path)
                texts.append(text)
                nsmap.update(needed)
            return " ".join(texts), nsmap
        if isinstance(value, dict | list):
            raise _invalid(path, "a simple value is expected here")
        if simple.variety == "atomic" and simple.builtin.kind == "qname" and isinstance(value, str):
            return _qname_lexical(value)
        return _plain(value), {}


def _plain(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else _special(value)
    return str(value)


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("INF" if value > 0 else "-INF")
    return format(value, "f")


def _special(value: float) -> str:
    if value != value:
        return "NaN"
    return "INF" if value > 0 else "-INF"


def _qname_lexical(value: str) -> tuple[str, dict[str, str]]:
    if not value.startswith("{"):
        return value, {}
    nsmap: dict[str, str] = {}
    return _qname_text(value, nsmap), nsmap


def _qname_text(clark_name: str, nsmap: dict[str, str]) -> str:
    """``prefix:local`` for a Clark name, adding the prefix it needs to ``nsmap``."""
    namespace, local = namespace_of(clark_name), local_name(clark_name)
    if not namespace:
        return local
    for prefix, uri in nsmap.items():
        if uri == namespace:
            return f"{prefix}:{local}"
    prefix = "xs" if namespace == XSD else f"t{len(nsmap)}"
    nsmap[prefix] = namespace
    return f"{prefix}:{local}"


def _all_derived(declared: ComplexType) -> list[ComplexType]:
    found: list[ComplexType] = []
    stack = list(declared.derived)
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.append(current)
        stack.extend(current.derived)
    return found


def _invalid(path: str, reason: str) -> RequestInvalidError:
    pointer = path or "/"
    return RequestInvalidError(
        f"the request cannot be serialised: {pointer}: {reason}",
        errors=[{"path": pointer, "reason": reason}],
    )
