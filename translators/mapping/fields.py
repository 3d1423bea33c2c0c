"""The fields of a JSON Schema: leaf paths with their JSON kind, and arrays with the fields
of their items. Used to describe schemas to the LLM, to check rules, and to match names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from translators.mapping.dsl import join_path

__all__ = ["Field", "SchemaFields", "kind_fits"]

_MAX_DEPTH = 12


@dataclass(frozen=True)
class Field:
    path: str  # relative to the document (or to one array item)
    kind: str  # string | integer | number | boolean | object | any
    required: bool = False
    nullable: bool = False
    enum: tuple[Any, ...] | None = None
    description: str = ""
    items: tuple[Field, ...] | None = None  # set for arrays of objects
    item_kind: str | None = None  # set for arrays (the items' kind)

    @property
    def is_array(self) -> bool:
        return self.item_kind is not None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def kind_fits(source: str, target: str) -> bool:
    """Whether a value of kind ``source`` may be copied unchanged where ``target`` is wanted."""
    return source == target or target == "any" or (source == "integer" and target == "number")


class SchemaFields:
    """Walks one JSON Schema document (resolving its local ``$ref``s)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def resolve(
        self, node: Any, seen: tuple[str, ...] = ()
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        while isinstance(node, dict) and "$ref" in node:
            ref = str(node["$ref"])
            if ref in seen or not ref.startswith("#/"):
                return {}, seen
            seen = (*seen, ref)
            target: Any = self.schema
            for part in ref[2:].split("/"):
                target = (
                    target.get(part.replace("~1", "/").replace("~0", "~"), {})
                    if isinstance(target, dict)
                    else {}
                )
            node = target
        return (node if isinstance(node, dict) else {}), seen

    def fields(self) -> list[Field]:
        return self._object_fields(self.schema, [], (), 0, parent_required=True)

    def _alternatives(
        self, node: dict[str, Any], seen: tuple[str, ...]
    ) -> tuple[list[dict[str, Any]], bool]:
        """Flatten anyOf/oneOf: the non-null alternatives, and whether null is allowed."""
        nullable = False
        out: list[dict[str, Any]] = []
        for key in ("anyOf", "oneOf"):
            for option in node.get(key, []) if isinstance(node.get(key), list) else []:
                resolved, _ = self.resolve(option, seen)
                if resolved.get("type") == "null":
                    nullable = True
                else:
                    out.append(resolved)
        if not out:
            out = [node]
        kinds = node.get("type")
        if isinstance(kinds, list) and "null" in kinds:
            nullable = True
        return out, nullable

    def kind(self, node: dict[str, Any]) -> str:
        kinds = node.get("type")
        if isinstance(kinds, list):
            kinds = [k for k in kinds if k != "null"]
            kinds = kinds[0] if len(kinds) == 1 else None
        if isinstance(kinds, str):
            return kinds if kinds != "null" else "any"
        if "properties" in node:
            return "object"
        if node.get("enum"):
            first = node["enum"][0]
            return "string" if isinstance(first, str) else "number"
        if "anyOf" in node or "oneOf" in node:
            kinds_found = {
                self.kind(self.resolve(o)[0]) for o in node.get("anyOf", node.get("oneOf", []))
            }
            kinds_found.discard("any")
            if kinds_found == {"number", "string"} or len(kinds_found) > 1:
                return "number" if kinds_found <= {"integer", "number"} else "any"
            return kinds_found.pop() if kinds_found else "any"
        return "any"

    def _object_fields(
        self,
        node: Any,
        prefix: list[str],
        seen: tuple[str, ...],
        depth: int,
        *,
        parent_required: bool,
    ) -> list[Field]:
        node, seen = self.resolve(node, seen)
        if depth > _MAX_DEPTH:
            return []
        alternatives, _ = self._alternatives(node, seen)
        properties: dict[str, Any] = {}
        required: set[str] = set()
        for alternative in alternatives:
            alternative, _ = self.resolve(alternative, seen)
            for name, sub in (alternative.get("properties") or {}).items():
                properties.setdefault(name, sub)
            if len(alternatives) == 1:
                required |= set(alternative.get("required") or [])
        out: list[Field] = []
        for name, sub in properties.items():
            out.extend(
                self._field(
                    sub, [*prefix, name], parent_required and name in required, seen, depth + 1
                )
            )
        return out

    def _field(
        self, node: Any, path: list[str], required: bool, seen: tuple[str, ...], depth: int
    ) -> list[Field]:
        node, seen = self.resolve(node, seen)
        alternatives, nullable = self._alternatives(node, seen)
        main, _ = self.resolve(alternatives[0], seen)
        kind = self.kind(main) if len(alternatives) == 1 else self.kind(node)
        description = str(main.get("description") or node.get("description") or "")
        if kind == "array":
            items, item_seen = self.resolve(main.get("items", {}), seen)
            item_alts, _ = self._alternatives(items, item_seen)
            item_kind = (
                self.kind(self.resolve(item_alts[0], item_seen)[0])
                if len(item_alts) == 1
                else self.kind(items)
            )
            sub_fields = None
            if item_kind == "object":
                sub_fields = tuple(
                    self._object_fields(items, [], item_seen, depth + 1, parent_required=True)
                )
            return [
                Field(
                    join_path(path),
                    "array",
                    required,
                    nullable,
                    None,
                    description,
                    sub_fields,
                    item_kind,
                )
            ]
        if kind == "object" and any("properties" in self.resolve(a, seen)[0] for a in alternatives):
            nested = self._object_fields(node, path, seen, depth, parent_required=required)
            if nested:
                return nested
        enum = tuple(main["enum"]) if isinstance(main.get("enum"), list) else None
        return [Field(join_path(path), kind, required, nullable, enum, description)]
