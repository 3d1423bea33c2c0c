"""Deterministic name-similarity matching: the fallback when the LLM's proposal fails, and
the repair for target fields the LLM left out.

Names are split into lower-case words (camelCase, snake_case, digits), compared by word
overlap and by character similarity; the enclosing names add a little context. A target
field takes the best-scoring source field whose kind fits (or can be cast), if the score
clears a threshold. Arrays of objects map to arrays of objects, item fields recursively.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from translators.mapping.dsl import Rule
from translators.mapping.fields import Field, kind_fits

__all__ = ["castable", "match_fields", "name_score", "words"]

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
THRESHOLD = 0.6


def words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name.replace("@", " ").replace("#", " "))]


def _jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def name_score(target_path: str, source_path: str) -> float:
    target_parts = target_path.split("/")
    source_parts = source_path.split("/")
    t = words(target_parts[-1])

    def similar(s: list[str]) -> float:
        return max(_jaccard(t, s), difflib.SequenceMatcher(None, "".join(t), "".join(s)).ratio())

    # The last source name alone, or with its parent ("customer/name" ~ "customerName").
    base = similar(words(source_parts[-1]))
    if len(source_parts) > 1:
        base = max(base, similar(words(source_parts[-2]) + words(source_parts[-1])) - 0.05)
    context = _jaccard(words(" ".join(target_parts[:-1])), words(" ".join(source_parts[:-1])))
    return min(1.0, base + 0.1 * context)


def castable(source: str, target: str) -> bool:
    scalar = {"string", "integer", "number", "boolean"}
    return source in scalar and target in scalar and source != target


def _rule_for(target: Field, source: Field) -> Rule | None:
    if kind_fits(source.kind, target.kind) or source.kind == "any":
        return Rule(target=target.path, op="rename", source=source.path, origin="similarity")
    if castable(source.kind, target.kind):
        to = target.kind if target.kind in ("string", "integer", "number", "boolean") else "string"
        return Rule(target=target.path, op="cast", source=source.path, to=to, origin="similarity")  # type: ignore[arg-type]
    return None


def match_fields(
    targets: Sequence[Field],
    sources: Sequence[Field],
    *,
    skip: set[str] | None = None,
    threshold: float = THRESHOLD,
) -> list[Rule]:
    """Rules for the target fields not in ``skip``, best match first, each source used once."""
    skip = skip or set()
    used: set[str] = set()
    rules: list[Rule] = []
    for target in targets:
        if target.path in skip:
            continue
        if target.is_array:
            rule = _match_array(target, sources, used, threshold)
        else:
            rule = _match_leaf(target, [s for s in sources if not s.is_array], used, threshold)
        if rule is not None:
            rules.append(rule)
    return rules


def _match_leaf(
    target: Field, sources: Sequence[Field], used: set[str], threshold: float
) -> Rule | None:
    scored = sorted(
        ((name_score(target.path, s.path), s) for s in sources if s.path not in used),
        key=lambda pair: (-pair[0], pair[1].path),
    )
    for score, source in scored:
        if score < threshold:
            return None
        rule = _rule_for(target, source)
        if rule is not None:
            used.add(source.path)
            return rule
    return None


def _match_array(
    target: Field, sources: Sequence[Field], used: set[str], threshold: float
) -> Rule | None:
    candidates = [
        s for s in sources if s.is_array and s.path not in used and s.item_kind == target.item_kind
    ]
    if not candidates:
        return None
    scored = sorted(
        ((name_score(target.path, s.path), s) for s in candidates), key=lambda p: (-p[0], p[1].path)
    )
    score, source = scored[0]
    if score < threshold and len(candidates) > 1:
        return None
    used.add(source.path)
    if target.items is None or source.items is None:
        return Rule(target=target.path, op="rename", source=source.path, origin="similarity")
    inner = match_fields(target.items, source.items, threshold=threshold)
    if not inner:
        return None
    return Rule(
        target=target.path,
        op="array_map",
        source=source.path,
        rules=tuple(inner),
        origin="similarity",
    )
