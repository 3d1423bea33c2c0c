"""Schema-less conversion: any well-formed XML to JSON, deterministically, with no WSDL.

The convention (documented in ``docs/translator.md``):

- the document becomes ``{"<root local name>": <value>}``;
- an element with neither attributes nor child elements is its text, exactly as written
  (an empty element is ``""``); with ``xsi:nil="true"`` it is ``null``;
- otherwise it is an object: attributes as ``@<local name>``, child elements as
  ``<local name>``, and text that is not only whitespace as ``#text``;
- a child name that occurs more than once is an array of its values, in document order
  (``arrays="always"`` makes every child an array, so the shape never depends on counts);
- two different children with the same local name are told apart by the later one's
  prefix: ``<prefix>:<local name>``;
- values are strings, except where the element carries ``xsi:type`` naming an XSD built-in
  type (SOAP-encoded messages do): then the value is typed as with a schema;
- namespace declarations, ``xsi:*`` and SOAP-encoding attributes (``id``, ``href``, ...) are
  not data; ``href`` references are followed, so a multiRef value appears where it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from lxml import etree

from translators.convert.context import (
    XSI_NIL,
    XSI_NULL,
    XSI_TYPE,
    ConversionContext,
)
from translators.convert.values import LexicalError, ValueConverters
from translators.xml.attributes import attribute_items
from translators.xml.names import local_name, resolve_prefixed
from translators.xsd.builtins import BUILTINS, XSD_ALIASES
from translators.xsd.model import SimpleType, builtin_type

__all__ = ["SCHEMALESS_SCHEMA", "Arrays", "SchemalessConverter"]

Arrays = Literal["auto", "always"]

# The JSON Schema every schema-less translation conforms to.
SCHEMALESS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:mmrag:translator:schemaless:1",
    "title": "Schema-less XML to JSON (mmrag convention 1)",
    "type": "object",
    "additionalProperties": {"$ref": "#/$defs/value"},
    "$defs": {
        "scalar": {"type": ["string", "number", "boolean", "null"]},
        "value": {
            "anyOf": [
                {"$ref": "#/$defs/scalar"},
                {"type": "array", "items": {"$ref": "#/$defs/value"}},
                {
                    "type": "object",
                    "properties": {"#text": {"type": "string"}},
                    "patternProperties": {
                        "^@": {"$ref": "#/$defs/scalar"},
                        "^[^@#]": {"$ref": "#/$defs/value"},
                    },
                    "additionalProperties": False,
                },
            ]
        },
    },
}

TypedHook = Callable[[etree._Element, str, ConversionContext], Any]


class SchemalessConverter:
    """``typed`` (optional) converts an element whose ``xsi:type`` names a schema type."""

    def __init__(
        self,
        values: ValueConverters | None = None,
        *,
        arrays: Arrays = "auto",
        typed: TypedHook | None = None,
    ) -> None:
        self.values = values or ValueConverters()
        self.arrays = arrays
        self.typed = typed
        self._builtins: dict[str, SimpleType] = {}

    def document(self, root: etree._Element, ctx: ConversionContext) -> dict[str, Any]:
        return {local_name(root.tag): self.value(root, ctx)}

    def value(self, element: etree._Element, ctx: ConversionContext) -> Any:
        ctx.count(element)
        if not element.keys():  # no attributes: no reference, nil or type to read
            return self.content(element, ctx)
        ref = ctx.reference(element)
        if ref is not None and len(element) == 0:
            target = ctx.target(element, ref)
            ctx.enter(element, ref)
            try:
                return self.value(target, ctx)
            finally:
                ctx.leave(ref)
        if element.get(XSI_NIL) in ("true", "1") or element.get(XSI_NULL) in ("true", "1"):
            return None
        type_name = element.get(XSI_TYPE)
        if type_name is not None:
            typed = self._typed(element, type_name, ctx)
            if typed is not _UNTYPED:
                return typed
        return self.content(element, ctx)

    def content(self, element: etree._Element, ctx: ConversionContext) -> Any:
        """The element's attributes, text and children (no nil, reference or type check)."""
        attributes = [(k, v) for k, v in attribute_items(element) if not ctx.is_meta(element, k)]
        if not attributes and len(element) == 0:
            return element.text or ""
        out: dict[str, Any] = {}
        for name, value in attributes:
            out[_attribute_key(out, name, element)] = value
        text = _text(element)
        if text:
            out["#text"] = text
        seen: dict[str, str] = {}  # key -> Clark name
        for child in element:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            key = seen.get(tag)
            if key is None:
                key = _child_key(out, child, seen)
                seen[tag] = key
            if len(child) == 0 and not child.keys():  # a bare leaf: its text
                ctx.count(child)
                value = child.text or ""
            else:
                value = self.value(child, ctx)
            if key in out:
                existing = out[key]
                if isinstance(existing, _Repeated):
                    existing.append(value)
                else:
                    out[key] = _Repeated([existing, value])
            else:
                out[key] = _Repeated([value]) if self.arrays == "always" else value
        for key, value in out.items():
            if isinstance(value, _Repeated):
                out[key] = list(value)
        return out

    def _typed(self, element: etree._Element, type_name: str, ctx: ConversionContext) -> Any:
        name = resolve_prefixed(type_name, ctx.namespaces.of(element))
        if name is None:
            ctx.warn(f"xsi:type {type_name!r} uses an undeclared prefix; read as text")
            return _UNTYPED
        namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
        is_builtin = local in BUILTINS and (
            namespace in XSD_ALIASES
            or namespace.startswith("http://schemas.xmlsoap.org/soap/encoding")
            or namespace == "http://www.w3.org/2003/05/soap-encoding"
        )
        if is_builtin and len(element) == 0:
            simple = self._builtins.get(local)
            if simple is None:
                simple = self._builtins[local] = builtin_type(local)
            try:
                return self.values.get(simple)(element.text or "", element)
            except LexicalError as exc:
                ctx.warn(f"{element.tag}: {exc}; kept as text")
                return _UNTYPED
        if self.typed is not None and not is_builtin:
            return self.typed(element, name, ctx)
        return _UNTYPED


class _Repeated(list[Any]):
    """Marks values collected for a repeated child during one element's conversion."""


_UNTYPED: Any = object()


def _text(element: etree._Element) -> str:
    """Text of an element with attributes or children: its text nodes, if not blank."""
    parts = [element.text or ""]
    parts += [child.tail or "" for child in element]
    text = "".join(parts)
    return text if text.strip() else ""


def _attribute_key(out: dict[str, Any], name: str, element: etree._Element) -> str:
    key = "@" + local_name(name)
    if key not in out:
        return key
    namespace = name[1:].partition("}")[0] if name.startswith("{") else ""
    prefix = next((p for p, ns in element.nsmap.items() if ns == namespace and p), "ns")
    return f"@{prefix}:{local_name(name)}"


def _child_key(out: dict[str, Any], child: etree._Element, seen: dict[str, str]) -> str:
    key = local_name(child.tag)
    if key not in out and key not in seen.values():
        return key
    prefix = child.prefix or "ns"
    candidate = f"{prefix}:{key}"
    n = 2
    while candidate in out or candidate in seen.values():
        candidate = f"{prefix}{n}:{key}"
        n += 1
    return candidate
