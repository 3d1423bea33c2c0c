"""Over every node-soap message, the translator's fast paths give exactly what its general
paths give (the oracle: ``tests/unit/translators/slow_paths.py``)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SettingsFactory
from tests.unit.translators.slow_paths import outcome, slow_paths
from translators.service import TranslateOptions, TranslatorService, WsdlRef


def _cases(shared_data: Path) -> list[tuple[bytes, WsdlRef]]:
    base = shared_data / "wsdl_soap" / "node-soap" / "test" / "request-response-samples"
    found: list[tuple[bytes, WsdlRef]] = []
    for folder in sorted(base.iterdir()):
        wsdl = folder / "soap.wsdl"
        for name in ("request.xml", "response.xml"):
            if wsdl.is_file() and (folder / name).is_file():
                found.append(((folder / name).read_bytes(), WsdlRef(path=wsdl)))
    return found


def _run(service: TranslatorService, cases: list[tuple[bytes, WsdlRef]]) -> list[Any]:
    results: list[Any] = []
    for _ in range(2):  # the second round meets the caches the first one filled
        for xml, wsdl in cases:
            inferred = outcome(partial(service.translate, xml, wsdl))
            results.append(inferred)
            results.append(outcome(partial(service.translate, xml)))
            strict = TranslateOptions(on_mismatch="error")
            results.append(outcome(partial(service.translate, xml, wsdl, strict)))
            if inferred[0] != "error" and inferred[0]["binding"]:
                body = inferred[0]
                given = TranslateOptions(
                    operation=f"{body['binding']}/{body['operation']}",
                    direction=body["direction"],
                )
                results.append(outcome(partial(service.translate, xml, wsdl, given)))
    return results


def test_fast_paths_translate_the_corpus_as_the_general_ones(
    shared_data: Path,
    make_settings: SettingsFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = _cases(shared_data)
    assert len(cases) > 50
    fast = _run(TranslatorService(make_settings(data_dir=tmp_path / "fast")), cases)
    with slow_paths(monkeypatch):
        slow = _run(TranslatorService(make_settings(data_dir=tmp_path / "slow")), cases)
    assert len(fast) == len(slow)
    for index, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a == b, index
