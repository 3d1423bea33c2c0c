"""JSON Schema for XSD simple types: the JSON type, format and every facet JSON Schema can
express. Facets it cannot express (ranges on dates, lengths of binary data in octets,
enumerations of QNames) are kept as ``x-xsd-*`` annotations; the converter enforces
``totalDigits``/``fractionDigits`` and enumerations of list and union types itself.
"""

from __future__ import annotations

from typing import Any

from elementpath.regex import translate_pattern

from translators.convert.values import LexicalError, ValueConverters, collapse, decimal_from_lexical
from translators.xml.names import XSD
from translators.xsd.model import Facets, SimpleType

__all__ = ["simple_schema", "xsd_type_label"]

Schema = dict[str, Any]
NON_FINITE = ["INF", "-INF", "NaN"]
MAX_PATTERN_CHARS = 20_000


def xsd_type_label(name: str | None) -> str | None:
    """``xs:int`` for built-ins, the Clark name otherwise."""
    if name is None:
        return None
    if name.startswith(f"{{{XSD}}}"):
        return "xs:" + name[len(XSD) + 2 :]
    return name


def simple_schema(simple: SimpleType, converters: ValueConverters, depth: int = 0) -> Schema:
    if depth > 32:
        return {}
    if simple.variety == "list":
        assert simple.item is not None
        schema: Schema = {
            "type": "array",
            "items": simple_schema(simple.item, converters, depth + 1),
        }
        _lengths(schema, simple.facets, "minItems", "maxItems")
        _annotate_enumeration(schema, simple)
        return _labelled(schema, simple)
    if simple.variety == "union":
        schema = {"anyOf": [simple_schema(m, converters, depth + 1) for m in simple.members]}
        _annotate_enumeration(schema, simple)
        return _labelled(schema, simple)
    return _labelled(_atomic(simple, converters), simple)


def _labelled(schema: Schema, simple: SimpleType) -> Schema:
    label = xsd_type_label(simple.name)
    if label is not None:
        schema["x-xsd-type"] = label
    return schema


def _atomic(simple: SimpleType, converters: ValueConverters) -> Schema:
    builtin = simple.builtin
    facets = simple.facets
    kind = builtin.kind
    schema: Schema
    if kind in ("string", "temporal", "qname"):
        schema = {"type": "string"}
        if builtin.json_format:
            schema["format"] = builtin.json_format
        if kind == "temporal" and builtin.lexical:
            schema["pattern"] = f"^(?:{builtin.lexical})$"
        if kind == "qname":
            schema["x-xsd-value"] = "QName in Clark notation {namespace}local"
        _lengths(schema, facets, "minLength", "maxLength")
    elif kind == "binary":
        schema = {"type": "string"}
        if builtin.name == "base64Binary":
            schema["contentEncoding"] = "base64"
        else:
            schema["pattern"] = "^(?:[0-9a-fA-F]{2})*$"
        for facet in ("length", "min_length", "max_length"):
            if getattr(facets, facet) is not None:
                schema[f"x-xsd-{facet.replace('_', '-')}-octets"] = getattr(facets, facet)
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "integer":
        schema = {"type": "integer"}
        if builtin.minimum is not None:
            schema["minimum"] = builtin.minimum
        if builtin.maximum is not None:
            schema["maximum"] = builtin.maximum
        _ranges(schema, facets, int)
    elif kind == "decimal":
        schema = {"type": "number"}
        _ranges(schema, facets, decimal_from_lexical)
        if facets.total_digits is not None:
            schema["x-xsd-totalDigits"] = facets.total_digits
        if facets.fraction_digits is not None:
            schema["x-xsd-fractionDigits"] = facets.fraction_digits
    else:  # float / double
        number: Schema = {"type": "number"}
        _ranges(number, facets, _finite_float)
        schema = {"anyOf": [number, {"enum": list(NON_FINITE)}]}
    if kind == "temporal":
        for facet in ("min_inclusive", "max_inclusive", "min_exclusive", "max_exclusive"):
            value = getattr(facets, facet)
            if value is not None:
                schema[f"x-xsd-{_camel(facet)}"] = value
    if facets.patterns and kind != "binary":
        translated = [_pattern(step) for step in facets.patterns]
        usable = [p for p in translated if p is not None]
        for pattern in usable:
            if "pattern" not in schema:
                schema["pattern"] = pattern
            else:
                schema.setdefault("allOf", []).append({"pattern": pattern})
        if len(usable) < len(translated):
            schema["x-xsd-pattern"] = [list(step) for step in facets.patterns]
    if facets.enumeration is not None:
        _enumeration(schema, simple, converters)
    return schema


def _enumeration(schema: Schema, simple: SimpleType, converters: ValueConverters) -> None:
    assert simple.facets.enumeration is not None
    if simple.builtin.kind == "qname":
        schema["x-xsd-enumeration"] = list(simple.facets.enumeration)
        return
    convert = converters.get(simple)
    values: list[Any] = []
    for lexical in simple.facets.enumeration:
        try:
            value = convert(lexical, _NO_ELEMENT)
        except LexicalError:
            continue  # an enumerated value outside its own type can never occur
        if value not in values:
            values.append(value)
    if "anyOf" in schema:  # float: the enumeration governs both branches
        schema.clear()
        schema["enum"] = values
        return
    schema["enum"] = values


def _annotate_enumeration(schema: Schema, simple: SimpleType) -> None:
    if simple.facets.enumeration is not None:
        schema["x-xsd-enumeration"] = [collapse(v) for v in simple.facets.enumeration]


def _lengths(schema: Schema, facets: Facets, low: str, high: str) -> None:
    if facets.length is not None:
        schema[low] = schema[high] = facets.length
    if facets.min_length is not None:
        schema[low] = facets.min_length
    if facets.max_length is not None:
        schema[high] = facets.max_length


def _ranges(schema: Schema, facets: Facets, parse: Any) -> None:
    pairs = (
        ("min_inclusive", "minimum", max),
        ("max_inclusive", "maximum", min),
        ("min_exclusive", "exclusiveMinimum", max),
        ("max_exclusive", "exclusiveMaximum", min),
    )
    for facet, keyword, tighter in pairs:
        raw = getattr(facets, facet)
        if raw is None:
            continue
        try:
            value = parse(raw)
        except (ValueError, ArithmeticError):
            schema[f"x-xsd-{_camel(facet)}"] = raw
            continue
        if value is None:
            continue
        schema[keyword] = tighter(schema[keyword], value) if keyword in schema else value


def _finite_float(raw: str) -> float | None:
    value = float(raw)
    return value if value not in (float("inf"), float("-inf")) and value == value else None


def _pattern(alternatives: tuple[str, ...]) -> str | None:
    try:
        translated = "|".join(translate_pattern(p) for p in alternatives)
    except Exception:  # noqa: BLE001 - an unreadable pattern is annotated, not enforced
        return None
    if len(translated) > MAX_PATTERN_CHARS:
        return None
    return f"^(?:{translated})$"


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


class _NoElement:
    nsmap: dict[str | None, str] = {}  # noqa: RUF012 - a read-only stand-in


_NO_ELEMENT: Any = _NoElement()
