"""``mmrag eval mappings``: how good are proposed mappings to a target JSON Schema?

A case (one line of ``cases.jsonl``; paths relative to the manifest, or ``shared:<path>``
under the shared data folder)::

    {"id": "...", "wsdl": "shared:wsdl_soap/.../service.wsdl", "operation": "Op",
     "direction": "output", "samples": ["sample1.xml", ...],
     "target_schema": "target.schema.json", "expected": "expected.mapping.json"}

or, for a JSON source, ``"source_schema": "source.schema.json"`` with JSON ``samples``.
The expected mapping is ``{"rules": [...]}`` in the mapping language
(:mod:`translators.mapping.dsl`).

For each case the proposer runs twice: with the LLM (the configured one, the bundled
SmolLM2 by default) and without it (name similarity only, the baseline). Scores, per target
field of the expected mapping (array items spelled ``items[]/field``):

- **exact**: the proposal has a rule for the field with the same source path(s) and the same
  transform (op and its parameters: ``to``, ``map``, ``value``, ``separator``);
- **output-equivalent**: applied to every sample, the proposal yields the same values at the
  field's path as the expected mapping (a different but equivalent rule counts);
- **precision**: of the fields the proposal maps, those mapped exactly;
- **valid**: the proposal's output validates against the target schema on every sample;
- **output-equal**: the whole target JSON equals the expected mapping's, on every sample;
- **time**: seconds to propose (LLM call, check, repair, validation).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.translator_eval import SHARED_PREFIX, CaseError, scratch_run, write_json

if TYPE_CHECKING:
    from rag.settings import Settings
    from translators.llm import LLMBackend
    from translators.mapping.dsl import Rule
    from translators.service import TranslatorService

__all__ = [
    "MappingCase",
    "ProposalScore",
    "field_signatures",
    "load_mapping_cases",
    "run_mapping_cases",
    "score_rules",
    "summarise_mappings",
]

logger = logging.getLogger(__name__)
MANIFEST = "cases.jsonl"
_KEYS = {
    "id",
    "wsdl",
    "operation",
    "direction",
    "samples",
    "source_schema",
    "target_schema",
    "expected",
    "note",
}


@dataclass(frozen=True)
class MappingCase:
    id: str
    samples: tuple[Path, ...]
    target_schema: Path
    expected: Path
    wsdl: Path | None = None
    source_schema: Path | None = None
    operation: str | None = None
    direction: str | None = None


@dataclass
class ProposalScore:
    proposer: str  # llm | similarity
    fields: int = 0  # target fields in the expected mapping
    exact: int = 0
    equivalent: int = 0
    proposed_fields: int = 0
    proposed_exact: int = 0
    valid: bool = False
    output_equal: bool = False
    seconds: float = 0.0
    rules_from_llm: int = 0
    rules_by_similarity: int = 0
    fallbacks: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MappingCaseResult:
    id: str
    outcome: str  # scored | error
    scores: list[ProposalScore] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    llm: dict[str, Any] = field(default_factory=dict)  # raw reply and parsed pairs


# -- cases ---------------------------------------------------------------------------------
def _path(raw: Any, base: Path, shared: Path | None, line: int) -> Path:
    if not isinstance(raw, str) or not raw:
        raise CaseError(f"line {line}: paths must be non-empty strings")
    if raw.startswith(SHARED_PREFIX):
        if shared is None:
            raise CaseError(f"line {line}: {raw} names the shared corpus but none was given")
        return shared / raw[len(SHARED_PREFIX) :]
    return Path(raw) if Path(raw).is_absolute() else base / raw


def load_mapping_cases(path: Path, shared: Path | None = None) -> list[MappingCase]:
    manifest = path / MANIFEST if path.is_dir() else path
    if not manifest.is_file():
        raise CaseError(f"no case manifest at {manifest}")
    base = manifest.parent
    cases: list[MappingCase] = []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CaseError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise CaseError(f"line {number}: a case is a JSON object")
        missing = {"samples", "target_schema", "expected"} - set(row)
        if missing:
            raise CaseError(f"line {number}: missing {sorted(missing)}")
        if set(row) - _KEYS:
            raise CaseError(f"line {number}: unknown keys {sorted(set(row) - _KEYS)}")
        if "wsdl" in row and "source_schema" in row:
            raise CaseError(f"line {number}: give a wsdl or a source_schema, not both")
        samples = row["samples"]
        if not isinstance(samples, list) or not samples:
            raise CaseError(f"line {number}: samples is a non-empty list of paths")
        cases.append(
            MappingCase(
                id=str(row.get("id") or f"case-{number}"),
                samples=tuple(_path(s, base, shared, number) for s in samples),
                target_schema=_path(row["target_schema"], base, shared, number),
                expected=_path(row["expected"], base, shared, number),
                wsdl=_path(row["wsdl"], base, shared, number) if "wsdl" in row else None,
                source_schema=(
                    _path(row["source_schema"], base, shared, number)
                    if "source_schema" in row
                    else None
                ),
                operation=row.get("operation"),
                direction=row.get("direction"),
            )
        )
    if not cases:
        raise CaseError(f"{manifest} holds no cases")
    return cases


# -- scoring -------------------------------------------------------------------------------
def _norm(path: str | None) -> str:
    return (path or "").strip().strip("/")


def field_signatures(
    rules: Sequence[Rule], target_prefix: str = "", source_prefix: str = ""
) -> dict[str, tuple[Any, ...]]:
    """Target field -> (op, source path(s), transform parameters), array items as ``a[]/x``."""
    out: dict[str, tuple[Any, ...]] = {}
    for rule in rules:
        target = target_prefix + _norm(rule.target)
        if rule.op == "array_map":
            inner = source_prefix + _norm(rule.source)
            out.update(
                field_signatures(
                    rule.rules or (),
                    target + "[]/" if target else target_prefix,
                    inner + "[]/" if _norm(rule.source) else source_prefix,
                )
            )
            continue
        origin: Any = source_prefix + _norm(rule.source) if rule.source is not None else None
        if rule.sources is not None:
            origin = tuple(source_prefix + _norm(s) for s in rule.sources)
        params = {
            "to": rule.to,
            "separator": rule.separator,
            "map": json.dumps(rule.map, sort_keys=True) if rule.map is not None else None,
            "value": json.dumps(rule.value, sort_keys=True) if rule.op == "constant" else None,
        }
        out[target] = (rule.op, origin, tuple(sorted((k, v) for k, v in params.items() if v)))
    return out


def _values_at(value: Any, parts: Sequence[str]) -> list[str]:
    """Every value at ``parts`` (``x[]`` steps into each array item), as canonical JSON."""
    from translators.convert.jsonout import dumps

    if not parts:
        return [dumps(value)]
    head, rest = parts[0], parts[1:]
    array = head.endswith("[]")
    key = head[:-2] if array else head
    if not isinstance(value, dict) or key not in value:
        return []
    item = value[key]
    if array:
        if not isinstance(item, list):
            return []
        return [v for element in item for v in _values_at(element, rest)]
    return _values_at(item, rest)


def _outputs(rules: Sequence[Rule], samples: Sequence[Any]) -> list[Any] | str:
    from translators.mapping.apply import MappingApplyError, apply_rules

    try:
        return [apply_rules(rules, sample) for sample in samples]
    except MappingApplyError as exc:
        return f"apply failed: {exc}"


def score_rules(
    proposed: Sequence[Rule],
    expected: Sequence[Rule],
    samples: Sequence[Any],
    target_schema: dict[str, Any],
    proposer: str,
) -> ProposalScore:
    from jsonschema import Draft202012Validator

    from translators.convert.jsonout import dumps, plain

    want = field_signatures(expected)
    got = field_signatures(proposed)
    score = ProposalScore(proposer, fields=len(want), proposed_fields=len(got))
    expected_out = _outputs(expected, samples)
    proposed_out = _outputs(proposed, samples)
    if isinstance(expected_out, str):
        raise CaseError(f"the expected mapping does not apply to the samples: {expected_out}")
    for target, signature in want.items():
        if got.get(target) == signature:
            score.exact += 1
        else:
            score.wrong.append(f"{target}: expected {signature}, got {got.get(target)}")
        parts = target.split("/")
        if not isinstance(proposed_out, str) and all(
            _values_at(a, parts) == _values_at(b, parts)
            for a, b in zip(proposed_out, expected_out, strict=True)
        ):
            score.equivalent += 1
    score.proposed_exact = sum(1 for t, s in got.items() if want.get(t) == s)
    if isinstance(proposed_out, str):
        score.wrong.append(proposed_out)
        return score
    validator = Draft202012Validator(target_schema)
    score.valid = all(validator.is_valid(plain(out)) for out in proposed_out)
    score.output_equal = all(
        dumps(a) == dumps(b) for a, b in zip(proposed_out, expected_out, strict=True)
    )
    return score


# -- running -------------------------------------------------------------------------------
def _load_json(path: Path) -> Any:
    from decimal import Decimal

    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def _sources(
    service: TranslatorService, case: MappingCase
) -> tuple[dict[str, Any], str, list[Any]]:
    """(source schema, its id, source JSON of each sample)."""
    if case.source_schema is not None:
        schema = json.loads(case.source_schema.read_text(encoding="utf-8"))
        return (
            schema,
            str(schema.get("$id") or case.source_schema.name),
            [_load_json(p) for p in case.samples],
        )
    from translators.mapping.runtime import source_schema_of
    from translators.service import TranslateOptions, WsdlRef

    ref = WsdlRef(path=case.wsdl) if case.wsdl is not None else None
    options = TranslateOptions(operation=case.operation, direction=case.direction)  # type: ignore[arg-type]
    translations = [service.translate(p.read_bytes(), ref, options) for p in case.samples]
    if len({t.schema_id for t in translations}) > 1:
        raise CaseError("the samples belong to different messages")
    compiled = service.load(ref) if ref is not None else None
    schema = source_schema_of(translations[0], compiled)
    return schema, translations[0].schema_id, [t.data for t in translations]


def evaluate_mapping_case(
    service: TranslatorService,
    case: MappingCase,
    llm: LLMBackend | None,
    llm_error: str | None,
    *,
    with_llm: bool = True,
) -> MappingCaseResult:
    from translators.mapping.dsl import Rule
    from translators.mapping.propose import propose_mapping
    from translators.mapping.store import rule_json

    result = MappingCaseResult(case.id, "error")
    try:
        source_schema, source_id, samples = _sources(service, case)
        target = json.loads(case.target_schema.read_text(encoding="utf-8"))
        expected_body = json.loads(case.expected.read_text(encoding="utf-8"))
        expected = [Rule.model_validate(r) for r in expected_body.get("rules", [])]
        proposers: list[tuple[str, LLMBackend | None, str | None]] = [
            ("similarity", None, "baseline: no LLM asked")
        ]
        if with_llm:
            proposers.insert(0, ("llm", llm, llm_error))
        for name, backend, error in proposers:
            started = time.perf_counter()
            proposal = propose_mapping(
                source_schema=source_schema,
                source_schema_id=source_id,
                target_schema=target,
                samples=samples,
                llm=backend,
                model_id=service.model_id if backend is not None else "none",
                max_tokens=service.config.llm_max_tokens,
                llm_error=error,
            )
            seconds = time.perf_counter() - started
            rules = list(proposal.mapping.rules)
            score = score_rules(rules, expected, samples, target, name)
            score.seconds = round(seconds, 3)
            score.rules_from_llm = sum(1 for r in rules if r.origin == "llm")
            score.rules_by_similarity = sum(1 for r in rules if r.origin == "similarity")
            score.fallbacks = [f.kind for f in proposal.fallbacks]
            score.rules = [rule_json(r) for r in rules]
            llm_report = proposal.mapping.report.get("llm") or {}
            if name == "llm":
                result.llm = {
                    k: llm_report[k] for k in ("raw_reply", "proposed", "error") if k in llm_report
                }
                if llm_report.get("error"):
                    result.reasons.append(f"llm: {llm_report['error']}"[:300])
            result.scores.append(score)
        result.outcome = "scored"
    except Exception as exc:  # noqa: BLE001 - a case's failure is a result, not a crash
        detail = getattr(exc, "detail", None) or str(exc)
        result.reasons.append(f"{type(exc).__name__}: {detail}"[:300])
    return result


def run_mapping_cases(
    service: TranslatorService,
    cases: Sequence[MappingCase],
    *,
    with_llm: bool = True,
    progress: Any = None,
) -> list[MappingCaseResult]:
    started = time.perf_counter()
    llm, error = service.cached_llm() if with_llm else (None, None)
    if with_llm:
        logger.info("LLM loaded in %.1f s", time.perf_counter() - started)
    results = []
    for number, case in enumerate(cases, 1):
        if progress is not None:
            progress(number, len(cases), case.id)
        results.append(evaluate_mapping_case(service, case, llm, error, with_llm=with_llm))
    return results


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise_mappings(results: Sequence[MappingCaseResult]) -> dict[str, Any]:
    scored = [r for r in results if r.outcome == "scored"]
    by_proposer: dict[str, Any] = {}
    for name in ("llm", "similarity"):
        scores = [s for r in scored for s in r.scores if s.proposer == name]
        if not scores:
            continue
        fields = sum(s.fields for s in scores)
        seconds = sorted(s.seconds for s in scores)
        by_proposer[name] = {
            "cases": len(scores),
            "fields": fields,
            "field_accuracy_exact": _rate(sum(s.exact for s in scores), fields),
            "field_accuracy_output_equivalent": _rate(sum(s.equivalent for s in scores), fields),
            "precision_exact": _rate(
                sum(s.proposed_exact for s in scores), sum(s.proposed_fields for s in scores)
            ),
            "validity_rate": _rate(sum(1 for s in scores if s.valid), len(scores)),
            "output_equal_rate": _rate(sum(1 for s in scores if s.output_equal), len(scores)),
            "rules_from_llm": sum(s.rules_from_llm for s in scores),
            "rules_by_similarity": sum(s.rules_by_similarity for s in scores),
            "seconds_total": round(sum(seconds), 2),
            "seconds_median": seconds[len(seconds) // 2],
            "seconds_max": seconds[-1],
        }
    return {
        "cases": len(results),
        "scored": len(scored),
        "errors": len(results) - len(scored),
        "by_proposer": by_proposer,
    }


def print_mapping_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    table = Table(title=f"mapping proposals ({summary['scored']}/{summary['cases']} cases)")
    for column in (
        "proposer",
        "fields",
        "exact",
        "output-equiv.",
        "precision",
        "valid",
        "output-equal",
        "s median",
        "s max",
    ):
        table.add_column(column, justify="right" if column != "proposer" else "left")
    for name, s in summary["by_proposer"].items():
        table.add_row(
            name,
            str(s["fields"]),
            pct(s["field_accuracy_exact"]),
            pct(s["field_accuracy_output_equivalent"]),
            pct(s["precision_exact"]),
            pct(s["validity_rate"]),
            pct(s["output_equal_rate"]),
            f"{s['seconds_median']:.2f}",
            f"{s['seconds_max']:.2f}",
        )
    Console().print(table)


def run_command(cases: Path, out: Path, *, shared: Path, with_llm: bool, settings: Settings) -> int:
    """``mmrag eval mappings``: 0, or 2 with a message for input it cannot use."""
    import sys

    from rich.console import Console

    try:
        selected = load_mapping_cases(cases, shared)
    except CaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # A scratch LLM cache: every proposal is a real, timed call.
    with scratch_run(settings, "proposing mappings...") as (service, progress):
        results = run_mapping_cases(service, selected, with_llm=with_llm, progress=progress)
        model = service.model_id
    summary = summarise_mappings(results)
    body = {
        "meta": {"cases_from": str(cases), "model": model if with_llm else None},
        "summary": summary,
        "cases": [asdict(r) for r in results],
    }
    write_json(out, body)
    print_mapping_summary(summary)
    console = Console(stderr=True)
    for r in results:
        if r.outcome != "scored" or r.reasons:
            console.print(f"  {r.outcome:<7} {r.id}: {'; '.join(r.reasons)[:200]}")
    print(f"wrote {out}")
    return 0
