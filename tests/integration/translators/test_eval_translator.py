"""``mmrag eval translator`` over real shared cases: the committed manifest (hand-written
expected JSON) and the discovered corpus; ``mmrag eval mappings`` with the bundled LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.mapping_eval import load_mapping_cases, run_mapping_cases
from eval.translator_eval import discover_shared, load_manifest, run_cases, summarise
from rag.cli.main import app
from rag.models import ModelRegistry
from rag.settings import Settings
from tests.conftest import MODEL_CACHE, REPO_ROOT
from translators.service import TranslatorService

CASES = REPO_ROOT / "eval" / "cases"


def _service(tmp_path: Path, models: ModelRegistry | None = None) -> TranslatorService:
    settings = Settings(_env_file=None, data_dir=tmp_path, cache_dir=MODEL_CACHE)  # type: ignore[call-arg]
    return TranslatorService(settings, llm=models.llm if models is not None else None)


def test_committed_translator_cases(shared_data: Path, tmp_path: Path) -> None:
    cases = load_manifest(CASES / "translator", shared_data)
    results = {r.id: r for r in run_cases(_service(tmp_path), cases)}
    summary = summarise(list(results.values()))
    assert summary["outcomes"] == {"fault": 1, "translated": len(cases) - 1}
    assert summary["schema_valid_rate"] == 1.0
    assert summary["leaf_recall"] == 1.0
    assert summary["type_accuracy"] == 1.0
    assert summary["expected_value_recall"] == 1.0
    assert summary["expected_type_accuracy"] == 1.0
    assert {"decimal", "float", "integer", "boolean", "date", "date-time"} <= set(
        summary["type_accuracy_by_kind"]
    )
    assert results["renamed-element-fallback"].fallbacks == ["schemaless"]
    assert results["taxcloud-schemaless"].mode == "schemaless"
    assert not results["taxcloud-schemaless"].fallbacks


def test_cli_over_the_discovered_corpus(shared_data: Path, tmp_path: Path, cli_env: None) -> None:
    out = tmp_path / "tr.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "translator",
            "--shared",
            "--shared-data",
            str(shared_data),
            "--out",
            str(out),
            "--repeat",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    summary = body["summary"]
    assert summary["cases"] == len(discover_shared(shared_data)) > 100
    assert summary["translated"] > 100
    assert summary["schema_valid_rate"] == 1.0
    assert summary["leaf_recall"] >= 0.99
    # Every case that was not translated says why (faults, malformed XML, WSDL failures).
    assert all(c["reasons"] for c in body["cases"] if c["outcome"] != "translated")


def test_cli_mappings_without_the_llm(shared_data: Path, tmp_path: Path, cli_env: None) -> None:
    out = tmp_path / "map.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "mappings",
            str(CASES / "mappings"),
            "--no-llm",
            "--shared-data",
            str(shared_data),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text())
    assert body["meta"]["model"] is None
    assert body["summary"]["cases"] == len(body["cases"]) > 0
    assert all(c["outcome"] == "scored" for c in body["cases"])


@pytest.mark.slow
def test_bundled_llm_mapping_proposal_is_scored(
    models: ModelRegistry, shared_data: Path, tmp_path: Path
) -> None:
    cases = [
        c for c in load_mapping_cases(CASES / "mappings", shared_data) if c.id == "datetime-flat"
    ]
    [result] = run_mapping_cases(_service(tmp_path, models), cases)
    assert result.outcome == "scored", result.reasons
    llm, baseline = result.scores
    assert (llm.proposer, baseline.proposer) == ("llm", "similarity")
    assert llm.fields == 3
    assert llm.valid  # checked and repaired: always valid on the samples
    assert llm.seconds > 0
