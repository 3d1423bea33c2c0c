"""Type accuracy: is each leaf typed as its XSD type says?

The XSD type of a leaf is read from the operation's generated JSON Schema (the ``type``,
``format`` and ``enum`` keywords and the float ``INF``/``NaN`` branch, found by following
the JSON path through ``$ref``/``anyOf``/``oneOf``/``allOf``). The value itself is then
checked independently of the translator's converter:

- ``integer``: a JSON integer (not a boolean);
- ``decimal``: an exact number (int or Decimal, never a float, never a string) with the value
  and the number of fraction digits written in the XML (``19.90`` stays ``19.90``);
- ``float``: a JSON number, or ``INF``/``-INF``/``NaN``;
- ``boolean``: ``true``/``false``;
- ``date``/``date-time``/``time``/``duration``: a string in ISO 8601 form equal to the XML
  text (whitespace collapsed); other temporal types (gYear, ...) equal to the text;
- ``string`` (and binary, QName): a string; ``list`` (``xs:list``): an array.

Leaves whose schema admits any JSON (``xs:anyType``, wildcards, schema-less output) have no
declared type and are not counted; ``null`` (nil) leaves are not counted either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from eval.translator_leaves import JsonPath, LeafPair

__all__ = ["TypeCheck", "check_types", "declared_kinds", "value_fits"]

_TZ = r"(?:Z|[+-]\d{2}:\d{2})?"
ISO = {
    "date": re.compile(r"-?\d{4,}-\d{2}-\d{2}" + _TZ),
    "date-time": re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?" + _TZ),
    "time": re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?" + _TZ),
    "duration": re.compile(
        r"-?P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?"
    ),
}
NON_FINITE = ("INF", "-INF", "NaN")
_GREGORIAN = ("xs:gYear", "xs:gYearMonth", "xs:gMonth", "xs:gMonthDay", "xs:gDay")
_COMBINATORS = ("anyOf", "oneOf", "allOf")
_MAX_DEPTH = 40
_ANNOTATIONS = ("title", "description", "$comment", "$schema", "$id")


@dataclass
class TypeCheck:
    typed: int = 0  # leaves with a declared type
    correct: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [correct, typed]
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, ok: bool, problem: str | None) -> None:
        self.typed += 1
        counts = self.by_kind.setdefault(kind, [0, 0])
        counts[1] += 1
        if ok:
            self.correct += 1
            counts[0] += 1
        elif problem:
            self.problems.append(problem)


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    for _ in range(_MAX_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            return {}
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node = target
    return {}


def _alternatives(node: Any, root: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """The schemas a value under ``node`` may follow (combinators flattened)."""
    node = _resolve(node, root)
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return []
    own = {k: v for k, v in node.items() if k not in _COMBINATORS}
    constraining = any(not _annotation(k) for k in own)
    combined = any(k in node for k in _COMBINATORS)
    out = [own] if constraining or not combined else []  # no keyword at all: any JSON
    for keyword in _COMBINATORS:
        for branch in node.get(keyword, []):
            out += _alternatives(branch, root, depth + 1)
    return out


def _child(alternative: dict[str, Any], step: str | int) -> Any:
    if isinstance(step, int):
        return alternative.get("items")
    properties = alternative.get("properties", {})
    if step in properties:
        return properties[step]
    for pattern, schema in alternative.get("patternProperties", {}).items():
        if re.search(pattern, step):
            return schema
    extra = alternative.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def schema_at(schema: dict[str, Any], path: JsonPath) -> list[dict[str, Any]]:
    """The alternatives of the schema that describes the value at ``path``."""
    current = _alternatives(schema, schema)
    for step in path:
        children = [_child(alt, step) for alt in current]
        current = [
            alt for child in children if child is not None for alt in _alternatives(child, schema)
        ]
        if not current:
            return []
    return current


def _kind(alternative: dict[str, Any]) -> str | None:
    kind = alternative.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    kinds = [k for k in kinds if k != "null"]
    if not kinds and "enum" in alternative:
        values = alternative["enum"]
        if values and all(v in NON_FINITE for v in values):
            return "float-special"
        if all(isinstance(v, bool) for v in values):
            return "boolean"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "integer"
        if all(isinstance(v, int | float | Decimal) and not isinstance(v, bool) for v in values):
            return "decimal"
        return "string"
    if "const" in alternative and not kinds:
        return "string"
    if not kinds:
        return None
    first = kinds[0]
    if first == "number":
        return "decimal"
    if first == "array":
        return "list"
    if first == "string":
        fmt = alternative.get("format")
        if fmt in ISO:
            return str(fmt)
        if alternative.get("x-xsd-type") in _GREGORIAN:
            return "gregorian"
        return "string"
    return str(first)


def declared_kinds(schema: dict[str, Any], path: JsonPath) -> set[str]:
    """The kinds the schema declares for the leaf at ``path`` (empty: any JSON)."""
    alternatives = schema_at(schema, path)
    kinds = {k for k in (_kind(a) for a in alternatives) if k is not None}
    if any(_kind(a) is None and _is_any(a) for a in alternatives):
        return set()  # some branch admits anything: the type is not declared
    if "float-special" in kinds:
        kinds.discard("float-special")
        kinds = {"float" if k == "decimal" else k for k in kinds} | {"float"}
    return kinds - {"object", "null"}


def _annotation(keyword: str) -> bool:
    return keyword.startswith("x-") or keyword in _ANNOTATIONS


def _is_any(alternative: dict[str, Any]) -> bool:
    return all(_annotation(k) or k in ("additionalProperties", "$defs") for k in alternative)


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().lstrip("+"))
    except InvalidOperation:
        return None


def value_fits(kind: str, value: Any, text: str) -> bool:
    """Whether ``value`` is typed as ``kind`` says (``text``: the XML lexical form)."""
    collapsed = " ".join(text.split())
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    if kind == "decimal":
        written = _decimal(text)
        if not isinstance(value, int | Decimal) or written is None:
            return False
        exact = Decimal(value)
        return exact == written and max(0, -int(exact.as_tuple().exponent)) == max(
            0, -int(written.as_tuple().exponent)
        )
    if kind == "float":
        return isinstance(value, int | float | Decimal) or value in NON_FINITE
    if kind in ISO:
        return isinstance(value, str) and value == collapsed and bool(ISO[kind].fullmatch(value))
    if kind == "gregorian":
        return isinstance(value, str) and value == collapsed
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, str)


def check_types(schema: dict[str, Any] | None, pairs: Iterable[LeafPair]) -> TypeCheck:
    """Type accuracy of the matched leaves ``pairs`` against ``schema``'s declared types."""
    result = TypeCheck()
    if schema is None:
        return result
    for pair in pairs:
        if pair.value is None:
            continue
        kinds = declared_kinds(schema, pair.path)
        if not kinds:
            continue
        fitting = [k for k in sorted(kinds) if value_fits(k, pair.value, pair.text)]
        kind = fitting[0] if fitting else "|".join(sorted(kinds))
        where = "/" + "/".join(str(p) for p in pair.path)
        result.add(
            kind,
            bool(fitting),
            None
            if fitting
            else f"{where}: {pair.value!r} is not {kind} ({pair.text.strip()[:30]!r})",
        )
    return result
