"""Fidelity over every node-soap request/response sample: does the translation validate
against the generated schema and carry every leaf value of the XML, with the right type?

    PYTHONPATH=. .venv/bin/python -m bench.translate_fidelity --root ../shared/data/wsdl_soap

Messages are translated with the default policy (``declare``): a message that does not fit
its WSDL is translated anyway, its deviations listed, and it must validate against the schema
the translation names (the operation's, widened at the deviations), carry every leaf, and
name a widened schema that is exactly the base one widened at its deviations.

For each ``request.xml``/``response.xml`` beside a ``soap.wsdl``:

- the typed translation is re-validated against a freshly generated schema, and an
  independent walk of the XML checks that every leaf element and every data attribute
  appears at its place in the JSON with an equal value of the right JSON kind (numbers for
  numeric types, booleans for booleans, null for nil, ...);
- a message the translator refuses (it does not fit its own WSDL) is checked with xmlschema,
  an independent XSD validator: a refusal xmlschema confirms is a correct refusal; one
  xmlschema disputes is counted as a translator error. Refused messages are also translated
  in the flagged schema-less fallback mode, which must carry every leaf too;
- a SOAP Fault must come out as a structured error with a code and a reason.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import sys
import warnings
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree

from eval.translator_leaves import check_leaves
from rag.errors import MalformedXmlError, MessageMismatchError, SoapFaultError
from rag.runtime import Runtime
from rag.settings import Settings
from translators.convert.deviations import widen
from translators.convert.envelope import open_envelope
from translators.service import TranslateOptions, TranslatorService, WsdlRef
from translators.xml.parser import parse_xml


@dataclass
class MessageFidelity:
    case: str
    file: str
    outcome: str  # faithful | declared | unfaithful | fault | refused-invalid | ...
    leaves: int = 0
    problems: list[str] = field(default_factory=list)
    schemaless_leaves_ok: bool | None = None
    deviations: list[str] = field(default_factory=list)  # kinds, one per deviation
    strict_refusal: str | None = None  # with deviations: why on_mismatch=error refuses
    xmlschema: str | None = None
    reference_leaves: int = 0  # node-soap's own JSON (request.json / response.json)
    reference_found: int = 0


# -- xmlschema cross-check -----------------------------------------------------------------
def xmlschema_verdict(wsdl: Path, root: etree._Element) -> str:
    """'invalid: <reason>', 'valid', or 'unknown: <why>' according to xmlschema."""
    try:
        wsdl_module: Any = importlib.import_module("xmlschema.extras.wsdl")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = wsdl_module.Wsdl11Document(str(wsdl))
    except Exception as exc:
        return f"unknown: xmlschema cannot load the WSDL ({type(exc).__name__})"
    envelope = open_envelope(root)
    for message in envelope.messages:
        if (
            document.schema.get_element(message.tag) is None
            and document.schema.elements.get(message.tag) is None
        ):
            return f"unknown: xmlschema has no global element {message.tag} (rpc or unmatched)"
        try:
            document.schema.validate(message)
        except Exception as exc:
            reason = next(
                (line for line in str(exc).splitlines() if line.startswith("Reason:")), str(exc)
            )
            return f"invalid: {reason[:160]}"
    return "valid"


# -- the suite -----------------------------------------------------------------------------
def cases(root: Path) -> list[tuple[str, Path, Path]]:
    base = root / "node-soap" / "test" / "request-response-samples"
    found = []
    for case in sorted(p for p in base.iterdir() if (p / "soap.wsdl").is_file()):
        for name in ("request.xml", "response.xml"):
            if (case / name).is_file():
                found.append((case.name, case / "soap.wsdl", case / name))
    return found


def run(root: Path, data_dir: Path) -> list[MessageFidelity]:
    service = Runtime(Settings(_env_file=None, data_dir=data_dir)).translator()  # type: ignore[call-arg]
    results: list[MessageFidelity] = []
    for case, wsdl, path in cases(root):
        results.append(check_one(service, case, wsdl, path))
    return results


def check_one(service: TranslatorService, case: str, wsdl: Path, path: Path) -> MessageFidelity:
    xml = path.read_bytes()
    ref = WsdlRef(path=wsdl)
    try:
        root = parse_xml(xml)
    except MalformedXmlError as exc:
        return MessageFidelity(case, path.name, "malformed-xml", problems=[exc.detail])
    try:
        translation = service.translate(xml, ref)
    except SoapFaultError as exc:
        ok = bool(exc.fault_code and exc.reason)
        return MessageFidelity(case, path.name, "fault" if ok else "fault-incomplete")
    except MessageMismatchError as exc:
        verdict = xmlschema_verdict(wsdl, root)
        outcome = (
            "refused-invalid"
            if verdict.startswith("invalid")
            else "refused-disputed"
            if verdict == "valid"
            else "refused-unconfirmed"
        )
        fallback = service.translate(xml, ref, TranslateOptions(on_mismatch="schemaless"))

        leaves, problems = check_leaves(root, fallback.data)
        return MessageFidelity(
            case,
            path.name,
            outcome,
            leaves,
            [exc.detail, f"xmlschema: {verdict}", *problems[:3]],
            schemaless_leaves_ok=not problems,
        )
    except Exception as exc:
        return MessageFidelity(
            case, path.name, "wsdl-failed", problems=[f"{type(exc).__name__}: {exc}"]
        )
    found: list[str] = []
    if translation.operation is not None and translation.direction is not None:
        schema = service.schema(
            ref,
            translation.binding + "/" + translation.operation
            if translation.binding
            else translation.operation,
            "input" if translation.direction == "input" else "output",
        )
        if translation.deviations:
            # The named schema must be the base one widened at exactly the deviations.
            rebuilt = widen(schema, [d for d in translation.deviations if d.part == "body"])
            if translation.widened_schema != rebuilt or rebuilt["$id"] != translation.schema_id:
                found.append("schema: the named schema is not the base widened at the deviations")
            schema = rebuilt
        errors = list(Draft202012Validator(schema).iter_errors(translation.data))
        found += [f"schema: {e.message[:120]}" for e in errors]
    leaves, leaf_problems = check_leaves(root, translation.data)
    found += leaf_problems
    ref_leaves, ref_found = reference_leaves(path, translation.data)
    if not translation.deviations:
        outcome = "unfaithful" if found else "faithful"
        return MessageFidelity(
            case, path.name, outcome, leaves, found,
            reference_leaves=ref_leaves, reference_found=ref_found,
        )  # fmt: skip
    try:
        service.translate(xml, ref, TranslateOptions(on_mismatch="error"))
        strict = "accepted"
    except MessageMismatchError as exc:
        strict = exc.detail
    return MessageFidelity(
        case,
        path.name,
        "unfaithful" if found else "declared",
        leaves,
        found,
        deviations=[d.kind for d in translation.deviations],
        strict_refusal=strict,
        xmlschema=xmlschema_verdict(wsdl, root),
        reference_leaves=ref_leaves,
        reference_found=ref_found,
    )


def _scalars(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _scalars(item, out)
    elif isinstance(value, list):
        for item in value:
            _scalars(item, out)
    elif value is not None:
        text = str(value).strip()
        if isinstance(value, bool):
            text = text.lower()
        out.append(text)


def reference_leaves(path: Path, data: Any) -> tuple[int, int]:
    """node-soap's own JSON for this message (``response.json`` beside ``response.xml``):
    how many of its scalar values, and how many of them our JSON carries (numbers compared
    by value, strings as written)."""
    reference = path.with_suffix(".json")
    if not reference.is_file():
        return 0, 0
    try:
        expected_json = json.loads(reference.read_text(encoding="utf-8"))
    except ValueError:
        return 0, 0
    expected: list[str] = []
    ours: list[str] = []
    _scalars(expected_json, expected)
    _scalars(data, ours)
    pool = collections.Counter(_norm(v) for v in ours)
    hits = 0
    for value in expected:
        key = _norm(value)
        if pool[key] > 0:
            pool[key] -= 1
            hits += 1
    return len(expected), hits


def _norm(text: str) -> str:
    try:
        return str(Decimal(text).normalize())
    except (ArithmeticError, ValueError):
        return " ".join(text.split())


def summarise(results: list[MessageFidelity]) -> dict[str, Any]:
    counts = collections.Counter(r.outcome for r in results)
    kinds = collections.Counter(k for r in results for k in r.deviations)
    responses = [r for r in results if r.file == "response.xml"]
    well_formed = [r for r in responses if r.outcome not in ("malformed-xml",)]
    typed = counts["faithful"] + counts["unfaithful"] + counts["declared"]
    refused = counts["refused-invalid"] + counts["refused-unconfirmed"] + counts["refused-disputed"]
    return {
        "messages": len(results),
        "outcomes": dict(sorted(counts.items())),
        "typed_translations": typed,
        "typed_fidelity": round((counts["faithful"] + counts["declared"]) / typed, 4)
        if typed
        else None,
        "leaves_checked": sum(r.leaves for r in results if r.outcome in ("faithful", "declared")),
        "declared": counts["declared"],
        "deviations_by_kind": dict(kinds.most_common()),
        "responses_well_formed": len(well_formed),
        "responses_translated_every_leaf": sum(
            1 for r in well_formed if r.outcome in ("faithful", "declared")
        ),
        "responses_refused": {
            f"{r.case}/{r.file}": r.problems[0][:160]
            for r in well_formed
            if r.outcome not in ("faithful", "declared", "fault")
        },
        "node_soap_reference_leaves": sum(r.reference_leaves for r in results),
        "node_soap_reference_found": sum(r.reference_found for r in results),
        "refused": refused,
        "refusals_confirmed_by_xmlschema": counts["refused-invalid"],
        "refusals_disputed_by_xmlschema": counts["refused-disputed"],
        "schemaless_fallback_carries_every_leaf": all(
            r.schemaless_leaves_ok for r in results if r.outcome.startswith("refused")
        ),
    }


def main(argv: list[str] | None = None) -> int:
    from bench.translate_coverage import default_root

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=default_root())
    parser.add_argument("--data-dir", type=Path, default=Path(".mmrag/bench-data"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = run(args.root, args.data_dir)
    summary = summarise(results)
    print(f"Fidelity over {summary['messages']} node-soap messages")
    for outcome, count in summary["outcomes"].items():
        print(f"  {outcome:<20} {count:>4}")
    if summary["typed_fidelity"] is not None:
        print(
            f"  typed translations faithful (deviations declared included): "
            f"{summary['typed_fidelity']:.1%} ({summary['leaves_checked']} leaves checked)"
        )
    print(f"  declared deviations by kind: {summary['deviations_by_kind']}")
    print(
        f"  well-formed responses translated with every leaf: "
        f"{summary['responses_translated_every_leaf']} of {summary['responses_well_formed']}"
        f" (faults count as structured errors)"
    )
    print(
        f"  node-soap's own JSON: {summary['node_soap_reference_found']} of "
        f"{summary['node_soap_reference_leaves']} of its scalar values in ours"
    )
    print(
        f"  refusals confirmed by xmlschema: {summary['refusals_confirmed_by_xmlschema']}"
        f" of {summary['refused']}; disputed: {summary['refusals_disputed_by_xmlschema']}"
    )
    every_leaf = summary["schemaless_fallback_carries_every_leaf"]
    print(f"  schema-less fallback carries every leaf: {every_leaf}")
    for r in results:
        if r.outcome == "declared":
            print(f"  {r.outcome:<20} {r.case}/{r.file}: {', '.join(sorted(set(r.deviations)))}")
        elif r.outcome not in ("faithful", "fault"):
            print(f"  {r.outcome:<20} {r.case}/{r.file}: {' | '.join(r.problems[:2])[:220]}")
    if args.json:
        args.json.write_text(
            json.dumps({"summary": summary, "messages": [asdict(r) for r in results]}, indent=2)
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
