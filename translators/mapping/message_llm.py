"""The optional per-message LLM mode: the LLM writes the target JSON for one message.

Its answer is accepted only if it validates against the target schema *and* every value in
it occurs in the source message (the LLM maps, it does not invent). Otherwise the errors go
back to it once; a second failure, a timeout or an unreachable model falls back to the
deterministic mapped result, which is always there and already valid.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator

from rag.errors import MmragError
from translators.convert.jsonout import dumps, plain
from translators.llm import ChatMessage, LLMBackend
from translators.mapping.fields import SchemaFields
from translators.mapping.llm import extract_json
from translators.result import Fallback

__all__ = ["llm_translate"]

MAX_SCHEMA_CHARS = 6000
MAX_SOURCE_CHARS = 6000


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int | Decimal):
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except ArithmeticError:
            return str(value)
    return str(value)


def invented_values(answer: Any, source: Any, allowed: Any) -> list[str]:
    """Leaves of ``answer`` that appear neither in the source nor in the mapped result."""
    known = {_text(v) for v in _leaves(source) + _leaves(allowed) if v is not None}
    return [_text(v) for v in _leaves(answer) if v is not None and _text(v) not in known][:5]


def llm_translate(
    llm: LLMBackend | None,
    source: Any,
    target_schema: dict[str, Any],
    mapped: Any,
    *,
    max_tokens: int,
    unavailable: str | None = None,
) -> tuple[Any, Fallback | None, int]:
    """(data, fallback or None, attempts). ``mapped`` is the deterministic, valid result."""
    if llm is None:
        return mapped, Fallback("llm_unavailable", unavailable or "no LLM configured"), 0
    validator = Draft202012Validator(target_schema)
    # The target as a field list, not the whole schema: a short prompt is what a small model
    # on a CPU can read in reasonable time (the full schema still validates the answer).
    fields = SchemaFields(target_schema).fields()
    target_text = "\n".join(
        f"- {f.path} ({f.kind if not f.is_array else 'array'}{', required' if f.required else ''})"
        for f in fields
    )[:MAX_SCHEMA_CHARS]
    source_text = dumps(plain(source))[:MAX_SOURCE_CHARS]
    messages = [
        ChatMessage(
            "system",
            "Write one JSON object with the target fields, copying values from the source JSON. "
            "Never invent values. Reply with the JSON object only.",
        ),
        ChatMessage("user", f"Target fields:\n{target_text}\n\nSource JSON:\n{source_text}"),
    ]
    problems: list[str] = []
    # The deterministic result is as long as a right answer needs to be: generating much
    # more only lets a small model loop (about 3 characters per token, generously).
    budget = min(max_tokens, 32 + len(dumps(plain(mapped))) // 2)
    for attempt in (1, 2):
        try:
            raw = llm.complete(messages, max_tokens=budget, temperature=0.0)
        except MmragError as exc:
            return mapped, Fallback("llm_unavailable", exc.detail), attempt
        try:
            answer = extract_json(raw)
        except ValueError as exc:
            problems = [str(exc)]
        else:
            problems = [str(e.message)[:160] for e in list(validator.iter_errors(answer))[:5]]
            invented = invented_values(answer, source, mapped)
            problems += [f"value {v!r} does not occur in the source" for v in invented]
            if not problems:
                return answer, None, attempt
        messages = [
            *messages,
            ChatMessage("assistant", raw[:2000]),
            ChatMessage(
                "user",
                "That answer is invalid:\n- "
                + "\n- ".join(problems)
                + "\nReply with corrected JSON only.",
            ),
        ]
    return (
        mapped,
        Fallback("llm_message", "LLM answer invalid twice: " + "; ".join(problems)[:300]),
        2,
    )
