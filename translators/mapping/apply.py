"""Apply a mapping to one source JSON value, deterministically.

A rule whose source is absent produces nothing (the target stays absent); a value a
transform cannot handle raises :class:`MappingApplyError` naming the rule. The output keeps
the rules' order, so the same mapping and input always give the same bytes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from translators.mapping.dsl import CastTarget, Rule, split_path

__all__ = ["MISSING", "MappingApplyError", "apply_rules", "get_path"]


class MappingApplyError(ValueError):
    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(f"rule for {rule.target!r} ({rule.op}): {message}")
        self.rule = rule


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def get_path(value: Any, path: str) -> Any:
    """The value at ``path`` (MISSING when absent or null along the way); arrays block."""
    current = value
    for part in split_path(path):
        if isinstance(current, list):
            raise TypeError(f"path {path!r} crosses an array at {part!r}; use array_map")
        if not isinstance(current, dict) or part not in current:
            return MISSING
        current = current[part]
    return current


def _set_path(target: dict[str, Any], path: str, value: Any) -> None:
    parts = split_path(path)
    current = target
    for part in parts[:-1]:
        nxt = current.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            current[part] = nxt
        current = nxt
    current[parts[-1]] = value


def apply_rules(rules: Sequence[Rule], source: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in rules:
        value = _value(rule, source)
        if value is not MISSING:
            _set_path(out, rule.target, value)
    return out


def _source(rule: Rule, source: Any, path: str) -> Any:
    try:
        return get_path(source, path)
    except TypeError as exc:
        raise MappingApplyError(rule, str(exc)) from None


def _value(rule: Rule, source: Any) -> Any:
    op = rule.op
    if op == "constant":
        return copy.deepcopy(rule.value)
    if op == "join":
        assert rule.sources is not None
        values = [_source(rule, source, p) for p in rule.sources]
        present = [_text(v) for v in values if v is not MISSING and v is not None]
        return (
            (rule.separator if rule.separator is not None else " ").join(present)
            if present
            else MISSING
        )
    assert rule.source is not None
    value = _source(rule, source, rule.source)
    if value is MISSING:
        return MISSING
    if op == "rename":
        return copy.deepcopy(value)
    if value is None:
        return None
    if op == "cast":
        assert rule.to is not None
        try:
            return cast(value, rule.to)
        except (ValueError, TypeError, InvalidOperation) as exc:
            raise MappingApplyError(rule, f"cannot cast {value!r} to {rule.to}: {exc}") from None
    if op == "split":
        if not isinstance(value, str):
            raise MappingApplyError(rule, f"split needs a string, got {type(value).__name__}")
        separator = rule.separator
        return [
            part for part in (value.split(separator) if separator else value.split()) if part != ""
        ]
    if op == "enum_map":
        assert rule.map is not None
        key = _text(value)
        if key in rule.map:
            return copy.deepcopy(rule.map[key])
        if rule.on_unmapped == "default":
            return copy.deepcopy(rule.default)
        raise MappingApplyError(rule, f"value {key!r} is not in the enum map")
    assert op == "array_map"
    assert rule.rules is not None
    items = value if isinstance(value, list) else [value]
    return [apply_rules(rule.rules, item) for item in items]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict | list):
        raise TypeError("cannot turn an object or array into text")
    return str(value)


def cast(value: Any, to: CastTarget) -> Any:
    if to == "string":
        return _text(value)
    if to == "boolean":
        if isinstance(value, bool):
            return value
        text = _text(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError("not a boolean")
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    number = value if isinstance(value, int | Decimal) else Decimal(_text(value).strip())
    if isinstance(value, float):
        number = Decimal(repr(value))
    if to == "integer":
        if isinstance(number, int):
            return number
        if number != number.to_integral_value():
            raise ValueError("not an integral number")
        return int(number)
    return number if isinstance(number, Decimal) else Decimal(number)
