"""Check a mapping: each rule against the source and target schemas (paths exist, kinds fit),
and the whole mapping on sample messages (the output must validate against the target)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from translators.mapping.apply import MappingApplyError, apply_rules
from translators.mapping.dsl import Rule
from translators.mapping.fields import Field, kind_fits
from translators.mapping.similarity import castable

__all__ = ["SampleResult", "check_rule", "check_samples", "index_fields"]


def index_fields(fields: Sequence[Field]) -> dict[str, Field]:
    return {f.path: f for f in fields}


def check_rule(rule: Rule, sources: dict[str, Field], targets: dict[str, Field]) -> str | None:
    """Why the rule cannot work with these schemas, or None when it can."""
    target = targets.get(rule.target.strip("/"))
    if target is None:
        return f"target {rule.target!r} is not a field of the target schema"
    if rule.op == "constant":
        return None
    if rule.op == "join":
        missing = [p for p in rule.sources or () if p.strip("/") not in sources]
        if missing:
            return f"source {missing[0]!r} is not a field of the source schema"
        return None if target.kind in ("string", "any") else "join makes a string"
    assert rule.source is not None
    source = sources.get(rule.source.strip("/"))
    if source is None:
        return f"source {rule.source!r} is not a field of the source schema"
    if rule.op == "array_map":
        if not (source.is_array and target.is_array):
            return "array_map needs an array on both sides"
        inner_sources = index_fields(source.items or ())
        inner_targets = index_fields(target.items or ())
        for inner in rule.rules or ():
            problem = check_rule(inner, inner_sources, inner_targets)
            if problem:
                return f"in array items: {problem}"
        return None
    if source.is_array != target.is_array:
        return "one side is an array and the other is not (use array_map)"
    if rule.op == "rename":
        if source.is_array:
            fits = kind_fits(source.item_kind or "any", target.item_kind or "any")
        else:
            fits = kind_fits(source.kind, target.kind) or source.kind == "any"
        return None if fits else f"{source.kind} does not fit {target.kind} (cast it)"
    if rule.op == "cast":
        return (
            None
            if castable(source.kind, str(rule.to)) or source.kind == rule.to
            else (f"cannot cast {source.kind} to {rule.to}")
        )
    if rule.op == "split":
        return (
            None
            if source.kind == "string" and target.is_array
            else "split makes an array of strings"
        )
    return None  # enum_map: checked on samples


@dataclass(frozen=True)
class SampleResult:
    ok: bool
    errors: tuple[str, ...]
    failing_targets: frozenset[str]  # top-level target keys involved in the errors
    outputs: tuple[dict[str, Any], ...]


def check_samples(
    rules: Sequence[Rule], samples: Sequence[Any], validator: Draft202012Validator
) -> SampleResult:
    errors: list[str] = []
    failing: set[str] = set()
    outputs: list[dict[str, Any]] = []
    for index, sample in enumerate(samples):
        try:
            output = apply_rules(rules, sample)
        except MappingApplyError as exc:
            errors.append(f"sample {index + 1}: {exc}")
            failing.add(exc.rule.target.strip("/").split("/")[0])
            continue
        outputs.append(output)
        error = best_match(validator.iter_errors(output))
        if error is not None:
            path = "/".join(str(p) for p in error.absolute_path)
            errors.append(f"sample {index + 1}: at /{path}: {str(error.message)[:160]}")
            if error.absolute_path:
                failing.add(str(error.absolute_path[0]))
            elif error.validator == "required" and isinstance(error.validator_value, list):
                failing.update(str(v) for v in error.validator_value if v not in output)
    return SampleResult(not errors, tuple(errors), frozenset(failing), tuple(outputs))
