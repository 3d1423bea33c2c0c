"""Coverage sweep: load every WSDL under the shared corpus and generate the JSON Schema of
every operation message; name the construct behind every failure.

    /work/main/.venv/bin/python -m bench.translate_coverage [--root DIR] [--json OUT]

Outcomes per WSDL (only documents that are well-formed XML count; the index says which):

- ``complete``: loaded, and every operation of every binding (or unbound port type) yields
  an input and output schema that is valid JSON Schema (draft 2020-12);
- ``degraded``: complete, but some part of a schema is permissive because a type, element or
  message it names does not exist or could not be read (an error finding names it);
- ``incomplete``: loaded, but some operations could not be produced (a binding names a port
  type that is not there, e.g. behind a remote import that the empty allowlist refuses);
- ``failed``: the WSDL itself could not be loaded (not a WSDL, unreadable, ...).

"Loads and yields schemas for all operations" = complete (degraded included); the strict
figure (no permissive part) is reported beside it.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from translators.compiled import CompiledWsdl
from translators.convert.jsonout import dumps
from translators.wsdl.loader import load_wsdl
from translators.wsdl.model import Direction
from translators.wsdl.resolver import DocumentResolver

_META = Draft202012Validator(Draft202012Validator.META_SCHEMA)
_SKIPPING = ("wsdl:binding", "wsdl:operation", "wsdl20:binding")
META_LIMIT = 200
DIRECTIONS: tuple[Direction, ...] = ("input", "output")


@dataclass
class WsdlOutcome:
    path: str
    outcome: str  # complete | degraded | incomplete | failed
    operations: int = 0
    schemas: int = 0
    meta_checked: int = 0
    seconds: float = 0.0
    constructs: list[str] = field(default_factory=list)  # what failed or degraded
    warnings: int = 0


@dataclass
class CoverageReport:
    root: str
    well_formed: int
    outcomes: list[WsdlOutcome]
    seconds: float

    def count(self, *names: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome in names)

    @property
    def coverage(self) -> float:
        return self.count("complete", "degraded") / max(1, self.well_formed)

    @property
    def strict_coverage(self) -> float:
        return self.count("complete") / max(1, self.well_formed)

    def summary(self) -> dict[str, Any]:
        by_construct: collections.Counter[str] = collections.Counter()
        for outcome in self.outcomes:
            if outcome.outcome != "complete":
                by_construct.update(set(outcome.constructs))
        return {
            "well_formed_wsdls": self.well_formed,
            "complete": self.count("complete"),
            "degraded": self.count("degraded"),
            "incomplete": self.count("incomplete"),
            "failed": self.count("failed"),
            "coverage": round(self.coverage, 4),
            "strict_coverage": round(self.strict_coverage, 4),
            "operations": sum(o.operations for o in self.outcomes),
            "schemas": sum(o.schemas for o in self.outcomes),
            "schemas_meta_validated": sum(o.meta_checked for o in self.outcomes),
            "seconds": round(self.seconds, 1),
            "constructs_behind_gaps": dict(by_construct.most_common()),
        }


def well_formed_wsdls(root: Path) -> list[str]:
    """WSDL paths the corpus index marks well-formed (``parse == ok``)."""
    index = root / "INDEX_wsdl.tsv"
    rows = [line.split("\t") for line in index.read_text(encoding="utf-8").splitlines()[1:]]
    return [row[0] for row in rows if len(row) > 3 and row[3] == "ok"]


class _MetaCheck:
    """Meta-validates schemas, each distinct ``$defs`` entry once (documents share them)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, schema: dict[str, Any]) -> None:
        parts = [{k: v for k, v in schema.items() if k != "$defs"}]
        parts += list(schema.get("$defs", {}).values())
        for part in parts:
            key = hashlib.sha256(dumps(part).encode()).hexdigest()
            if key in self._seen:
                continue
            error = next(iter(_META.iter_errors(part)), None)
            if error is not None:
                raise ValueError(f"generated schema is not valid JSON Schema: {error.message}")
            self._seen.add(key)


