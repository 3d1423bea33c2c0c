"""JSON Schema (draft 2020-12) for operation messages, generated from the XSD components.

Every complex type becomes a ``$defs`` entry (so recursive types stay finite); simple types
are inlined. The rules follow :mod:`translators.schema.layout` exactly, which is also what
the converter follows:

- nillable elements (and every element of a SOAP-encoded message) admit ``null``; optional
  elements are optional keys; repeated elements are arrays with ``minItems`` >= 1;
- a complex type that other named types extend or restrict admits each of them
  (``anyOf``), told apart by ``@xsi:type`` as written in the message;
- a SOAP-encoded array is a JSON array of its item type;
- ``xs:anyType`` and untyped elements admit any JSON value.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from translators.convert.values import ValueConverters
from translators.schema.layout import ComplexLayout, LayoutCache
from translators.schema.message import BodyEntry, MessageShape
from translators.schema.simple import simple_schema, xsd_type_label
from translators.xml.names import local_name
from translators.xsd.model import ComplexType, ElementDecl, SimpleType, SoapArray, XsdType

__all__ = ["DIALECT", "XSI_TYPE_KEY", "SchemaGenerator"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
XSI_TYPE_KEY = "@xsi:type"
Schema = dict[str, Any]


class SchemaGenerator:
    """Builds one self-contained schema document; use one instance per document."""

    def __init__(self, layouts: LayoutCache, converters: ValueConverters) -> None:
        self.layouts = layouts
        self.converters = converters
        self.defs: dict[str, Schema] = {}
        self._names: dict[tuple[int, bool], str] = {}

    # -- documents -----------------------------------------------------------------------
    def message_schema(self, shape: MessageShape, *, schema_id: str, title: str) -> Schema:
        body = self._entries_schema(shape.body, shape.encoded, allow_any=shape.any_body)
        document: Schema = {"$schema": DIALECT, "$id": schema_id, "title": title}
        document.update(body)
        if self.defs:
            document["$defs"] = dict(sorted(self.defs.items()))
        return document

    def header_schema(self, shape: MessageShape, *, schema_id: str, title: str) -> Schema:
        headers = self._entries_schema(shape.headers, shape.encoded, allow_any=True)
        document: Schema = {"$schema": DIALECT, "$id": schema_id, "title": title}
        document.update(headers)
        if self.defs:
            document["$defs"] = dict(sorted(self.defs.items()))
        return document

    def _entries_schema(
        self, entries: tuple[BodyEntry, ...], encoded: bool, *, allow_any: bool
    ) -> Schema:
        properties = {e.key: self.element_value(e.element, encoded) for e in entries}
        schema: Schema = {"type": "object", "properties": properties}
        required = [e.key for e in entries if e.required]
        if required:
            schema["required"] = required
        schema["additionalProperties"] = {} if allow_any else False
        return schema

    # -- elements and types --------------------------------------------------------------
    def element_value(self, decl: ElementDecl, encoded: bool) -> Schema:
        value = self.type_schema(decl.type, encoded, hint=local_name(decl.name))
        if decl.fixed is not None and isinstance(decl.type, SimpleType):
            value = {**value, "x-xsd-fixed": decl.fixed}
        if decl.nillable or encoded:
            return _nullable(value)
        return value

    def type_schema(self, xsd_type: XsdType, encoded: bool, *, hint: str = "anonymous") -> Schema:
        """The schema of a type; ``hint`` names the $defs entry of an anonymous type."""
        if isinstance(xsd_type, SimpleType):
            return simple_schema(xsd_type, self.converters)
        if xsd_type.is_any:
            return {}
        if xsd_type.array is not None:
            return self._array_schema(xsd_type.array, encoded)
        family = [t for t in _derived_family(xsd_type) if not t.abstract] or [xsd_type]
        refs = [{"$ref": f"#/$defs/{self._def(t, encoded, hint)}"} for t in family]
        return refs[0] if len(refs) == 1 else {"anyOf": refs}

    def _array_schema(self, array: SoapArray, encoded: bool) -> Schema:
        items: Schema = _nullable(self.type_schema(array.item, encoded, hint="item"))
        for _ in range(array.dimensions - 1):
            items = _nullable({"type": "array", "items": items})
        return {"type": "array", "items": items, "x-soap-array": True}

    def _def(self, complex_type: ComplexType, encoded: bool, hint: str) -> str:
        key = (id(complex_type), encoded)
        name = self._names.get(key)
        if name is not None:
            return name
        base = local_name(complex_type.name) if complex_type.name else hint
        name = base + ("~encoded" if encoded else "")
        n = 2
        while name in self.defs:
            name = f"{base}~{n}" + ("~encoded" if encoded else "")
            n += 1
        self._names[key] = name
        self.defs[name] = {}  # reserved: recursive references resolve to this entry
        self.defs[name] = self._object_schema(self.layouts.get(complex_type), encoded)
        return name

    def _object_schema(self, layout: ComplexLayout, encoded: bool) -> Schema:
        ct = layout.type
        properties: Schema = {}
        if isinstance(ct.base, ComplexType) or ct.derived:
            label = local_name(ct.name) if ct.name else None
            properties[XSI_TYPE_KEY] = {"const": label} if label else {"type": "string"}
        for key, use in layout.attributes.values():
            properties[key] = simple_schema(use.type, self.converters)
        if layout.text is not None:
            properties["#text"] = simple_schema(layout.text, self.converters)
        elif layout.mixed:
            properties["#text"] = {"type": "string"}
        for slot in layout.slots:
            value = self.element_value(slot.element, encoded)
            if slot.array:
                array: Schema = {
                    "type": "array",
                    "items": value,
                    "minItems": max(1, slot.min_occurs),
                }
                if slot.max_occurs is not None:
                    array["maxItems"] = slot.max_occurs
                value = array
            properties[slot.key] = value
        schema: Schema = {"type": "object", "properties": properties}
        required = layout.required
        if required:
            schema["required"] = required
        if layout.wildcard is not None:
            schema["additionalProperties"] = {}
        elif ct.any_attribute:
            schema["patternProperties"] = {"^@": {"type": "string"}}
            schema["additionalProperties"] = False
        else:
            schema["additionalProperties"] = False
        constraints = [
            _choice_schema(c.branches, c.required_in_branch, c.required) for c in layout.choices
        ]
        constraints += [
            {"anyOf": [{"required": [k]} for k in group]} for group in layout.any_of_required
        ]
        if len(constraints) == 1:
            schema.update(constraints[0])
        elif constraints:
            schema["allOf"] = constraints
        label = xsd_type_label(ct.name)
        if label is not None:
            schema["x-xsd-type"] = label
        return schema


def _choice_schema(
    branches: tuple[tuple[str, ...], ...],
    required_in_branch: tuple[tuple[str, ...], ...],
    required: bool,
) -> Schema:
    """At most one branch's keys present (exactly one when required); within a branch, any
    key present demands the branch's required keys."""
    options: list[Schema] = []
    for keys in branches:
        present: Schema = (
            {"anyOf": [{"required": [k]} for k in keys]}
            if len(keys) > 1
            else {"required": [keys[0]]}
        )
        options.append(present)
    all_keys = [k for keys in branches for k in keys]
    if not required:
        options.append({"not": {"anyOf": [{"required": [k]} for k in all_keys]}})
    schema: Schema = {"oneOf": options}
    dependent = {
        key: [r for r in need if r != key]
        for keys, need in zip(branches, required_in_branch, strict=True)
        for key in keys
        if [r for r in need if r != key]
    }
    if dependent:
        schema["dependentRequired"] = dependent
        schema["dependencies"] = dependent  # the draft-7 spelling, for draft-7 validators
    return schema


def _nullable(schema: Schema) -> Schema:
    if not schema:
        return schema  # {} already admits null
    kind = schema.get("type")
    if isinstance(kind, str) and set(schema) <= {"type", "format", "x-xsd-type"}:
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _derived_family(complex_type: ComplexType) -> list[ComplexType]:
    """The type and every named type derived from it, breadth first."""
    family: list[ComplexType] = [complex_type]
    seen = {id(complex_type)}
    queue = deque(complex_type.derived)
    while queue:
        current = queue.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        family.append(current)
        queue.extend(current.derived)
    return family
