"""Propose a mapping with the LLM, check it, repair it, and say what was what.

The LLM is shown the target fields and the source fields (with kinds and example values
from the samples) and asked only which source field feeds each target field. Everything
else is deterministic: kinds decide between ``rename`` and ``cast``, ``[]`` paths become
``array_map`` rules, every rule is checked against both schemas, target fields left without
a source are filled by name similarity, and the result is applied to the samples and
validated against the target schema; rules that break a sample are dropped. The report keeps
the LLM's raw proposal beside what was kept, dropped and added, so a reviewer sees exactly
what the model got right.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from rag.errors import MmragError
from translators.convert.jsonout import dumps, plain
from translators.llm import ChatMessage, LLMBackend
from translators.mapping.apply import MISSING, get_path
from translators.mapping.check import check_rule, check_samples, index_fields
from translators.mapping.dsl import MappingFile, Rule
from translators.mapping.fields import Field, SchemaFields, kind_fits
from translators.mapping.llm import extract_json
from translators.mapping.similarity import castable, match_fields
from translators.mapping.store import mapping_key, schema_digest
from translators.result import Fallback

logger = logging.getLogger(__name__)

__all__ = ["PROMPT_VERSION", "Proposal", "propose_mapping"]

PROMPT_VERSION = "mapping-v2"
MAX_PROMPT_FIELDS = 60

SYSTEM = (
    "You match fields of two data formats. For each target field, name the source field that "
    "holds the same information, using only names from the lists. Answer with one line per "
    "target field: target <- source"
)
# One worked example: small models follow a shown format far better than a described one.
EXAMPLE_QUESTION = (
    "Source fields:\n- Header/orderNumber (integer) e.g. 42\n"
    '- Header/buyerName (string) e.g. "Ann"\n'
    '- Lines/line[]/sku (string) e.g. "A-1"\n'
    "Target fields:\n- orderNumber (integer)\n- buyer (string)\n- items[]/sku (string)"
)
EXAMPLE_ANSWER = (
    "orderNumber <- Header/orderNumber\nbuyer <- Header/buyerName\nitems[]/sku <- Lines/line[]/sku"
)
_ARROW = re.compile(r"^\s*[-*]?\s*([^\s<]+)\s*<-+\s*(\S+)\s*$")


@dataclass
class Proposal:
    mapping: MappingFile
    fallbacks: list[Fallback] = field(default_factory=list)
    valid_on_samples: bool = False


def _flat(fields: Sequence[Field], prefix: str = "") -> list[Field]:
    """Leaves, with array items spelled ``name[]/field``."""
    out: list[Field] = []
    for f in fields:
        path = prefix + f.path
        if f.is_array and f.items:
            out.extend(_flat(f.items, path + "[]/"))
        else:
            out.append(
                Field(path, f.kind if not f.is_array else "array", f.required, f.nullable, f.enum)
            )
    return out


def common_prefix(paths: Sequence[str]) -> str:
    """The leading path segments every path shares (shown once, to save the model tokens)."""
    if not paths:
        return ""
    split = [p.split("/")[:-1] for p in paths]
    shared: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1 or parts[0].endswith("[]"):
            break
        shared.append(parts[0])
    return "/".join(shared) + "/" if shared else ""


def _example(sample: Any, path: str) -> str:
    current: Any = sample
    for part in path.split("/"):
        array = part.endswith("[]")
        key = part[:-2] if array else part
        try:
            current = get_path(current, key)
        except TypeError:
            return ""
        if current is MISSING:
            return ""
        if array and isinstance(current, list):
            if not current:
                return ""
            current = current[0]
    if isinstance(current, dict | list):
        return ""
    text = dumps(plain(current))
    return text if len(text) <= 40 else text[:37] + "..."


def build_prompt(
    targets: Sequence[Field], sources: Sequence[Field], samples: Sequence[Any]
) -> tuple[list[ChatMessage], str]:
    """The chat, and the source prefix left out of the listed paths."""
    source_leaves = _flat(sources)[:MAX_PROMPT_FIELDS]
    prefix = common_prefix([f.path for f in source_leaves])
    target_lines = [f"- {f.path} ({f.kind})" for f in _flat(targets)[:MAX_PROMPT_FIELDS]]
    source_lines = []
    for f in source_leaves:
        example = _example(samples[0], f.path) if samples else ""
        short = f.path[len(prefix) :]
        source_lines.append(f"- {short} ({f.kind})" + (f" e.g. {example}" if example else ""))
    question = (
        "Source fields:\n"
        + "\n".join(source_lines)
        + "\nTarget fields:\n"
        + "\n".join(target_lines)
    )
    messages = [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", EXAMPLE_QUESTION),
        ChatMessage("assistant", EXAMPLE_ANSWER),
        ChatMessage("user", question),
    ]
    return messages, prefix


def parse_pairs(
    reply: str, prefix: str = "", known: set[str] | None = None
) -> list[tuple[str, str]]:
    """(target, source) pairs from ``target <- source`` lines (or JSON, from bigger models)."""
    pairs: list[tuple[str, str]] = []
    for line in reply.splitlines():
        match = _ARROW.match(line)
        if match:
            target, source = match.group(1).strip("/"), match.group(2).strip("/").rstrip(",.;")
            pairs.append((target, source))
    if not pairs:
        try:
            value = extract_json(reply)
        except ValueError:
            value = None
        items: Any = value.get("rules", value) if isinstance(value, dict) else value
        if isinstance(items, dict):
            items = [{"target": k, "source": v} for k, v in items.items()]
        for item in items if isinstance(items, list) else []:
            if (
                isinstance(item, dict)
                and isinstance(item.get("target"), str)
                and isinstance(item.get("source"), str)
            ):
                pairs.append(
                    (
                        "".join(item["target"].split()).strip("/"),
                        "".join(item["source"].split()).strip("/"),
                    )
                )
    out: list[tuple[str, str]] = []
    for target, source in pairs:
        source = _with_prefix(source, prefix, known)
        if (target, source) not in out:
            out.append((target, source))
    return out


def _with_prefix(source: str, prefix: str, known: set[str] | None) -> str:
    """Put back the prefix the prompt left out (models sometimes repeat part of it)."""
    if not prefix or source.startswith(prefix):
        return source
    candidates = [prefix + source, source]
    parts = prefix.rstrip("/").split("/")
    for cut in range(1, len(parts) + 1):  # "order/id" under prefix ".../order/"
        candidates.append("/".join([*parts[:-cut], source]))
    if known is not None:
        for candidate in candidates:
            if candidate.replace("[]", "") in known or candidate in known:
                return candidate
    return candidates[0]


def _leaf_rule(
    target: str, source: str, sources: dict[str, Field], targets: dict[str, Field]
) -> Rule:
    t, s = targets.get(target), sources.get(source)
    if (
        t is not None
        and s is not None
        and not kind_fits(s.kind, t.kind)
        and castable(s.kind, t.kind)
    ):
        return Rule(target=target, op="cast", source=source, to=t.kind, origin="llm")  # type: ignore[arg-type]
    return Rule(target=target, op="rename", source=source, origin="llm")


def pairs_to_rules(
    pairs: Sequence[tuple[str, str]], sources: dict[str, Field], targets: dict[str, Field]
) -> tuple[list[Rule], list[dict[str, str]]]:
    """Rules from pairs (``a[]/x <- b[]/y`` becomes array_map), and pairs that make none."""
    leaves: list[Rule] = []
    dropped: list[dict[str, str]] = []
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for target, source in pairs:
        t_array, s_array = "[]" in target, "[]" in source
        if t_array != s_array:
            dropped.append({"target": target, "source": source, "reason": "array on one side only"})
            continue
        if not t_array:
            leaves.append(_leaf_rule(target, source, sources, targets))
            continue
        t_head, _, t_rest = target.partition("[]/")
        s_head, _, s_rest = source.partition("[]/")
        if not t_rest or not s_rest:
            dropped.append(
                {"target": target, "source": source, "reason": "array item path is empty"}
            )
            continue
        groups.setdefault((t_head, s_head), []).append((t_rest, s_rest))
    for (t_head, s_head), inner in groups.items():
        t_field, s_field = targets.get(t_head), sources.get(s_head)
        inner_rules, inner_dropped = pairs_to_rules(
            inner,
            index_fields(s_field.items or ()) if s_field else {},
            index_fields(t_field.items or ()) if t_field else {},
        )
        dropped += [{**d, "target": f"{t_head}[]/{d['target']}"} for d in inner_dropped]
        if inner_rules:
            leaves.append(
                Rule(
                    target=t_head,
                    op="array_map",
                    source=s_head,
                    rules=tuple(inner_rules),
                    origin="llm",
                )
            )
    return leaves, dropped


def _complete_items(rule: Rule, sources: dict[str, Field], targets: dict[str, Field]) -> Rule:
    """Fill the item fields an LLM array_map left out, by name similarity."""
    if rule.op != "array_map" or rule.source is None:
        return rule
    source, target = sources.get(rule.source.strip("/")), targets.get(rule.target.strip("/"))
    if source is None or target is None or not source.items or not target.items:
        return rule
    inner_sources, inner_targets = index_fields(source.items), index_fields(target.items)
    inner = [_complete_items(r, inner_sources, inner_targets) for r in rule.rules or ()]
    covered = {r.target.strip("/") for r in inner}
    inner += match_fields(target.items, source.items, skip=covered)
    return rule.model_copy(update={"rules": tuple(inner)})


def _similarity_targets(rules: Sequence[Rule], prefix: str = "") -> list[str]:
    out: list[str] = []
    for rule in rules:
        if rule.origin == "similarity":
            out.append(prefix + rule.target)
        elif rule.rules:
            out += _similarity_targets(rule.rules, prefix + rule.target + "[]/")
    return out


def _count_similarity(rule: Rule) -> int:
    own = 1 if rule.origin == "similarity" else 0
    return own + sum(_count_similarity(r) for r in rule.rules or ())


def _top(rule: Rule) -> str:
    return rule.target.strip("/").split("/")[0]


def propose_mapping(
    *,
    source_schema: dict[str, Any],
    source_schema_id: str,
    target_schema: dict[str, Any],
    samples: Sequence[Any],
    llm: LLMBackend | None,
    model_id: str,
    max_tokens: int,
    llm_error: str | None = None,
) -> Proposal:
    source_fields = SchemaFields(source_schema).fields()
    target_fields = SchemaFields(target_schema).fields()
    sources, targets = index_fields(source_fields), index_fields(target_fields)
    report: dict[str, Any] = {"model": model_id, "prompt_version": PROMPT_VERSION}
    llm_rules: list[Rule] = []
    dropped: list[dict[str, str]] = []
    fallbacks: list[Fallback] = []
    if llm is None:
        report["llm"] = {"error": llm_error or "no LLM configured"}
    else:
        messages, prefix = build_prompt(target_fields, source_fields, samples)
        budget = min(max_tokens, 24 + 28 * len(_flat(target_fields)))
        try:
            raw = llm.complete(messages, max_tokens=budget, temperature=0.0)
            report["llm"] = {"raw_reply": raw[:4000]}
            pairs = parse_pairs(raw, prefix, {f.path for f in _flat(source_fields)})
            report["llm"]["proposed"] = [{"target": t, "source": s} for t, s in pairs]
            candidates, dropped = pairs_to_rules(pairs, sources, targets)
            for rule in candidates:
                problem = check_rule(rule, sources, targets)
                if problem is None and _top(rule) not in {_top(r) for r in llm_rules}:
                    llm_rules.append(rule)
                elif problem is not None:
                    dropped.append(
                        {"target": rule.target, "source": str(rule.source), "reason": problem}
                    )
        except MmragError as exc:
            report["llm"] = {"error": exc.detail}
        except ValueError as exc:
            report["llm"] = {**report.get("llm", {}), "error": f"unreadable reply: {exc}"}
    rules = [_complete_items(r, sources, targets) for r in llm_rules]
    covered = {r.target.strip("/") for r in rules}
    added = match_fields(target_fields, source_fields, skip=covered)
    rules += added
    validator = Draft202012Validator(target_schema)
    dropped_on_samples: list[dict[str, str]] = []
    result = check_samples(rules, samples, validator)
    for _ in range(3):
        if result.ok:
            break
        breaking = [r for r in rules if _top(r) in result.failing_targets]
        if not breaking:
            break
        for rule in breaking:
            dropped_on_samples.append(
                {"target": rule.target, "origin": rule.origin, "reason": "breaks a sample"}
            )
        rules = [r for r in rules if r not in breaking]
        result = check_samples(rules, samples, validator)
    kept_llm = [r for r in rules if r.origin == "llm"]
    similar = sum(_count_similarity(r) for r in rules)
    report.update(
        {
            "kept_from_llm": [r.target for r in kept_llm],
            "dropped_from_llm": dropped,
            "added_by_similarity": _similarity_targets(rules),
            "dropped_on_samples": dropped_on_samples,
            "valid_on_samples": result.ok,
            "sample_errors": list(result.errors[:10]),
            "samples": len(samples),
        }
    )
    if not kept_llm:
        reason = report.get("llm", {}).get("error") or "no usable rule in the LLM's proposal"
        fallbacks.append(Fallback("mapping_similarity", f"name-similarity mapping used: {reason}"))
    elif dropped or dropped_on_samples or similar:
        fallbacks.append(
            Fallback(
                "mapping_repaired",
                f"LLM proposal repaired: {len(dropped) + len(dropped_on_samples)} rule(s) dropped, "
                f"{similar} added by name similarity",
            )
        )
    key = mapping_key(source_schema, target_schema, model_id, PROMPT_VERSION)
    mapping = MappingFile(
        key=key,
        source_schema_id=source_schema_id,
        source_schema_sha256=schema_digest(source_schema),
        target_schema=target_schema,
        target_schema_sha256=schema_digest(target_schema),
        model=model_id,
        prompt_version=PROMPT_VERSION,
        rules=tuple(rules),
        report=report,
    )
    return Proposal(mapping, fallbacks, result.ok)
