"""Declared deviations: where a message does not follow its schema, and the schema widened
exactly there.

A typed translation under the ``declare`` policy keeps data the schema does not allow with the
best type the XML itself supports, and lists each such place as a :class:`Deviation`
(``{path, kind, expected, found}``; ``path`` is a JSON Pointer into ``data``, or into
``headers`` when ``part`` says so). :func:`widen` derives the schema the result validates
against: the operation's schema with each deviating path, and only that path, admitting what
was found (array items are specialised with ``prefixItems``, ``$ref``\\ s on the way are
inlined, so no other use of a shared type is widened).

The kinds (see ``docs/translator.md`` for the table and examples):

================  ==================================================  =====================
kind              what the message did                                what the JSON holds
================  ==================================================  =====================
nil               ``xsi:nil`` on an element not declared nillable     ``null``
facet             a value outside a facet (pattern, length,           the value, typed by the
                  enumeration, range, digits)                         nearest built-in type
lexical           a value outside its type's lexical space            the text, as written
attribute         an attribute the type does not declare              ``@name``: the string
unknown_element   a child element the type does not declare           its local name: typed
                                                                      by its xsi:type or its
                                                                      global declaration,
                                                                      else schema-less
repeated          a single-valued element written more than once      an array of the values
text              text inside element-only content                    ``#text``
missing           a required child element is absent                  (the key is absent)
wrapper           a body element / rpc wrapper named otherwise than   the message, converted
                  its operation's message declares                    by its declaration
missing_part      an MTOM ``cid:`` reference whose part is absent     the ``cid:`` reference
================  ==================================================  =====================
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args
from urllib.parse import quote

__all__ = [
    "DEVIATION_KINDS",
    "Deviation",
    "DeviationKind",
    "header_value",
    "json_type_schema",
    "pointer",
    "widen",
]

DeviationKind = Literal[
    "nil",
    "facet",
    "lexical",
    "attribute",
    "unknown_element",
    "repeated",
    "text",
    "missing",
    "wrapper",
    "missing_part",
]
DEVIATION_KINDS: tuple[str, ...] = get_args(DeviationKind)
Path = tuple[str | int, ...]
Part = Literal["body", "headers"]
MAX_HEADER_CHARS = 1024
MAX_FOUND_CHARS = 80


@dataclass(frozen=True)
class Deviation:
    """One place where the message does not follow its schema.

    ``admits``: the schema the widened schema adds (``anyOf``) at ``path``; ``optional``:
    a required key of the object at ``path`` that may be absent; neither: nothing to widen
    (the JSON fits, only the XML did not)."""

    path: Path
    kind: DeviationKind
    expected: str
    found: str
    part: Part = "body"
    admits: dict[str, Any] | None = None
    optional: str | None = None

    @property
    def pointer(self) -> str:
        return pointer(self.path)

    def as_dict(self) -> dict[str, str]:
        body = {
            "path": self.pointer,
            "kind": self.kind,
            "expected": self.expected,
            "found": self.found,
        }
        if self.part != "body":
            body["in"] = self.part
        return body


def pointer(path: Iterable[str | int]) -> str:
    """A JSON Pointer (RFC 6901)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def shorten(text: str, limit: int = MAX_FOUND_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_type_schema(value: Any) -> dict[str, Any]:
    """The loosest schema of ``value``'s JSON kind (what a deviating value is admitted as)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        return {"type": "object"}
    return {"type": "number"}  # float, Decimal


def header_value(deviations: Sequence[Deviation], limit: int = MAX_HEADER_CHARS) -> str:
    """``X-Translation-Deviations``: ``<count>; <kind>=<path>, ...`` in ASCII, cut at
    ``limit`` characters with ``; +N more``."""
    head = f"{len(deviations)}; "
    items: list[str] = []
    used = len(head)
    for index, deviation in enumerate(deviations):
        where = ("headers:" if deviation.part == "headers" else "") + deviation.pointer
        item = f"{deviation.kind}={quote(where, safe='/@#:~-._')}"
        rest = len(deviations) - index - 1
        tail = len(f"; +{rest + 1} more") if rest else 0
        if used + len(item) + 2 + tail > limit:
            return head + ", ".join(items) + f"; +{len(deviations) - index} more"
        items.append(item)
        used += len(item) + 2
    return head + ", ".join(items)


# -- widening ------------------------------------------------------------------------------
def widened_id(base_id: str, deviations: Sequence[Deviation]) -> str:
    """The widened schema's name: the base schema's, plus a digest of what it admits."""
    recipe = [[list(d.path), d.admits, d.optional] for d in deviations if d.admits or d.optional]
    # The same recipe written the same way has the same digest: remembered by its repr
    # (the canonical JSON and its hash cost more than the rest of a deviation's bookkeeping).
    key = repr(recipe)
    digest = _DIGESTS.get(key)
    if digest is None:
        canonical = json.dumps(recipe, sort_keys=True, default=str).encode()
        digest = hashlib.sha256(canonical).hexdigest()[:16]
        if len(_DIGESTS) >= _DIGESTS_KEPT:
            _DIGESTS.clear()
        _DIGESTS[key] = digest
    return f"{base_id}~widened~{digest}"


_DIGESTS: dict[str, str] = {}
_DIGESTS_KEPT = 4096


def widen(schema: dict[str, Any], deviations: Sequence[Deviation]) -> dict[str, Any]:
    """``schema`` (a generated message document) widened at each deviation's path only."""
    patches = [d for d in deviations if d.admits is not None or d.optional is not None]
    document = dict(schema)
    document["$id"] = widened_id(str(schema.get("$id", "")), deviations)
    if "title" in schema:
        document["title"] = f"{schema['title']}, widened at {len(patches)} deviation(s)"
    defs: dict[str, Any] = schema.get("$defs", {})
    root = {k: v for k, v in schema.items() if k not in _DOCUMENT_KEYS}
    widened = _Widener(defs).apply(root, [(d.path, d) for d in patches])
    for key in list(document):
        if key not in _DOCUMENT_KEYS:
            del document[key]
    document.update(widened)
    return document


_DOCUMENT_KEYS = frozenset({"$schema", "$id", "title", "$defs", "description"})
Patch = tuple[Path, Deviation]


class _Widener:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def apply(self, schema: Any, patches: list[Patch]) -> Any:
        here = [d for path, d in patches if not path]
        deeper = [(path, d) for path, d in patches if path]
        result = self._descend(schema, deeper) if deeper else schema
        for deviation in here:
            if deviation.optional is not None:
                result = self._unrequire(result, deviation.optional)
            if deviation.admits is not None:
                result = _admit(result, deviation.admits)
        return result

    def _resolve(self, schema: Any, depth: int = 0) -> Any:
        """The schema with a top-level ``$ref`` inlined (a copy; siblings kept)."""
        if not isinstance(schema, dict) or "$ref" not in schema or depth > 16:
            return schema
        ref = str(schema["$ref"])
        name = ref.rpartition("/")[2].replace("~1", "/").replace("~0", "~")
        target = self.defs.get(name) if ref.startswith("#/$defs/") else None
        if target is None:
            return schema
        merged = {**copy.copy(target), **{k: v for k, v in schema.items() if k != "$ref"}}
        return self._resolve(merged, depth + 1)

    def _descend(self, schema: Any, patches: list[Patch]) -> Any:
        schema = self._resolve(schema)
        if schema is True or schema == {}:
            return schema  # admits anything already
        if schema is False:
            schema = {"not": {}}
        if not isinstance(schema, dict):
            return schema
        union = _union_key(schema)
        if union is not None:
            return {**schema, union: [self._descend(b, patches) for b in schema[union]]}
        groups: dict[str | int, list[Patch]] = {}
        for path, deviation in patches:
            groups.setdefault(path[0], []).append((path[1:], deviation))
        result = dict(schema)
        keys = [k for k in groups if isinstance(k, str)]
        indices = sorted(k for k in groups if isinstance(k, int))
        if keys:
            properties = dict(schema.get("properties", {}))
            for key in keys:
                base = properties.get(key)
                if base is None:
                    base = _pattern_schema(schema, key)
                properties[key] = self.apply(base, groups[key])
            result["properties"] = properties
        if indices:
            items = schema.get("items", True)
            prefix = list(schema.get("prefixItems", []))
            while len(prefix) <= indices[-1]:
                prefix.append(items)
            for index in indices:
                prefix[index] = self.apply(prefix[index], groups[index])
            result["prefixItems"] = prefix
        return result

    def _unrequire(self, schema: Any, key: str) -> Any:
        schema = self._resolve(schema)
        if not isinstance(schema, dict):
            return schema
        union = _union_key(schema)
        if union is not None:
            return {**schema, union: [self._unrequire(b, key) for b in schema[union]]}
        required = schema.get("required")
        if not isinstance(required, list) or key not in required:
            return schema
        result = dict(schema)
        result["required"] = [r for r in required if r != key]
        if not result["required"]:
            del result["required"]
        return result


def _union_key(schema: dict[str, Any]) -> str | None:
    """``anyOf``/``oneOf`` that is the whole schema (nullable, a derived-type family), not a
    constraint beside ``properties`` (an xs:choice)."""
    if "properties" in schema or "type" in schema or "items" in schema:
        return None
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return key
    return None


def _pattern_schema(schema: dict[str, Any], key: str) -> Any:
    import re

    for pattern, value in schema.get("patternProperties", {}).items():
        if re.search(pattern, key):
            return value
    additional = schema.get("additionalProperties", True)
    return {"not": {}} if additional is False else additional


def _admit(schema: Any, admits: dict[str, Any]) -> Any:
    if schema is True or schema == {}:
        return schema
    if schema is False or schema == {"not": {}}:
        return admits
    return {"anyOf": [schema, admits]}
