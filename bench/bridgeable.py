"""Bridgeable WSDLs: for how many well-formed corpus WSDLs does every SOAP operation get a
request envelope, from mmrag's serializer and from zeep, in one run on the same files.

For each WSDL (``parse == ok`` in ``INDEX_wsdl.tsv``): mmrag loads and compiles it, builds a
sample request for every operation of every SOAP binding
(:func:`translators.bridge.samples.sample_request`) and serialises it; zeep loads the same
file through the same resolver and serialises the same JSON (``bench.request_oracle``).
A WSDL counts as bridgeable by a side when that side loads it and builds an envelope for
every operation. Where both build one, the canonical bodies are compared (``--compare``).

    .venv/bin/python -m bench.bridgeable --compare
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.request_oracle import agree, zeep_envelope
from bench.translate_coverage import well_formed_wsdls
from translators.bridge.samples import sample_request
from translators.bridge.serializer import RequestSerializer
from translators.compiled import CompiledWsdl
from translators.wsdl.loader import load_wsdl
from translators.wsdl.model import Operation
from translators.wsdl.resolver import DocumentResolver

__all__ = ["OperationResult", "WsdlResult", "check_wsdl", "main", "run"]


@dataclass
class OperationResult:
    key: str
    mmrag: str = "ok"  # "ok" or the reason it failed
    zeep: str = "not loaded"
    agree: bool | None = None  # None: not compared


@dataclass
class WsdlResult:
    path: str
    mmrag_loaded: bool = False
    zeep_loaded: bool = False
    reason: str = ""
    zeep_reason: str = ""
    operations: list[OperationResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def soap_operations(self) -> int:
        return len(self.operations)

    @property
    def mmrag_bridgeable(self) -> bool:
        return (
            self.mmrag_loaded
            and bool(self.operations)
            and all(o.mmrag == "ok" for o in self.operations)
        )

    @property
    def zeep_bridgeable(self) -> bool:
        return (
            self.zeep_loaded
            and bool(self.operations)
            and all(o.zeep == "ok" for o in self.operations)
        )


def soap_operations(compiled: CompiledWsdl) -> list[Operation]:
    """Operations of SOAP bindings that have an input message."""
    return [op for op in compiled.operations if op.soap_version is not None and op.input]


def check_wsdl(path: Path, label: str, *, compare: bool, with_zeep: bool = True) -> WsdlResult:
    started = time.perf_counter()
    result = WsdlResult(label)
    try:
        loaded = load_wsdl(str(path), DocumentResolver.beside(path))
        compiled = CompiledWsdl(loaded, name=label)
        result.mmrag_loaded = True
    except Exception as exc:  # a benchmark records every failure and carries on
        result.reason = f"{type(exc).__name__}: {exc}"[:200]
        result.seconds = time.perf_counter() - started
        return result
    serializer = RequestSerializer(compiled)
    envelopes: dict[str, Any] = {}
    samples: dict[str, Any] = {}
    for operation in soap_operations(compiled):
        outcome = OperationResult(operation.key)
        result.operations.append(outcome)
        try:
            samples[operation.key] = sample_request(compiled, operation)
            envelopes[operation.key] = serializer.envelope(
                operation, samples[operation.key], soap_version=operation.soap_version or "1.1"
            )
        except Exception as exc:
            outcome.mmrag = f"{type(exc).__name__}: {exc}"[:200]
    if with_zeep:
        _zeep_side(path, result, compiled, samples, envelopes, compare)
    result.seconds = time.perf_counter() - started
    return result


def _zeep_side(
    path: Path,
    result: WsdlResult,
    compiled: CompiledWsdl,
    samples: dict[str, Any],
    envelopes: dict[str, Any],
    compare: bool,
) -> None:
    from translators.wsdl.zeep_support import zeep_client

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client = zeep_client(path)
        result.zeep_loaded = True
    except Exception as exc:
        result.zeep_reason = f"{type(exc).__name__}: {exc}"[:200]
        return
    bindings = {b.name.localname: b for b in client.wsdl.bindings.values()}
    by_key = {op.key: op for op in compiled.operations}
    for outcome in result.operations:
        operation = by_key[outcome.key]
        binding = bindings.get(operation.binding)
        if binding is None or outcome.key not in samples:
            outcome.zeep = "no such binding in zeep" if binding is None else "no sample"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = zeep_envelope(client, binding, operation, samples[outcome.key])
            outcome.zeep = "ok"
        except Exception as exc:
            outcome.zeep = f"{type(exc).__name__}: {exc}"[:200]
            continue
        if compare and outcome.key in envelopes:
            outcome.agree = agree(envelopes[outcome.key], theirs)


def run(root: Path, *, compare: bool = False, limit: int | None = None) -> list[WsdlResult]:
    paths = well_formed_wsdls(root)[:limit]
    logging.disable(logging.WARNING)
    try:
        return [check_wsdl(root / p, p, compare=compare) for p in paths]
    finally:
        logging.disable(logging.NOTSET)


def summarise(results: list[WsdlResult]) -> dict[str, Any]:
    total = len(results)
    with_ops = [r for r in results if r.soap_operations]
    mmrag = sum(r.mmrag_bridgeable for r in results)
    zeep = sum(r.zeep_bridgeable for r in results)
    compared = [o for r in results for o in r.operations if o.agree is not None]
    failures = Counter(
        o.mmrag.split(":")[0] for r in results for o in r.operations if o.mmrag != "ok"
    )
    return {
        "well_formed_wsdls": total,
        "with_soap_operations": len(with_ops),
        "mmrag_bridgeable": mmrag,
        "zeep_bridgeable": zeep,
        "mmrag_share": round(mmrag / total, 3) if total else 0.0,
        "zeep_share": round(zeep / total, 3) if total else 0.0,
        "zeep_loaded": sum(r.zeep_loaded for r in results),
        "operations": sum(r.soap_operations for r in results),
        "compared_operations": len(compared),
        "agreeing_operations": sum(bool(o.agree) for o in compared),
        "mmrag_failures": dict(failures.most_common()),
        "seconds": round(sum(r.seconds for r in results), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("../shared/data/wsdl_soap"))
    parser.add_argument("--compare", action="store_true", help="compare envelopes with zeep")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path(".mmrag/bench/bridgeable.json"))
    args = parser.parse_args(argv)
    results = run(args.root, compare=args.compare, limit=args.limit)
    summary = summarise(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"summary": summary, "wsdls": [asdict(r) for r in results]}, indent=1)
    )
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