def sweep_one(
    path: Path, label: str, meta: _MetaCheck, *, meta_limit: int | None = META_LIMIT
) -> WsdlOutcome:
    started = time.perf_counter()
    try:
        loaded = load_wsdl(str(path), DocumentResolver.beside(path))
        compiled = CompiledWsdl(loaded, name=label)
        messages = [
            (operation, direction)
            for operation in loaded.description.operations
            for direction in DIRECTIONS
            if operation.message(direction) is not None
        ]
        # Meta-validating JSON Schema (draft 2020-12) costs ~4 ms per schema in jsonschema;
        # a WSDL with thousands of operations is checked on an evenly spread sample.
        stride = 1 if meta_limit is None else max(1, -(-len(messages) // meta_limit))
        schemas = checked = 0
        for index, (operation, direction) in enumerate(messages):
            message = compiled.message(operation, direction)
            schemas += 1
            if index % stride == 0:
                meta(message.schema)
                meta(message.header_schema)
                checked += 1
    except Exception as exc:
        construct = getattr(exc, "construct", None) or type(exc).__name__
        detail = getattr(exc, "detail", None) or str(exc)
        return WsdlOutcome(
            label,
            "failed",
            seconds=time.perf_counter() - started,
            constructs=[f"{construct}: {str(detail)[:160]}"],
        )
    errors = [p for p in loaded.problems if p.severity == "error"]
    skipped = [p for p in errors if p.construct in _SKIPPING]
    outcome = "incomplete" if skipped else "degraded" if errors else "complete"
    return WsdlOutcome(
        label,
        outcome,
        operations=len(loaded.description.operations),
        schemas=schemas,
        meta_checked=checked,
        seconds=time.perf_counter() - started,
        constructs=sorted({p.construct for p in errors}),
        warnings=sum(1 for p in loaded.problems if p.severity == "warning"),
    )


def sweep(
    root: Path, paths: Iterable[str] | None = None, *, meta_limit: int | None = META_LIMIT
) -> CoverageReport:
    started = time.perf_counter()
    selected = list(paths) if paths is not None else well_formed_wsdls(root)
    meta = _MetaCheck()
    outcomes = [sweep_one(root / p, p, meta, meta_limit=meta_limit) for p in selected]
    return CoverageReport(str(root), len(selected), outcomes, time.perf_counter() - started)


def default_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "wsdl_soap"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=default_root())
    parser.add_argument("--json", type=Path, help="write the full report here")
    parser.add_argument(
        "--meta-all", action="store_true", help="meta-validate every schema (slow: minutes)"
    )
    args = parser.parse_args(argv)
    report = sweep(args.root, meta_limit=None if args.meta_all else META_LIMIT)
    summary = report.summary()
    print(f"WSDL coverage over {summary['well_formed_wsdls']} well-formed WSDLs in {args.root}")
    for key in ("complete", "degraded", "incomplete", "failed"):
        print(f"  {key:<11} {summary[key]:>5}")
    print(f"  coverage (complete + degraded): {summary['coverage']:.1%}")
    print(f"  strict coverage (complete):     {summary['strict_coverage']:.1%}")
    print(
        f"  operations {summary['operations']}, message schemas {summary['schemas']} "
        f"({summary['schemas_meta_validated']} meta-validated), {summary['seconds']} s"
    )
    print("  constructs behind the gaps:")
    for construct, count in summary["constructs_behind_gaps"].items():
        print(f"    {count:>4}  {construct}")
    for outcome in report.outcomes:
        if outcome.outcome in ("failed", "incomplete"):
            print(f"  {outcome.outcome:<10} {outcome.path}: {'; '.join(outcome.constructs)}")
    if args.json:
        body = {"summary": summary, "wsdls": [asdict(o) for o in report.outcomes]}
        args.json.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
