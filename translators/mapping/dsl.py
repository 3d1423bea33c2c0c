"""The mapping language: target field <- source path, with a closed set of transforms.

A mapping file (JSON, meant to be read and edited by people) looks like::

    {"format": "mmrag.mapping/1", "key": "...", "version": 1,
     "rules": [
       {"target": "orderId", "op": "rename", "source": "GetOrderResponse/order/id"},
       {"target": "total", "op": "cast", "source": "GetOrderResponse/order/total", "to": "string"},
       {"target": "lines", "op": "array_map", "source": "GetOrderResponse/order/line",
        "rules": [{"target": "sku", "op": "rename", "source": "sku"}]}
     ], ...}

Paths are ``/``-separated object keys (a leading ``/`` is allowed; ``~1`` and ``~0`` escape
``/`` and ``~`` as in JSON Pointer). A path may not cross an array: ``array_map`` is how rules
reach into array items (its ``rules`` are relative to one source item and one target item).

Operations: ``rename`` (copy the value), ``cast`` (to string, integer, number or boolean),
``join`` (several sources into one string), ``split`` (one string into an array of strings),
``enum_map`` (look the value up in ``map``), ``constant`` (a fixed ``value``) and
``array_map``.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FORMAT", "CastTarget", "MappingFile", "Op", "Rule", "split_path"]

FORMAT: Final = "mmrag.mapping/1"
Op = Literal["rename", "cast", "join", "split", "enum_map", "constant", "array_map"]
CastTarget = Literal["string", "integer", "number", "boolean"]
Origin = Literal["llm", "similarity", "user"]


def split_path(path: str) -> list[str]:
    """``a/b~1c`` -> ``["a", "b/c"]``; an empty path is the value itself."""
    stripped = path.strip().strip("/")
    if not stripped:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in stripped.split("/")]


def join_path(parts: list[str]) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str
    op: Op = "rename"
    source: str | None = None
    sources: tuple[str, ...] | None = None
    to: CastTarget | None = None
    separator: str | None = None
    map: dict[str, Any] | None = None
    default: Any = None
    on_unmapped: Literal["error", "default"] = "error"
    value: Any = None
    rules: tuple[Rule, ...] | None = None
    origin: Origin = "user"

    @model_validator(mode="after")
    def _fields_for_op(self) -> Rule:
        needs: dict[str, tuple[str, ...]] = {
            "rename": ("source",),
            "cast": ("source", "to"),
            "join": ("sources",),
            "split": ("source",),
            "enum_map": ("source", "map"),
            "constant": (),
            "array_map": ("source", "rules"),
        }
        missing = [name for name in needs[self.op] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"op {self.op} needs {', '.join(missing)}")
        if not split_path(self.target) and self.op != "array_map":
            raise ValueError("a rule needs a target path")
        return self


class MappingFile(BaseModel):
    """A saved mapping: the rules plus what they were made for and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["mmrag.mapping/1"] = "mmrag.mapping/1"
    key: str
    version: int = Field(default=1, ge=1)
    source_schema_id: str
    source_schema_sha256: str
    target_schema: dict[str, Any]
    target_schema_sha256: str
    model: str
    prompt_version: str
    rules: tuple[Rule, ...]
    report: dict[str, Any] = Field(default_factory=dict)
