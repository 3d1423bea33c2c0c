"""Fidelity over every node-soap request/response sample: does the translation validate
against the generated schema and carry every leaf value of the XML, with the right type?

    /work/main/.venv/bin/python -m bench.translate_fidelity [--root DIR] [--json OUT]

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
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree

from eval.translator_leaves import check_leaves
from rag.errors import MalformedXmlError, MessageMismatchError, SoapFaultError
from rag.runtime import Runtime
from rag.settings import Settings
from translators.convert.envelope import open_envelope
from translators.service import TranslateOptions, TranslatorService, WsdlRef
from translators.xml.parser import parse_xml


@dataclass
class MessageFidelity:
    case: str
    file: str
    outcome: str  # faithful | unfaithful | fault | refused-invalid | refused-disputed | ...
    leaves: int = 0
    problems: list[str] = field(default_factory=list)
    schemaless_leaves_ok: bool | None = None


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
        errors = list(Draft202012Validator(schema).iter_errors(translation.data))
        found += [f"schema: {e.message[:120]}" for e in errors]
    leaves, leaf_problems = check_leaves(root, translation.data)
    found += leaf_problems
    return MessageFidelity(case, path.name, "unfaithful" if found else "faithful", leaves, found)


def summarise(results: list[MessageFidelity]) -> dict[str, Any]:
    counts = collections.Counter(r.outcome for r in results)
    typed = counts["faithful"] + counts["unfaithful"]
    refused = counts["refused-invalid"] + counts["refused-unconfirmed"] + counts["refused-disputed"]
    return {
        "messages": len(results),
        "outcomes": dict(sorted(counts.items())),
        "typed_translations": typed,
        "typed_fidelity": round(counts["faithful"] / typed, 4) if typed else None,
        "leaves_checked": sum(r.leaves for r in results if r.outcome == "faithful"),
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
            f"  typed translations faithful: {summary['typed_fidelity']:.1%} "
            f"({summary['leaves_checked']} leaves checked)"
        )
    print(
        f"  refusals confirmed by xmlschema: {summary['refusals_confirmed_by_xmlschema']}"
        f" of {summary['refused']}; disputed: {summary['refusals_disputed_by_xmlschema']}"
    )
    every_leaf = summary["schemaless_fallback_carries_every_leaf"]
    print(f"  schema-less fallback carries every leaf: {every_leaf}")
    for r in results:
        if r.outcome not in ("faithful", "fault"):
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
