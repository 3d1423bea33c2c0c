"""A sample request for an operation, built from the compiled schema (not the JSON Schema).

Every attribute and element the type declares is present (optional ones included), repeated
elements twice, the first branch of each choice only, values in their type's lexical space
(enumerations take their first value, lengths and ranges are respected where a facet says
so). Recursion stops at ``max_depth``, where only what is required is kept (a required recursion
ends in ``null`` at twice that depth). The round-trip
suite and the bridgeability benchmark feed these samples to the serializer (and zeep).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from translators.compiled import CompiledWsdl
from translators.schema.layout import ComplexLayout, LayoutCache
from translators.wsdl.model import Operation
from translators.xml.names import local_name
from translators.xsd.model import ComplexType, ElementDecl, SimpleType, XsdType

__all__ = ["sample_request"]

_TEMPORAL = {
    "date": "2024-01-02",
    "dateTime": "2024-01-02T03:04:05",
    "time": "03:04:05",
    "duration": "P1D",
    "gYear": "2024",
    "gYearMonth": "2024-01",
    "gMonth": "--01",
    "gMonthDay": "--01-02",
    "gDay": "---02",
}


def sample_request(
    compiled: CompiledWsdl, operation: Operation, *, max_depth: int = 6
) -> dict[str, Any]:
    """The JSON body of a request that exercises the operation's input message."""
    shape = compiled.message(operation, "input").shape
    builder = _Sampler(compiled.layouts, max_depth)
    return {e.key: builder.element(e.element, 0) for e in shape.body}


class _Sampler:
    def __init__(self, layouts: LayoutCache, max_depth: int) -> None:
        self.layouts = layouts
        self.max_depth = max_depth

    def element(self, decl: ElementDecl, depth: int) -> Any:
        if depth > 2 * self.max_depth and isinstance(decl.type, ComplexType):
            return None  # a required recursion has no finite instance: nil ends it
        if decl.fixed is not None and isinstance(decl.type, SimpleType):
            return self.simple(decl.type, decl.fixed)
        return self.value(decl.type, depth)

    def value(self, xsd_type: XsdType, depth: int) -> Any:
        if isinstance(xsd_type, SimpleType):
            return self.simple(xsd_type)
        if xsd_type.is_any:
            return "text"
        if xsd_type.array is not None:
            if depth >= self.max_depth:
                return []
            return [self.value(xsd_type.array.item, depth + 1) for _ in range(2)]
        return self.complex(self.layouts.get(xsd_type), depth)

    def complex(self, layout: ComplexLayout, depth: int) -> Any:
        out: dict[str, Any] = {}
        shallow = depth >= self.max_depth
        for _name, (key, use) in layout.attributes.items():
            if use.required or not shallow:
                out[key] = self.simple(use.type, use.fixed)
        if layout.text is not None:
            out["#text"] = self.simple(layout.text)
        skipped: set[str] = set()
        for choice in layout.choices:
            for branch in choice.branches[1:]:
                skipped.update(branch)
        for slot in layout.slots:
            if slot.key in skipped or (shallow and not slot.required):
                continue
            if _recursive(slot.element, layout.type) and not slot.required:
                continue
            one = self.element(slot.element, depth + 1)
            out[slot.key] = [one, one] if slot.array else one
        return out

    def simple(self, simple: SimpleType, fixed: str | None = None) -> Any:
        if simple.variety == "list":
            assert simple.item is not None
            return [self.simple(simple.item)]
        if simple.variety == "union":
            return self.simple(simple.members[0]) if simple.members else "text"
        facets = simple.facets
        kind = simple.builtin.kind
        name = simple.builtin.name
        if fixed is not None:
            lexical = fixed
        elif facets.enumeration:
            lexical = facets.enumeration[0]
        else:
            lexical = None
        if kind == "boolean":
            return lexical in ("true", "1") if lexical is not None else True
        if kind == "integer":
            if lexical is not None:
                return int(lexical)
            low = facets.min_inclusive or facets.min_exclusive
            number = 1
            if simple.builtin.minimum is not None:
                number = max(number, simple.builtin.minimum)
            if simple.builtin.maximum is not None:
                number = min(number, simple.builtin.maximum)
            if low is not None and _is_int(low):
                number = max(number, int(low) + (1 if facets.min_exclusive else 0))
            return number
        if kind in ("decimal", "float"):
            if lexical is not None:
                return Decimal(lexical)
            return Decimal("12") if facets.fraction_digits == 0 else Decimal("12.5")
        if lexical is not None:
            return lexical
        if kind == "temporal":
            return _TEMPORAL.get(name, "2024-01-02")
        if kind == "binary":
            return "aGVsbG8=" if name == "base64Binary" else "CAFE"
        if kind == "qname":
            return "{urn:sample}value"
        text = {"anyURI": "urn:sample", "language": "en"}.get(name, "text")
        if name in ("ID", "NCName", "NMTOKEN", "Name", "IDREF", "ENTITY", "token"):
            text = "text"
        length = facets.length or facets.min_length
        if length is not None and len(text) < length:
            text = (text * length)[:length]
        if facets.max_length is not None and len(text) > facets.max_length:
            text = text[: max(facets.max_length, 1)]
        return text


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()


def _recursive(decl: ElementDecl, owner: ComplexType) -> bool:
    return decl.type is owner or (
        isinstance(decl.type, ComplexType) and local_name(decl.type.name or "") == "anyType"
    )
