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
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from lxml import etree

from rag.errors import MalformedXmlError, MessageMismatchError, SoapFaultError
from rag.settings import Settings
from translators.convert.context import META_ATTRIBUTES
from translators.convert.envelope import open_envelope
from translators.service import TranslateOptions, TranslatorService, WsdlRef
from translators.xml.names import XSI, local_name, resolve_prefixed
from translators.xml.parser import parse_xml

NIL = {f"{{{XSI}}}nil", f"{{{XSI}}}null"}


@dataclass
class MessageFidelity:
    case: str
    file: str
    outcome: str  # faithful | unfaithful | fault | refused-invalid | refused-disputed | ...
    leaves: int = 0
    problems: list[str] = field(default_factory=list)
    schemaless_leaves_ok: bool | None = None


# -- the independent leaf walk -----------------------------------------------------------
def _same(value: Any, text: str, element: etree._Element) -> bool:
    stripped = text.strip()
    if value is None:
        return stripped == "" or element.get(f"{{{XSI}}}nil") in ("true", "1")
    if isinstance(value, bool):
        return stripped in (("true", "1") if value else ("false", "0"))
    if isinstance(value, int | Decimal):
        try:
            return Decimal(value) == Decimal(stripped.lstrip("+"))
        except InvalidOperation:
            return False
    if isinstance(value, float):
        try:
            return value == float(stripped)
        except ValueError:
            return False
    if isinstance(value, list):
        return [str(v) for v in value] == stripped.split()
    if isinstance(value, str):
        candidates = {text, stripped, " ".join(text.split()), "".join(text.split())}
        if stripped in ("INF", "-INF", "NaN", "+INF"):
            candidates.add(stripped.lstrip("+"))
        resolved = resolve_prefixed(stripped, dict(element.nsmap)) if ":" in stripped else None
        return value in candidates or value == resolved
    return False


def _key(container: dict[str, Any], name: str) -> str | None:
    local = local_name(name)
    if local in container:
        return local
    matches = [k for k in container if k.endswith(":" + local)]
    return matches[0] if len(matches) == 1 else None


class LeafWalk:
    def __init__(self, scope: etree._Element) -> None:
        self.ids = {
            el.get("id"): el for el in scope.iter() if isinstance(el.tag, str) and el.get("id")
        }
        self.refs = {str(v)[1:] for v in scope.xpath(".//@href") if str(v).startswith("#")}
        self.leaves = 0
        self.problems: list[str] = []

    def referenced(self, node_id: str) -> bool:
        return node_id in self.refs

    def deref(self, element: etree._Element) -> etree._Element:
        href = element.get("href")
        if href and href.startswith("#") and len(element) == 0:
            return self.ids.get(href[1:], element)
        return element

    def check(self, element: etree._Element, value: Any, path: str) -> None:
        element = self.deref(element)
        if element.get(f"{{{XSI}}}nil") in ("true", "1") or element.get(f"{{{XSI}}}null") == "1":
            self.leaves += 1
            if value is not None:
                self.problems.append(f"{path}: nil element became {value!r}")
            return
        attributes = [
            (k, v)
            for k, v in element.items()
            if k not in META_ATTRIBUTES
            and not k.startswith(f"{{{XSI}}}")
            and not (k == "href" and v.startswith("#"))
            and not (k == "id" and v in self.ids and self.referenced(v))
        ]
        children = [c for c in element if isinstance(c.tag, str)]
        if isinstance(value, dict):
            for name, text in attributes:
                self.leaves += 1
                key = _key({k[1:]: v for k, v in value.items() if k.startswith("@")}, name)
                if key is None or not _same(value["@" + key], text, element):
                    self.problems.append(f"{path}/@{local_name(name)}: missing or different")
            if not children:
                self.leaves += 1
                text = element.text or ""
                if "#text" in value:
                    if not _same(value["#text"], text, element):
                        self.problems.append(
                            f"{path}: text {text.strip()[:30]!r} became {value['#text']!r}"
                        )
                elif text.strip():
                    self.problems.append(f"{path}: text {text.strip()[:30]!r} missing")
                return
            counts: collections.Counter[str] = collections.Counter()
            for child in children:
                key = _key(value, child.tag)
                child_path = f"{path}/{local_name(child.tag)}"
                if key is None:
                    self.problems.append(f"{child_path}: missing")
                    continue
                item = value[key]
                if isinstance(item, list) and not self._is_list_value(child, item):
                    index = counts[key]
                    counts[key] += 1
                    if index >= len(item):
                        self.problems.append(f"{child_path}[{index}]: missing")
                        continue
                    item = item[index]
                self.check(child, item, child_path)
            return
        if isinstance(value, list) and children:  # a SOAP-encoded array
            if len(value) != len(children):
                self.problems.append(f"{path}: {len(children)} items became {len(value)}")
            for index, (child, item) in enumerate(zip(children, value, strict=False)):
                self.check(child, item, f"{path}[{index}]")
            return
        if children:
            self.problems.append(f"{path}: element with children became {type(value).__name__}")
            return
        self.leaves += 1
        if attributes:
            self.problems.append(
                f"{path}: attributes {[local_name(a) for a, _ in attributes]} dropped"
            )
        if not _same(value, element.text or "", element):
            self.problems.append(f"{path}: {(element.text or '').strip()[:30]!r} became {value!r}")

    @staticmethod
    def _is_list_value(child: etree._Element, item: list[Any]) -> bool:
        """An xs:list value (a JSON array of tokens) rather than a repeated element."""
        return (
            len(child) == 0
            and bool(item)
            and all(not isinstance(v, dict | list) for v in item)
            and (
                " ".join(str(v) for v in item) == " ".join((child.text or "").split())
                and len((child.text or "").split()) > 1
            )
        )


def check_leaves(root: etree._Element, data: dict[str, Any]) -> tuple[int, list[str]]:
    envelope = open_envelope(root)
    walk = LeafWalk(envelope.body)
    for message in envelope.messages:
        key = _key(data, message.tag)
        if key is None and len(data) == 1 and len(envelope.messages) == 1:
            key = next(iter(data))  # an rpc response wrapper keyed by its canonical name
        if key is None:
            walk.problems.append(f"/{local_name(message.tag)}: missing")
            continue
        walk.check(message, data[key], "/" + local_name(message.tag))
    return walk.leaves, walk.problems


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
    service = TranslatorService(Settings(_env_file=None, data_dir=data_dir))  # type: ignore[call-arg]
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
