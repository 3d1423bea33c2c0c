"""The shared corpus: coverage sweep over every well-formed WSDL, fidelity over every
node-soap case, and zeep through the resolving transport. Targets from the issue."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

from bench.translate_coverage import sweep
from bench.translate_fidelity import run, summarise

COVERAGE_TARGET = 0.95


@pytest.mark.slow
def test_coverage_sweep_meets_its_target(shared_data: Path) -> None:
    report = sweep(shared_data / "wsdl_soap", meta_limit=10)
    summary = report.summary()
    assert summary["well_formed_wsdls"] > 0
    assert report.coverage >= COVERAGE_TARGET, summary
    for outcome in report.outcomes:
        if outcome.outcome != "complete":
            assert outcome.constructs, f"{outcome.path} fails without naming a construct"
    assert summary["schemas_meta_validated"] > 0


def test_fidelity_over_every_node_soap_case(shared_data: Path, tmp_path: Path) -> None:
    results = run(shared_data / "wsdl_soap", tmp_path)
    summary = summarise(results)
    assert summary["typed_translations"] > 0
    unfaithful = [r for r in results if r.outcome == "unfaithful"]
    assert not unfaithful, [(r.case, r.file, r.problems[:2]) for r in unfaithful]
    assert summary["typed_fidelity"] == 1.0
    assert summary["refusals_disputed_by_xmlschema"] == 0
    assert summary["schemaless_fallback_carries_every_leaf"] is True
    assert all(r.outcome != "fault-incomplete" for r in results)


def test_zeep_loads_more_through_the_resolving_transport(shared_data: Path) -> None:
    import zeep

    from translators.wsdl.zeep_support import zeep_client

    plain_zeep: Any = zeep

    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = sorted(
            (shared_data / "wsdl_soap" / "node-soap" / "test" / "request-response-samples").glob(
                "*/soap.wsdl"
            )
        )
        plain = resolving = 0
        for wsdl in cases:
            try:
                plain_zeep.Client(str(wsdl), settings=plain_zeep.Settings(forbid_external=True))
                plain += 1
            except Exception:
                pass
            try:
                zeep_client(wsdl)
                resolving += 1
            except Exception:
                pass
    logging.disable(logging.NOTSET)
    assert resolving > plain
