"""Typed XML -> JSON: an element and its declaration in, the JSON value its schema describes
out (see :mod:`translators.schema.layout` for the convention both follow).

Anything in the message that the schema does not allow raises
:class:`~rag.errors.MessageMismatchError` with the element's path, except where real
messages are commonly sloppy and the meaning is unambiguous; those are converted and a
warning says what was tolerated:

- a child element in the wrong namespace whose local name matches exactly one declared child;
- ``xsi:type`` naming a type that does not derive from the declared one (the declared type
  is used).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from translators.convert.context import (
    XSI_NIL,
    XSI_NULL,
    XSI_TYPE,
    ConversionContext,
    mismatch,
)
from translators.convert.schemaless import SchemalessConverter
from translators.convert.values import LexicalError, ValueConverters
from translators.schema.generate import XSI_TYPE_KEY
from translators.schema.layout import ComplexLayout, LayoutCache, Slot
from translators.xml.attributes import attribute_items
from translators.xml.names import SOAP11_ENC, local_name, resolve_prefixed
from translators.xsd.compiler import SchemaSet
from translators.xsd.model import ComplexType, ElementDecl, SimpleType, SoapArray, XsdType

__all__ = ["TypedConverter"]

_ARRAY_TYPE = f"{{{SOAP11_ENC}}}arrayType"


class TypedConverter:
    def __init__(self, schemas: SchemaSet, layouts: LayoutCache, values: ValueConverters) -> None:
        self.schemas = schemas
        self.layouts = layouts
        self.values = values
        self.schemaless = SchemalessConverter(values, typed=self._typed_by_name)
        self._local_index: dict[int, dict[str, list[Slot]]] = {}

    # -- elements ------------------------------------------------------------------------
    def element(self, element: etree._Element, decl: ElementDecl, ctx: ConversionContext) -> Any:
        ctx.count(element)
        ref = ctx.reference(element)
        if ref is not None and len(element) == 0:
            target = ctx.target(element, ref)
            ctx.enter(element, ref)
            try:
                return self.element(target, decl, ctx)
            finally:
                ctx.leave(ref)
        if element.get(XSI_NIL) in ("true", "1") or element.get(XSI_NULL) in ("true", "1"):
            if decl.nillable or ctx.encoded:
                return None
            raise mismatch(element, f"xsi:nil on {local_name(decl.name)}, which is not nillable")
        xsd_type: XsdType = decl.type
        label: str | None = None
        type_attr = element.get(XSI_TYPE)
        if type_attr is not None:
            xsd_type, label = self._instance_type(element, type_attr, decl.type, ctx)
        if isinstance(xsd_type, SimpleType):
            return self._simple(element, xsd_type, decl, ctx)
        return self.complex(element, xsd_type, ctx, label)

    def _instance_type(
        self, element: etree._Element, type_attr: str, declared: XsdType, ctx: ConversionContext
    ) -> tuple[XsdType, str | None]:
        name = resolve_prefixed(type_attr, ctx.namespaces.of(element))
        found = self.schemas.type(name) if name is not None else None
        if found is None:
            if not (isinstance(declared, ComplexType) and declared.is_any):
                ctx.warn(f"xsi:type {type_attr!r} is not a known type; the declared type is used")
            return declared, None
        if found is declared:
            return declared, None
        if isinstance(declared, ComplexType) and (declared.is_any or declared.array is not None):
            return found, _label(found)
        if self.schemas.is_derived(found, declared):
            return found, _label(found) if isinstance(found, ComplexType) else None
        if isinstance(declared, SimpleType) and isinstance(found, SimpleType):
            return declared, None  # encoded messages restate simple types loosely
        ctx.warn(
            f"xsi:type {type_attr!r} on {local_name(element.tag)} does not derive from the "
            "declared type; the declared type is used"
        )
        return declared, None

    def _simple(
        self, element: etree._Element, simple: SimpleType, decl: ElementDecl, ctx: ConversionContext
    ) -> Any:
        if len(element):
            raise mismatch(element, f"{local_name(decl.name)} has a simple type but child elements")
        text = element.text or ""
        if not text and decl.default is not None:
            text = decl.default
        try:
            return self.values.get(simple)(text, element)
        except LexicalError as exc:
            raise mismatch(element, str(exc)) from None

    # -- complex content -----------------------------------------------------------------
    def complex(
        self,
        element: etree._Element,
        complex_type: ComplexType,
        ctx: ConversionContext,
        label: str | None = None,
    ) -> Any:
        if complex_type.is_any:
            return self.schemaless.content(element, ctx)
        if complex_type.array is not None:
            return self._array(element, complex_type.array, ctx)
        layout = self.layouts.get(complex_type)
        out: dict[str, Any] = {}
        if label is not None:
            out[XSI_TYPE_KEY] = label
        for name, value in attribute_items(element):  # linear: items() is not
            attribute = layout.attributes.get(name)
            if attribute is not None:
                key, use = attribute
                try:
                    out[key] = self.values.get(use.type)(value, element)
                except LexicalError as exc:
                    raise mismatch(element, f"attribute {local_name(name)}: {exc}") from None
            elif ctx.is_meta(element, name):
                continue
            elif complex_type.any_attribute:
                out["@" + local_name(name)] = value
            else:
                raise mismatch(element, f"undeclared attribute {local_name(name)!r}")
        if layout.text is not None:
            if len(element):
                raise mismatch(element, "simple content expected, found child elements")
            try:
                out["#text"] = self.values.get(layout.text)(element.text or "", element)
            except LexicalError as exc:
                raise mismatch(element, str(exc)) from None
            return out
        self._children(element, layout, out, ctx)
        return out

    def _children(
        self,
        element: etree._Element,
        layout: ComplexLayout,
        out: dict[str, Any],
        ctx: ConversionContext,
    ) -> None:
        text_parts: list[str] = [element.text] if element.text else []
        by_name = layout.by_name
        for child in element:
            tag = child.tag
            if child.tail:
                text_parts.append(child.tail)
            if not isinstance(tag, str):
                continue
            slot = by_name.get(tag)
            if slot is None:
                slot = self._sloppy_slot(child, layout, ctx)
                if slot is None:
                    self._wildcard(child, layout, out, ctx)
                    continue
            value = self.element(child, slot.element, ctx)
            if slot.array:
                existing = out.get(slot.key)
                if existing is None:
                    out[slot.key] = [value]
                else:
                    existing.append(value)
            elif slot.key in out:
                raise mismatch(child, f"{slot.key} may occur only once")
            else:
                out[slot.key] = value
        text = "".join(text_parts)
        if text.strip():
            if layout.mixed:
                out["#text"] = text
            else:
                raise mismatch(element, f"unexpected text {text.strip()[:40]!r}")
        for slot in layout.slots:
            if slot.required and slot.key not in out:
                raise mismatch(element, f"required element {slot.key} is missing")
        for keys, limit in layout.shared_limits:
            count = sum(len(out[k]) if isinstance(out.get(k), list) else k in out for k in keys)
            if count > limit:
                raise mismatch(
                    element, f"{' / '.join(keys)} together may occur at most {limit} times"
                )

    def _sloppy_slot(
        self, child: etree._Element, layout: ComplexLayout, ctx: ConversionContext
    ) -> Slot | None:
        """A declared child with the same local name but another namespace (unique only)."""
        index = self._local_index.get(id(layout))
        if index is None:
            index = {}
            for name, slot in layout.by_name.items():
                index.setdefault(local_name(name), []).append(slot)
            self._local_index[id(layout)] = index
        candidates = index.get(local_name(child.tag), [])
        if len(candidates) != 1:
            return None
        if layout.wildcard is not None and layout.wildcard.admits(child.tag):
            return None  # the wildcard takes it as written
        if ctx.encoded:
            return candidates[0]  # SOAP encoding writes struct members unqualified
        ctx.warn(
            f"element {child.tag} read as {candidates[0].element.name} (same local name, "
            "other namespace)"
        )
        return candidates[0]

    def _wildcard(
        self,
        child: etree._Element,
        layout: ComplexLayout,
        out: dict[str, Any],
        ctx: ConversionContext,
    ) -> None:
        wildcard = layout.wildcard
        if wildcard is None or not wildcard.admits(child.tag):
            expected = ", ".join(s.key for s in layout.slots) or "no child elements"
            raise mismatch(
                child, f"unexpected element {local_name(child.tag)}; expected {expected}"
            )
        decl = self.schemas.element(child.tag) if wildcard.process_contents != "skip" else None
        value = (
            self.element(child, decl, ctx)
            if decl is not None
            else self.schemaless.value(child, ctx)
        )
        key = local_name(child.tag)
        if key in layout.attributes or any(s.key == key for s in layout.slots):
            key = f"{child.prefix or 'ns'}:{key}"
        if wildcard.array:
            out.setdefault(key, []).append(value)
        elif key in out:
            raise mismatch(child, f"{key} may occur only once here")
        else:
            out[key] = value

    # -- SOAP-encoded arrays -------------------------------------------------------------
    def _array(
        self, element: etree._Element, array: SoapArray, ctx: ConversionContext
    ) -> list[Any]:
        item_type = array.item
        if isinstance(item_type, ComplexType) and item_type.is_any:
            declared = element.get(_ARRAY_TYPE)
            if declared:
                name = resolve_prefixed(declared.partition("[")[0], ctx.namespaces.of(element))
                found = self.schemas.type(name) if name else None
                if found is not None:
                    item_type = found
        if array.dimensions > 1:
            inner = ComplexType(None)
            inner.array = SoapArray(item_type, array.dimensions - 1)
            item_type = inner
        items: list[Any] = []
        for child in element:
            if not isinstance(child.tag, str):
                continue
            decl = ElementDecl(child.tag, item_type, nillable=True)
            items.append(self.element(child, decl, ctx))
        return items

    def _typed_by_name(self, element: etree._Element, name: str, ctx: ConversionContext) -> Any:
        """For schema-less content: an element whose xsi:type names a schema type."""
        found = self.schemas.type(name)
        if found is None:
            return self.schemaless.content(element, ctx)
        decl = ElementDecl(element.tag, found, nillable=True)
        value = self.element_without_xsi(element, decl, ctx)
        if isinstance(found, ComplexType) and isinstance(value, dict) and found.name:
            value = {XSI_TYPE_KEY: local_name(found.name), **value}
        return value

    def element_without_xsi(
        self, element: etree._Element, decl: ElementDecl, ctx: ConversionContext
    ) -> Any:
        if isinstance(decl.type, SimpleType):
            return self._simple(element, decl.type, decl, ctx)
        return self.complex(element, decl.type, ctx)


def _label(xsd_type: XsdType) -> str | None:
    return local_name(xsd_type.name) if xsd_type.name else None
