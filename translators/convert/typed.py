"""Typed XML -> JSON: an element and its declaration in, the JSON value its schema describes
out (see :mod:`translators.schema.layout` for the convention both follow).

Anything in the message that the schema does not allow raises
:class:`~rag.errors.MessageMismatchError` with the element's path, except where real
messages are commonly sloppy and the meaning is unambiguous; those are converted and a
warning says what was tolerated:

- a child element in the wrong namespace whose local name matches exactly one declared child;
- ``xsi:type`` naming a type that does not derive from the declared one (the declared type
  is used).

A lenient conversion (``ctx.deviations`` is a list) keeps the misfits of the kinds listed in
:mod:`translators.convert.deviations` instead of raising, and records each one.
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
from translators.convert.deviations import DeviationKind, json_type_schema, shorten
from translators.convert.schemaless import SchemalessConverter
from translators.convert.values import LexicalError, ValueConverters
from translators.schema.generate import XSI_TYPE_KEY
from translators.schema.layout import ComplexLayout, LayoutCache, Slot
from translators.xml.attributes import attribute_items
from translators.xml.names import SOAP11_ENC, local_name, resolve_prefixed
from translators.xsd.builtins import BUILTINS
from translators.xsd.compiler import SchemaSet
from translators.xsd.model import (
    ComplexType,
    ElementDecl,
    SimpleType,
    SoapArray,
    XsdType,
    builtin_type,
)

__all__ = ["TypedConverter"]

_ARRAY_TYPE = f"{{{SOAP11_ENC}}}arrayType"


class TypedConverter:
    def __init__(self, schemas: SchemaSet, layouts: LayoutCache, values: ValueConverters) -> None:
        self.schemas = schemas
        self.layouts = layouts
        self.values = values
        self.schemaless = SchemalessConverter(values, typed=self._typed_by_name)
        self._local_index: dict[int, dict[str, list[Slot]]] = {}
        self._required: dict[int, list[Slot]] = {}  # per layout (alive in the cache)
        self._builtins: dict[str, SimpleType] = {}

    # -- elements ------------------------------------------------------------------------
    def element(self, element: etree._Element, decl: ElementDecl, ctx: ConversionContext) -> Any:
        ctx.count(element)
        if not element.keys():  # no attributes: no reference, xsi:nil or xsi:type to read
            if isinstance(decl.type, SimpleType):
                return self._simple(element, decl.type, decl, ctx)
            return self.complex(element, decl.type, ctx)
        return self._attributed(element, decl, ctx)

    def _attributed(
        self, element: etree._Element, decl: ElementDecl, ctx: ConversionContext
    ) -> Any:
        """``element`` for any element (the general path; the one above is its shortcut for
        elements without attributes)."""
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
            if ctx.deviations is not None:
                ctx.deviate(
                    "nil",
                    f"{_type_label(decl.type)} (not nillable)",
                    "xsi:nil",
                    admits={"type": "null"},
                )
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
            if ctx.deviations is None:
                raise mismatch(
                    element, f"{local_name(decl.name)} has a simple type but child elements"
                )
            ctx.deviate(
                "unknown_element",
                _type_label(simple),
                "child elements " + ", ".join(local_name(c.tag) for c in element[:5]),
                admits={},
            )
            return self.schemaless.content(element, ctx)
        text = element.text or ""
        if not text and decl.default is not None:
            text = decl.default
        try:
            return self.values.get(simple)(text, element)
        except LexicalError as exc:
            return self.deviant_value(simple, text, element, ctx, exc)

    def deviant_value(
        self,
        simple: SimpleType,
        text: str,
        element: etree._Element,
        ctx: ConversionContext,
        exc: LexicalError,
        at: tuple[str | int, ...] = (),
    ) -> Any:
        """A value its type refuses: raise (strict), or keep it with the best type the text
        supports and record why (lenient)."""
        if ctx.deviations is None:
            where = str(at[-1]) if at else ""
            prefix = f"attribute {where[1:]}: " if where.startswith("@") else ""
            raise mismatch(element, prefix + str(exc)) from None
        stripped = text.strip()
        expected = f"{_type_label(simple)}: {exc}"
        if stripped.startswith("cid:") and simple.builtin.kind == "binary":
            ctx.deviate("missing_part", expected, stripped, at=at, admits={"type": "string"})
            return stripped
        value, nearest = self._nearest_builtin(simple, text, element)
        kind: DeviationKind = "facet" if nearest is not None else "lexical"
        ctx.deviate(kind, expected, shorten(text), at=at, admits=json_type_schema(value))
        return value

    def _nearest_builtin(
        self, simple: SimpleType, text: str, element: etree._Element
    ) -> tuple[Any, str | None]:
        """The value by the nearest built-in ancestor that accepts ``text`` (no facets of the
        schema's own), and its name; the text as written when only a string fits."""
        if simple.variety != "atomic":
            return text, None
        name: str | None = simple.builtin.name
        while name is not None and name not in ("anySimpleType", "anyAtomicType"):
            builtin = self._builtins.get(name)
            if builtin is None:
                builtin = self._builtins[name] = builtin_type(name)
            try:
                return self.values.get(builtin)(text, element), name
            except LexicalError:
                name = BUILTINS[name].base
        return text, None

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
                    out[key] = self.deviant_value(use.type, value, element, ctx, exc, (key,))
            elif ctx.is_meta(element, name):
                continue
            elif complex_type.any_attribute:
                out["@" + local_name(name)] = value
            elif ctx.deviations is not None:
                key = "@" + local_name(name)
                if key in out or key in layout.required:
                    key = f"@{_prefix_of(element, name)}:{local_name(name)}"
                declared = ", ".join(k for k, _ in layout.attributes.values()) or "none"
                ctx.deviate(
                    "attribute",
                    f"attributes: {declared}",
                    f"{name}={shorten(value, 40)!r}",
                    at=(key,),
                    admits={"type": "string"},
                )
                out[key] = value
            else:
                raise mismatch(element, f"undeclared attribute {local_name(name)!r}")
        if layout.text is not None:
            if len(element):
                if ctx.deviations is None:
                    raise mismatch(element, "simple content expected, found child elements")
                ctx.deviate(
                    "unknown_element",
                    "simple content",
                    "child elements",
                    admits={},
                )
                return self.schemaless.content(element, ctx)
            text = element.text or ""
            try:
                out["#text"] = self.values.get(layout.text)(text, element)
            except LexicalError as exc:
                out["#text"] = self.deviant_value(layout.text, text, element, ctx, exc, ("#text",))
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
        lenient = ctx.deviations is not None
        path = ctx.path
        repeated: set[str] | None = None
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
            key = slot.key
            if not lenient:
                value = self.element(child, slot.element, ctx)
            elif slot.array:
                existing = out.get(key)
                path += (key, len(existing) if isinstance(existing, list) else 0)
                value = self.element(child, slot.element, ctx)
                del path[-2:]
            else:
                path.append(key)
                if key in out:
                    if repeated is None:
                        repeated = set()
                    if key not in repeated:
                        ctx.deviate(
                            "repeated",
                            f"{key} at most once",
                            f"{local_name(tag)} repeated",
                            admits={"type": "array"},
                        )
                        out[key] = [out[key]]
                        repeated.add(key)
                    path.append(len(out[key]))
                    value = self.element(child, slot.element, ctx)
                    del path[-2:]
                    out[key].append(value)
                    continue
                value = self.element(child, slot.element, ctx)
                path.pop()
            if slot.array:
                existing = out.get(key)
                if existing is None:
                    out[key] = [value]
                else:
                    existing.append(value)
            elif key in out:
                raise mismatch(child, f"{key} may occur only once")
            else:
                out[key] = value
        if lenient:
            for key, value in out.items():
                if isinstance(value, _Unknown):
                    out[key] = value[0] if len(value) == 1 else list(value)
        text = "".join(text_parts)
        if text.strip():
            if layout.mixed:
                out["#text"] = text
            elif lenient:
                ctx.deviate(
                    "text",
                    "element-only content",
                    repr(shorten(text.strip(), 40)),
                    at=("#text",),
                    admits={"type": "string"},
                )
                out["#text"] = text
            else:
                raise mismatch(element, f"unexpected text {text.strip()[:40]!r}")
        required = self._required.get(id(layout))
        if required is None:
            required = self._required[id(layout)] = [s for s in layout.slots if s.required]
        for slot in required:
            if slot.key not in out:
                if lenient:
                    ctx.deviate(
                        "missing",
                        f"required element {slot.key}",
                        "absent",
                        optional=slot.key,
                    )
                    continue
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
            if ctx.deviations is not None:
                self._unknown(child, layout, out, ctx, expected)
                return
            raise mismatch(
                child, f"unexpected element {local_name(child.tag)}; expected {expected}"
            )
        decl = self.schemas.element(child.tag) if wildcard.process_contents != "skip" else None
        key = local_name(child.tag)
        if key in layout.attributes or any(s.key == key for s in layout.slots):
            key = f"{child.prefix or 'ns'}:{key}"
        lenient = ctx.deviations is not None
        if lenient:
            existing = out.get(key)
            ctx.path.append(key)
            if wildcard.array:
                ctx.path.append(len(existing) if isinstance(existing, list) else 0)
        value = (
            self.element(child, decl, ctx)
            if decl is not None
            else self.schemaless.value(child, ctx)
        )
        if lenient:
            del ctx.path[-2 if wildcard.array else -1 :]
        if wildcard.array:
            out.setdefault(key, []).append(value)
        elif key in out:
            raise mismatch(child, f"{key} may occur only once here")
        else:
            out[key] = value

    def _unknown(
        self,
        child: etree._Element,
        layout: ComplexLayout,
        out: dict[str, Any],
        ctx: ConversionContext,
        expected: str,
    ) -> None:
        """An undeclared child, kept under its local name with the best type the XML gives:
        its ``xsi:type``, else its global declaration, else the schema-less convention."""
        key = local_name(child.tag)
        declared = {s.key for s in layout.slots} | {"#text"}
        if key in declared or (key in out and not isinstance(out[key], _Unknown)):
            key = f"{child.prefix or 'ns'}:{key}"
        existing = out.get(key)
        ctx.deviate(
            "unknown_element",
            f"one of: {shorten(expected, 160)}",
            child.tag,
            at=(key,),
            admits={},
        )
        ctx.path.append(key)
        if existing is not None:
            ctx.path.append(len(existing))
        decl = self.schemas.element(child.tag) if child.get(XSI_TYPE) is None else None
        if decl is not None:
            value = self.element(child, decl, ctx)
        else:
            value = self.schemaless.value(child, ctx)
        del ctx.path[-1 if existing is None else -2 :]
        if existing is None:
            out[key] = _Unknown([value])
        else:
            existing.append(value)

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
        lenient = ctx.deviations is not None
        for child in element:
            if not isinstance(child.tag, str):
                continue
            decl = ElementDecl(child.tag, item_type, nillable=True)
            if lenient:
                ctx.path.append(len(items))
                items.append(self.element(child, decl, ctx))
                ctx.path.pop()
            else:
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


def _type_label(xsd_type: XsdType) -> str:
    if xsd_type.name is None:
        if isinstance(xsd_type, SimpleType):
            return f"anonymous {xsd_type.builtin.name} type"
        return "anonymous type"
    return local_name(xsd_type.name)


def _prefix_of(element: etree._Element, name: str) -> str:
    namespace = name[1:].partition("}")[0] if name.startswith("{") else ""
    return next((p for p, ns in element.nsmap.items() if ns == namespace and p), "ns")


class _Unknown(list[Any]):
    """Values of one undeclared child name, collected during one element's conversion
    (a single one is unwrapped when the element is done)."""
