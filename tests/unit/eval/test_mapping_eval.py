"""Mapping-proposal eval: field signatures, exact and output-equivalent scoring, the case
manifest, and a run with a scripted fake LLM against the similarity baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eval.mapping_eval import (
    field_signatures,
    load_mapping_cases,
    run_mapping_cases,
    score_rules,
    summarise_mappings,
)
from eval.translator_eval import CaseError
from rag.models.fakes import FakeLLM
from tests.conftest import REPO_ROOT, SettingsFactory
from translators.mapping.dsl import Rule
from translators.service import TranslatorService

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "translators"
TARGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderId": {"type": "string"},
        "state": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "qty": {"type": "integer"}},
            },
        },
    },
    "required": ["orderId", "state"],
    "additionalProperties": False,
}
EXPECTED: list[dict[str, Any]] = [
    {"target": "orderId", "op": "cast", "source": "GetOrderResponse/order/id", "to": "string"},
    {"target": "state", "op": "rename", "source": "GetOrderResponse/order/status"},
    {
        "target": "lines",
        "op": "array_map",
        "source": "GetOrderResponse/order/line",
        "rules": [
            {"target": "code", "op": "rename", "source": "sku"},
            {"target": "qty", "op": "rename", "source": "quantity"},
        ],
    },
]
GOOD_REPLY = (
    "orderId <- GetOrderResponse/order/id\nstate <- GetOrderResponse/order/status\n"
    "lines[]/code <- GetOrderResponse/order/line[]/sku\n"
    "lines[]/qty <- GetOrderResponse/order/line[]/quantity"
)


def rules(raw: list[dict[str, Any]]) -> list[Rule]:
    return [Rule.model_validate(r) for r in raw]


def test_field_signatures_flatten_array_items() -> None:
    signatures = field_signatures(rules(EXPECTED))
    assert signatures["orderId"] == ("cast", "GetOrderResponse/order/id", (("to", "string"),))
    assert signatures["lines[]/code"] == ("rename", "GetOrderResponse/order/line[]/sku", ())
    assert set(signatures) == {"orderId", "state", "lines[]/code", "lines[]/qty"}


def test_exact_and_output_equivalent_scores() -> None:
    samples = [{"o": {"id": "7", "name": "x", "alias": "x"}}]
    target = {"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "string"}}}
    expected = rules([{"target": "id", "source": "o/id"}, {"target": "n", "source": "o/name"}])
    # "n" from another field holding the same value: not exact, but output-equivalent.
    proposed = rules(
        [
            {"target": "id", "source": "o/id"},
            {"target": "n", "source": "o/alias"},
            {"target": "extra", "op": "constant", "value": 1},
        ]
    )
    score = score_rules(proposed, expected, samples, target, "llm")
    assert (score.fields, score.exact, score.equivalent) == (2, 1, 2)
    assert (score.proposed_fields, score.proposed_exact) == (3, 1)
    assert score.valid
    assert not score.output_equal  # "extra" makes the whole output differ
    same = score_rules(expected, expected, samples, target, "llm")
    assert same.output_equal
    assert same.exact == 2


def test_a_proposal_that_fails_to_apply_scores_no_equivalence() -> None:
    samples = [{"o": {"id": "x"}}]
    expected = rules([{"target": "id", "source": "o/id"}])
    broken = rules([{"target": "id", "op": "cast", "source": "o/id", "to": "integer"}])
    score = score_rules(broken, expected, samples, {"type": "object"}, "llm")
    assert (score.exact, score.equivalent, score.valid) == (0, 0, False)
    assert any("apply failed" in w for w in score.wrong)


def _case_dir(tmp_path: Path) -> Path:
    (tmp_path / "target.json").write_text(json.dumps(TARGET))
    (tmp_path / "expected.json").write_text(json.dumps({"rules": EXPECTED}))
    row = {
        "id": "order",
        "wsdl": str(FIXTURES / "constructs.wsdl"),
        "samples": [str(FIXTURES / "order_response.xml")],
        "target_schema": "target.json",
        "expected": "expected.json",
    }
    (tmp_path / "cases.jsonl").write_text(json.dumps(row) + "\n")
    return tmp_path


def test_a_fake_llm_run_beats_the_similarity_baseline(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    fake = FakeLLM(lambda _: GOOD_REPLY)
    service = TranslatorService(make_settings(), llm=lambda: fake)
    results = run_mapping_cases(service, load_mapping_cases(_case_dir(tmp_path)))
    [result] = results
    assert result.outcome == "scored", result.reasons
    by = {s.proposer: s for s in result.scores}
    assert (by["llm"].exact, by["llm"].fields) == (4, 4)
    assert by["llm"].valid
    assert by["llm"].output_equal
    assert by["llm"].rules_from_llm >= 2
    assert by["similarity"].exact < 4
    assert len(fake.prompts) == 1  # the baseline never asks the LLM
    summary = summarise_mappings(results)
    assert summary["by_proposer"]["llm"]["field_accuracy_exact"] == 1.0
    assert summary["by_proposer"]["llm"]["validity_rate"] == 1.0


def test_an_unavailable_llm_is_recorded_and_the_run_goes_on(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    service = TranslatorService(make_settings())  # no LLM configured
    case_dir = _case_dir(tmp_path)
    with (case_dir / "cases.jsonl").open("a") as handle:
        handle.write(
            json.dumps(
                {
                    **json.loads((case_dir / "cases.jsonl").read_text()),
                    "id": "broken",
                    "samples": ["missing.xml"],
                }
            )
            + "\n"
        )
    results = run_mapping_cases(service, load_mapping_cases(case_dir))
    assert [r.outcome for r in results] == ["scored", "error"]
    assert any("no LLM" in reason for reason in results[0].reasons)
    assert results[1].reasons


def test_json_source_cases(make_settings: SettingsFactory, tmp_path: Path) -> None:
    (tmp_path / "source.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {
                    "p": {
                        "type": "object",
                        "properties": {"first": {"type": "string"}, "last": {"type": "string"}},
                    }
                },
            }
        )
    )
    (tmp_path / "s1.json").write_text('{"p": {"first": "Ada", "last": "L"}}')
    (tmp_path / "target.json").write_text(
        json.dumps({"type": "object", "properties": {"name": {"type": "string"}}})
    )
    (tmp_path / "expected.json").write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "target": "name",
                        "op": "join",
                        "sources": ["p/first", "p/last"],
                        "separator": " ",
                    }
                ]
            }
        )
    )
    row = {
        "source_schema": "source.json",
        "samples": ["s1.json"],
        "target_schema": "target.json",
        "expected": "expected.json",
    }
    (tmp_path / "cases.jsonl").write_text(json.dumps(row) + "\n")
    service = TranslatorService(make_settings(), llm=lambda: FakeLLM(lambda _: "name <- p/last"))
    [result] = run_mapping_cases(service, load_mapping_cases(tmp_path))
    llm = result.scores[0]
    assert (llm.proposer, llm.exact, llm.equivalent, llm.valid) == ("llm", 0, 0, True)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"samples": ["a.xml"], "target_schema": "t.json"}, "missing"),
        ({"samples": [], "target_schema": "t", "expected": "e"}, "non-empty"),
        (
            {
                "samples": ["a"],
                "target_schema": "t",
                "expected": "e",
                "wsdl": "w",
                "source_schema": "s",
            },
            "not both",
        ),
    ],
)
def test_bad_mapping_manifests_are_refused(
    tmp_path: Path, row: dict[str, Any], message: str
) -> None:
    (tmp_path / "cases.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(CaseError, match=message):
        load_mapping_cases(tmp_path)


def test_the_committed_cases_load() -> None:
    cases = load_mapping_cases(REPO_ROOT / "eval" / "cases" / "mappings", Path("/shared"))
    assert 3 <= len(cases) <= 6
    for case in cases:
        assert case.target_schema.is_file()
        assert case.expected.is_file()
        expected = json.loads(case.expected.read_text())
        assert rules(expected["rules"])
