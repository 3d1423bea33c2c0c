"""``mmrag eval translator``: how well SOAP/XML messages become JSON.

Cases come from a manifest (``cases.jsonl``, see :func:`load_manifest`) or are discovered in
the shared corpus (:func:`discover_shared`). Each case is translated with the deterministic
fallback enabled (``on_mismatch=schemaless``, so every well-formed message yields JSON) and
scored:

- **schema-valid**: the output validates (jsonschema, draft 2020-12) against the schema of
  the operation message (typed), the schema-less schema, or the case's target schema;
- **leaf recall**: the fraction of the XML's leaves (element text, data attributes) found at
  their place in the JSON with an equal value (:mod:`eval.translator_leaves`);
- **type accuracy**: the fraction of typed leaves typed as the XSD says
  (:mod:`eval.translator_types`);
- **expected**: with an expected JSON, the fraction of its leaves found at the same path with
  an equal value (value recall), and with the same JSON type and decimal digits (typed);
- **fallbacks**: how often a fallback was taken, per requested mode, by kind;
- **latency**: per message, the WSDL already loaded (its load time is reported apart).

A case that cannot be translated is recorded with its outcome and reason; the run goes on.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rag.settings import Settings
    from translators.service import TranslatorService

__all__ = [
    "CaseError",
    "CaseResult",
    "TranslatorCase",
    "compare_expected",
    "discover_shared",
    "evaluate_case",
    "load_cases",
    "load_manifest",
    "run_cases",
    "summarise",
]

Mode = Literal["deterministic", "llm"]
SHARED_PREFIX = "shared:"
MANIFEST = "cases.jsonl"
NODE_SOAP = "node-soap/test/request-response-samples"


class CaseError(ValueError):
    """A manifest that cannot be read (the CLI's exit code 2)."""


@dataclass(frozen=True)
class TranslatorCase:
    id: str
    message: Path
    wsdl: Path | None = None
    operation: str | None = None
    direction: Literal["input", "output"] | None = None
    expected: Path | None = None
    target_schema: Path | None = None


@dataclass
class CaseResult:
    id: str
    outcome: str  # translated | fault | malformed-xml | wsdl-failed | error
    mode: str | None = None  # the translation's mode: typed | schemaless | mapped | llm
    requested_mode: str = "deterministic"
    operation: str | None = None
    direction: str | None = None
    schema_valid: bool | None = None
    leaves: int = 0
    leaves_found: int = 0
    typed_leaves: int = 0
    typed_correct: int = 0
    types_by_kind: dict[str, list[int]] = field(default_factory=dict)
    expected_leaves: int = 0
    expected_found: int = 0
    expected_typed: int = 0
    fallbacks: list[str] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    wsdl_load_ms: float | None = None
    first_ms: float | None = None  # the first (warm-up) translation, not in latency_ms
    reasons: list[str] = field(default_factory=list)


# -- cases ---------------------------------------------------------------------------------
def _resolve(raw: Any, base: Path, shared: Path | None, what: str, line: int) -> Path | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        raise CaseError(f"line {line}: {what} must be a path string")
    if raw.startswith(SHARED_PREFIX):
        if shared is None:
            raise CaseError(f"line {line}: {what} names the shared corpus but none was given")
        return shared / raw[len(SHARED_PREFIX) :]
    path = Path(raw)
    return path if path.is_absolute() else base / path


def load_manifest(path: Path, shared: Path | None = None) -> list[TranslatorCase]:
    """Cases from a JSON-lines manifest (a ``cases.jsonl`` file or a folder holding one).

    One object per line: ``message`` (required), ``id``, ``wsdl``, ``operation``,
    ``direction`` (``input``|``output``), ``expected`` (a JSON file), ``target_schema``.
    Paths are relative to the manifest's folder, or to the shared data folder when written
    ``shared:<path>``. Blank lines and lines starting with ``#`` are skipped.
    """
    manifest = path / MANIFEST if path.is_dir() else path
    if not manifest.is_file():
        raise CaseError(f"no case manifest at {manifest}")
    base = manifest.parent
    cases: list[TranslatorCase] = []
    seen: set[str] = set()
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CaseError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "message" not in row:
            raise CaseError(f"line {number}: a case is an object with a 'message' path")
        unknown = set(row) - {
            "id",
            "message",
            "wsdl",
            "operation",
            "direction",
            "expected",
            "target_schema",
            "note",
        }
        if unknown:
            raise CaseError(f"line {number}: unknown keys {sorted(unknown)}")
        direction = row.get("direction")
        if direction not in (None, "input", "output"):
            raise CaseError(f"line {number}: direction must be 'input' or 'output'")
        message = _resolve(row["message"], base, shared, "message", number)
        assert message is not None
        case_id = str(row.get("id") or row["message"])
        if case_id in seen:
            raise CaseError(f"line {number}: duplicate case id {case_id!r}")
        seen.add(case_id)
        cases.append(
            TranslatorCase(
                id=case_id,
                message=message,
                wsdl=_resolve(row.get("wsdl"), base, shared, "wsdl", number),
                operation=row.get("operation"),
                direction=direction,
                expected=_resolve(row.get("expected"), base, shared, "expected", number),
                target_schema=_resolve(row.get("target_schema"), base, shared, "target", number),
            )
        )
    if not cases:
        raise CaseError(f"{manifest} holds no cases")
    return cases


def discover_shared(shared: Path) -> list[TranslatorCase]:
    """Every envelope in ``wsdl_soap/INDEX_envelopes.tsv`` (paired with its sibling
    ``soap.wsdl`` when the index says there is one; otherwise schema-less), plus any node-soap
    ``request.xml``/``response.xml`` beside a ``soap.wsdl`` the index does not list."""
    root = shared / "wsdl_soap"
    index = root / "INDEX_envelopes.tsv"
    if not index.is_file():
        raise CaseError(f"no INDEX_envelopes.tsv under {root}")
    lines = index.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    column = header.index("soap.wsdl_sibling") if "soap.wsdl_sibling" in header else None
    found: dict[str, TranslatorCase] = {}
    for line in lines[1:]:
        row = line.split("\t")
        if not row or not row[0]:
            continue
        message = root / row[0]
        sibling = message.parent / "soap.wsdl"
        paired = column is not None and len(row) > column and row[column] == "1"
        wsdl = sibling if paired and sibling.is_file() else None
        found[row[0]] = TranslatorCase(id=row[0], message=message, wsdl=wsdl)
    samples = root / NODE_SOAP
    if samples.is_dir():
        for wsdl in sorted(samples.glob("*/soap.wsdl")):
            for name in ("request.xml", "response.xml"):
                message = wsdl.parent / name
                key = str(message.relative_to(root))
                if message.is_file() and key not in found:
                    found[key] = TranslatorCase(id=key, message=message, wsdl=wsdl)
    return [found[k] for k in sorted(found)]


def load_cases(cases: Path | None, shared: Path | None, *, discover: bool) -> list[TranslatorCase]:
    out: list[TranslatorCase] = []
    if discover:
        if shared is None or not shared.is_dir():
            raise CaseError(f"shared material not found at {shared}")
        out += discover_shared(shared)
    if cases is not None:
        out += load_manifest(cases, shared)
    if not out:
        raise CaseError("no cases: give a manifest and/or --shared")
    return out


# -- expected JSON -------------------------------------------------------------------------
def _flatten(
    value: Any, path: tuple[str | int, ...] = ()
) -> Iterable[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, (*path, index))
    else:
        yield path, value


def _at(value: Any, path: Sequence[str | int]) -> tuple[bool, Any]:
    for step in path:
        listed = isinstance(step, int) and isinstance(value, list) and step < len(value)
        keyed = isinstance(step, str) and isinstance(value, dict) and step in value
        if not (listed or keyed):
            return False, None
        value = value[step]
    return True, value


def _loose(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        try:
            return format(Decimal(str(value)).normalize(), "f")
        except ArithmeticError:
            return str(value)
    if isinstance(value, str):
        return " ".join(value.split())
    return json.dumps(value, sort_keys=True, default=str)


def _typed_equal(actual: Any, expected: Any) -> bool:
    if expected is None or isinstance(expected, bool | str):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int):
        return isinstance(actual, int) and not isinstance(actual, bool) and actual == expected
    if isinstance(expected, Decimal):
        if isinstance(actual, bool) or not isinstance(actual, int | Decimal):
            return False
        exact = Decimal(actual)
        return exact == expected and exact.as_tuple().exponent == expected.as_tuple().exponent
    return bool(actual == expected)


def compare_expected(actual: Any, expected: Any) -> tuple[int, int, int, list[str]]:
    """(leaves of ``expected``, found with an equal value, found with the same type too,
    problems). Numbers in ``expected`` should be parsed with ``parse_float=Decimal``."""
    leaves = found = typed = 0
    problems: list[str] = []
    for path, want in _flatten(expected):
        leaves += 1
        where = "/" + "/".join(str(p) for p in path)
        present, got = _at(actual, path)
        if not present:
            problems.append(f"expected {where}: missing")
            continue
        if _loose(got) != _loose(want):
            problems.append(f"expected {where}: {want!r}, got {got!r}")
            continue
        found += 1
        if _typed_equal(got, want):
            typed += 1
        else:
            problems.append(f"expected {where}: {want!r} typed {type(want).__name__}, got {got!r}")
    return leaves, found, typed, problems


# -- running -------------------------------------------------------------------------------
def evaluate_case(
    service: TranslatorService,
    case: TranslatorCase,
    *,
    mode: Mode = "deterministic",
    repeat: int = 1,
) -> CaseResult:
    """Translate and score one case; never raises for a bad case."""
    requested: Mode = mode if case.target_schema is not None else "deterministic"
    result = CaseResult(case.id, "error", requested_mode=requested)
    try:
        return _evaluate(service, case, requested, max(1, repeat), result)
    except Exception as exc:  # noqa: BLE001 - a case's failure is a result, not a crash
        result.outcome = "error"
        result.reasons.append(f"{type(exc).__name__}: {str(exc)[:300]}")
        return result


def _evaluate(
    service: TranslatorService, case: TranslatorCase, mode: Mode, repeat: int, result: CaseResult
) -> CaseResult:
    from jsonschema import Draft202012Validator

    from eval.translator_leaves import walk_leaves
    from eval.translator_types import check_types
    from rag.errors import MalformedXmlError, MmragError, SoapFaultError
    from translators.convert.schemaless import SCHEMALESS_SCHEMA
    from translators.service import TranslateOptions, WsdlRef
    from translators.xml.parser import parse_xml

    xml = case.message.read_bytes()
    try:
        root = parse_xml(xml, service.message_limits, what="message")
    except MalformedXmlError as exc:
        result.outcome = "malformed-xml"
        result.reasons.append(exc.detail)
        return result
    except MmragError as exc:
        result.outcome = "rejected-xml"
        result.reasons.append(exc.detail)
        return result
    ref = WsdlRef(path=case.wsdl) if case.wsdl is not None else None
    if ref is not None:
        started = time.perf_counter()
        try:
            compiled = service.load(ref)
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            result.outcome = "wsdl-failed"
            result.reasons.append(f"{type(exc).__name__}: {getattr(exc, 'detail', exc)}"[:300])
            return result
        result.wsdl_load_ms = round((time.perf_counter() - started) * 1000, 3)
    else:
        compiled = None
    target = None
    if case.target_schema is not None:
        target = json.loads(case.target_schema.read_text(encoding="utf-8"))
    options = TranslateOptions(
        operation=case.operation,
        direction=case.direction,
        on_mismatch="schemaless",
        target_schema=target,
        mode=mode,
    )
    translation = None
    for attempt in range(repeat + 1):  # the first call warms the WSDL's compiled schemas
        started = time.perf_counter()
        try:
            translation = service.translate(xml, ref, options)
        except SoapFaultError as exc:
            result.latency_ms.append(round((time.perf_counter() - started) * 1000, 3))
            result.outcome = "fault"
            result.reasons.append(f"soap fault: {exc.fault_code} {str(exc.reason)[:120]}")
            return result
        except MmragError as exc:
            result.outcome = "error"
            result.reasons.append(f"{exc.code}: {exc.detail}"[:300])
            return result
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        if attempt:
            result.latency_ms.append(elapsed)
        else:
            result.first_ms = elapsed
    assert translation is not None
    result.outcome = "translated"
    result.mode = translation.mode
    result.operation = translation.operation
    result.direction = translation.direction
    result.fallbacks = [f.kind for f in translation.fallbacks]
    result.reasons += [f"fallback {f.kind}: {f.reason}"[:300] for f in translation.fallbacks]
    schema: dict[str, Any] | None
    if translation.mode == "typed" and compiled is not None:
        schema = next(
            (
                m.schema
                for m in compiled.compiled_messages()
                if m.schema_id == translation.schema_id
            ),
            None,
        )
    elif translation.mode == "schemaless":
        schema = SCHEMALESS_SCHEMA
    else:
        schema = target
    if schema is None:
        result.reasons.append(f"no schema found for {translation.schema_id}")
        result.schema_valid = False
    else:
        errors = list(
            Draft202012Validator(schema).iter_errors(_plain_for_validation(translation.data))
        )
        result.schema_valid = not errors
        result.reasons += [f"schema: {e.message[:160]}" for e in errors[:3]]
    if translation.mode in ("typed", "schemaless"):
        walk = walk_leaves(root, translation.data)
        result.leaves, result.leaves_found = walk.leaves, walk.found
        result.reasons += walk.problems[:5]
        types = check_types(schema if translation.mode == "typed" else None, walk.pairs)
        result.typed_leaves, result.typed_correct = types.typed, types.correct
        result.types_by_kind = types.by_kind
        result.reasons += types.problems[:5]
    if case.expected is not None:
        expected = json.loads(case.expected.read_text(encoding="utf-8"), parse_float=Decimal)
        leaves, found, typed, problems = compare_expected(translation.data, expected)
        result.expected_leaves, result.expected_found, result.expected_typed = leaves, found, typed
        result.reasons += problems[:5]
    return result


def _plain_for_validation(value: Any) -> Any:
    """Decimals as numbers jsonschema understands (exactly; the check is of kinds/facets)."""
    from translators.convert.jsonout import dumps

    return json.loads(dumps(value), parse_float=Decimal) if _has_decimal(value) else value


def _has_decimal(value: Any) -> bool:
    if isinstance(value, Decimal):
        return True
    if isinstance(value, dict):
        return any(_has_decimal(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_decimal(v) for v in value)
    return False


def run_cases(
    service: TranslatorService,
    cases: Sequence[TranslatorCase],
    *,
    mode: Mode = "deterministic",
    repeat: int = 1,
    progress: Any = None,
) -> list[CaseResult]:
    results = []
    for number, case in enumerate(cases, 1):
        results.append(evaluate_case(service, case, mode=mode, repeat=repeat))
        if progress is not None:
            progress(number, len(cases), case.id)
    return results


# -- summary -------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarise(results: Sequence[CaseResult]) -> dict[str, Any]:
    from eval.metrics import latency

    translated = [r for r in results if r.outcome == "translated"]
    walked = [r for r in translated if r.leaves]
    expected = [r for r in translated if r.expected_leaves]
    by_kind: dict[str, list[int]] = {}
    for r in translated:
        for kind, (correct, typed) in r.types_by_kind.items():
            counts = by_kind.setdefault(kind, [0, 0])
            counts[0] += correct
            counts[1] += typed
    fallbacks: dict[str, Any] = {}
    for mode in sorted({r.requested_mode for r in translated}):
        group = [r for r in translated if r.requested_mode == mode]
        flagged = [r for r in group if r.fallbacks]
        kinds = collections.Counter(k for r in group for k in r.fallbacks)
        fallbacks[mode] = {
            "translations": len(group),
            "with_fallback": len(flagged),
            "rate": _rate(len(flagged), len(group)),
            "by_kind": dict(sorted(kinds.items())),
        }
    leaves = sum(r.leaves for r in walked)
    typed = sum(r.typed_leaves for r in translated)
    samples = [ms for r in results for ms in r.latency_ms]
    per_mode = {
        mode: latency([ms for r in translated if r.mode == mode for ms in r.latency_ms])
        for mode in sorted({str(r.mode) for r in translated})
    }
    return {
        "cases": len(results),
        "outcomes": dict(sorted(collections.Counter(r.outcome for r in results).items())),
        "modes": dict(sorted(collections.Counter(str(r.mode) for r in translated).items())),
        "translated": len(translated),
        "schema_valid": sum(1 for r in translated if r.schema_valid),
        "schema_valid_rate": _rate(sum(1 for r in translated if r.schema_valid), len(translated)),
        "leaves": leaves,
        "leaf_recall": _rate(sum(r.leaves_found for r in walked), leaves),
        "leaf_recall_macro": (
            round(sum(r.leaves_found / r.leaves for r in walked) / len(walked), 4)
            if walked
            else None
        ),
        "messages_all_leaves_found": sum(1 for r in walked if r.leaves_found == r.leaves),
        "typed_leaves": typed,
        "type_accuracy": _rate(sum(r.typed_correct for r in translated), typed),
        "type_accuracy_by_kind": {
            k: {"correct": c, "leaves": n, "accuracy": _rate(c, n)}
            for k, (c, n) in sorted(by_kind.items())
        },
        "expected_cases": len(expected),
        "expected_leaves": sum(r.expected_leaves for r in expected),
        "expected_value_recall": _rate(
            sum(r.expected_found for r in expected), sum(r.expected_leaves for r in expected)
        ),
        "expected_type_accuracy": _rate(
            sum(r.expected_typed for r in expected), sum(r.expected_leaves for r in expected)
        ),
        "fallbacks": fallbacks,
        "latency": latency(samples),
        "latency_by_mode": per_mode,
        "wsdl_load": latency([r.wsdl_load_ms for r in results if r.wsdl_load_ms is not None]),
    }


def report(results: Sequence[CaseResult], meta: dict[str, Any]) -> dict[str, Any]:
    return {"meta": meta, "summary": summarise(results), "cases": [asdict(r) for r in results]}


# -- command -------------------------------------------------------------------------------
def print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    table = Table(title="translator eval")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("over", justify="right")
    outcomes = ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items())
    table.add_row("cases", str(summary["cases"]), outcomes)
    modes = ", ".join(f"{k} {v}" for k, v in summary["modes"].items())
    table.add_row("translated", str(summary["translated"]), modes)
    table.add_row(
        "schema-valid rate", pct(summary["schema_valid_rate"]), f"{summary['translated']} outputs"
    )
    table.add_row("leaf recall", pct(summary["leaf_recall"]), f"{summary['leaves']} XML leaves")
    table.add_row(
        "type accuracy", pct(summary["type_accuracy"]), f"{summary['typed_leaves']} typed leaves"
    )
    for kind, stat in summary["type_accuracy_by_kind"].items():
        table.add_row(f"  {kind}", pct(stat["accuracy"]), str(stat["leaves"]))
    if summary["expected_cases"]:
        over = f"{summary['expected_leaves']} leaves, {summary['expected_cases']} cases"
        table.add_row("expected: value recall", pct(summary["expected_value_recall"]), over)
        table.add_row("expected: typed match", pct(summary["expected_type_accuracy"]), over)
    for mode, stat in summary["fallbacks"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in stat["by_kind"].items()) or "none"
        table.add_row(f"fallback rate ({mode})", pct(stat["rate"]), kinds)
    lat = summary["latency"]
    table.add_row("latency p50 / p95 ms", f"{lat['p50_ms']} / {lat['p95_ms']}", f"{lat['n']} runs")
    for mode, stat in summary["latency_by_mode"].items():
        table.add_row(f"  {mode}", f"{stat['p50_ms']} / {stat['p95_ms']}", f"{stat['n']} runs")
    Console().print(table)


def run_command(
    cases: Path | None,
    out: Path,
    *,
    discover: bool,
    shared: Path,
    mode: Mode,
    repeat: int,
    settings: Settings,
) -> int:
    """``mmrag eval translator``: 0, or 2 with a message for input it cannot use."""
    import sys

    from rich.console import Console

    if repeat < 1:
        print("error: --repeat must be at least 1", file=sys.stderr)
        return 2
    try:
        selected = load_cases(cases, shared, discover=discover)
    except CaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with scratch_run(settings, "translating...") as (service, progress):
        results = run_cases(service, selected, mode=mode, repeat=repeat, progress=progress)
    meta = {
        "cases_from": str(cases) if cases is not None else None,
        "shared": str(shared) if discover else None,
        "mode": mode,
        "repeat": repeat,
    }
    body = report(results, meta)
    write_json(out, body)
    print_summary(body["summary"])
    console = Console(stderr=True)
    failed = [r for r in results if r.outcome != "translated"]
    for r in failed[:20]:
        console.print(f"  {r.outcome:<14} {r.id}: {'; '.join(r.reasons)[:160]}")
    if len(failed) > 20:
        console.print(f"  ... {len(failed) - 20} more in {out}")
    print(f"wrote {out}")
    return 0


Progress = Callable[[int, int, str], None]


@contextmanager
def scratch_run(settings: Settings, label: str) -> Iterator[tuple[TranslatorService, Progress]]:
    """A scratch translator (see :func:`scratch_service`) for one eval run, and a progress
    callback that shows the current case on a console status line."""
    import tempfile

    from rich.console import Console

    with tempfile.TemporaryDirectory(prefix="mmrag-eval-") as state:
        service = scratch_service(settings, Path(state))
        with Console(stderr=True).status(label) as status:

            def progress(n: int, total: int, case_id: str) -> None:
                status.update(f"case {n}/{total}: {case_id[-60:]}")

            yield service, progress


def write_json(out: Path, body: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")


def scratch_service(settings: Settings, state: Path) -> TranslatorService:
    """A translator whose mappings and LLM cache live in ``state`` (a scratch folder), not the
    user's store; the model cache is kept so models are not converted again."""
    from rag.runtime import Runtime

    isolated = settings.model_copy(
        update={"data_dir": state, "cache_dir": settings.cache_dir or settings.data_dir / "cache"}
    )
    return Runtime(isolated).translator()
