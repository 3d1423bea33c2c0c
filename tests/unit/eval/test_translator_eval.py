"""Translator eval scoring: leaf recall, type accuracy, schema validity, expected JSON,
fallback counting, and the case manifest (with the constructs fixture and inline XML)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eval.translator_eval import (
    CaseError,
    CaseResult,
    TranslatorCase,
    compare_expected,
    evaluate_case,
    load_manifest,
    summarise,
)
from eval.translator_leaves import walk_leaves
from eval.translator_types import check_types, declared_kinds, value_fits
from rag.cli.main import app
from tests.conftest import REPO_ROOT, SettingsFactory
from translators.service import TranslatorService, WsdlRef
from translators.xml.parser import parse_xml

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "translators"
WSDL = FIXTURES / "constructs.wsdl"
ORDER = FIXTURES / "order_response.xml"
SCHEMALESS_XML = (
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    b'<r xmlns="urn:x" kind="k"><a>1</a><a>2</a><b> text </b></r></s:Body></s:Envelope>'
)


@pytest.fixture
def service(make_settings: SettingsFactory) -> TranslatorService:
    return TranslatorService(make_settings())


@pytest.fixture
def order(service: TranslatorService) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(parsed XML, typed data, its operation schema)."""
    translation = service.translate(ORDER.read_bytes(), WsdlRef(path=WSDL))
    schema = service.schema(WsdlRef(path=WSDL), str(translation.operation), "output")
    return parse_xml(ORDER.read_bytes()), translation.data, schema


def test_every_leaf_is_found_in_a_faithful_translation(order: Any) -> None:
    root, data, _ = order
    walk = walk_leaves(root, data)
    assert walk.leaves == walk.found > 20
    assert not walk.problems


def test_leaf_recall_counts_a_missing_subtree_and_a_changed_value(order: Any) -> None:
    root, data, _ = order
    full = walk_leaves(root, data).leaves
    broken = copy.deepcopy(data)
    del broken["GetOrderResponse"]["order"]["customer"]  # @id, name, vatId: 3 leaves
    broken["GetOrderResponse"]["order"]["status"] = "lost"
    walk = walk_leaves(root, broken)
    assert walk.leaves == full
    assert walk.found == full - 4
    assert any("customer: missing" in p for p in walk.problems)


def test_schemaless_leaves_and_attributes_are_walked() -> None:
    root = parse_xml(SCHEMALESS_XML)
    data = {"r": {"@kind": "k", "a": ["1", "2"], "b": " text "}}
    walk = walk_leaves(root, data)
    assert (walk.leaves, walk.found) == (4, 4)
    assert walk_leaves(root, {"r": {"a": ["1"]}}).found == 1


def test_type_accuracy_is_perfect_on_the_typed_translation(order: Any) -> None:
    root, data, schema = order
    types = check_types(schema, walk_leaves(root, data).pairs)
    assert types.typed == types.correct > 10
    assert {"decimal", "float", "integer", "date", "date-time", "list", "string"} <= set(
        types.by_kind
    )


@pytest.mark.parametrize(
    ("path", "wrong"),
    [
        (("line", 0, "price", "#text"), 19.9),  # a float loses the decimal's digits
        (("line", 0, "price", "#text"), Decimal("19.9")),  # a digit dropped
        (("line", 0, "price", "#text"), "19.90"),  # a number as a string
        (("line", 0, "quantity"), "2"),
        (("weight",), "Infinity"),
    ],
)
def test_type_accuracy_catches_mistyped_values(
    order: Any, path: tuple[Any, ...], wrong: Any
) -> None:
    root, data, schema = order
    broken = copy.deepcopy(data)
    node = broken["GetOrderResponse"]["order"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = wrong
    pairs = walk_leaves(root, broken).pairs
    types = check_types(schema, pairs)
    baseline = check_types(schema, walk_leaves(root, data).pairs)
    assert types.correct < baseline.correct or len(pairs) < len(walk_leaves(root, data).pairs)


def test_value_fits_by_kind() -> None:
    assert value_fits("decimal", Decimal("19.90"), "19.90")
    assert not value_fits("decimal", Decimal("19.9"), "19.90")
    assert not value_fits("decimal", 19.9, "19.9")
    assert value_fits("decimal", 7, "+7")
    assert value_fits("integer", 3, "3")
    assert not value_fits("integer", True, "1")
    assert value_fits("boolean", False, "0")
    assert not value_fits("boolean", "false", "false")
    assert value_fits("float", "INF", "INF")
    assert value_fits("float", 1.5, "1.5")
    assert value_fits("date", "2024-02-29Z", "2024-02-29Z")
    assert not value_fits("date", "29/02/2024", "29/02/2024")
    assert value_fits("date-time", "2024-01-02T03:04:05+01:00", " 2024-01-02T03:04:05+01:00 ")
    assert value_fits("duration", "P1DT2H", "P1DT2H")
    assert not value_fits("duration", "P", "P")


def test_declared_kinds_follow_refs_and_alternatives() -> None:
    schema = {
        "$defs": {"T": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}},
        "type": "object",
        "properties": {
            "t": {"anyOf": [{"$ref": "#/$defs/T"}, {"type": "null"}]},
            "f": {"anyOf": [{"type": "number"}, {"enum": ["INF", "-INF", "NaN"]}]},
            "any": {},
            "u": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        },
    }
    assert declared_kinds(schema, ("t", "n")) == {"integer"}
    assert declared_kinds(schema, ("f",)) == {"float"}
    assert declared_kinds(schema, ("any",)) == set()
    assert declared_kinds(schema, ("u",)) == {"integer", "string"}
    assert declared_kinds(schema, ("missing",)) == set()


def test_expected_json_scores_values_and_types() -> None:
    expected = {"a": {"n": 2, "d": Decimal("1.50"), "s": "x", "b": True}, "l": [1, 2]}
    actual = {"a": {"n": "2", "d": Decimal("1.5"), "s": "x", "b": True}, "l": [1]}
    leaves, found, typed, problems = compare_expected(actual, expected)
    assert (leaves, found, typed) == (6, 5, 3)
    assert any("/l/1: missing" in p for p in problems)


def _write_manifest(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("# comment\n" + "\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_cases_are_scored_and_failures_recorded(service: TranslatorService, tmp_path: Path) -> None:
    (tmp_path / "plain.xml").write_bytes(SCHEMALESS_XML)
    (tmp_path / "bad.xml").write_text("<a><b></a>")
    misfit = ORDER.read_text().replace("<o:status>shipped</o:status>", "<o:state>x</o:state>")
    (tmp_path / "misfit.xml").write_text(misfit)
    (tmp_path / "expected.json").write_text(
        json.dumps({"r": {"@kind": "k", "a": ["1", "2"], "b": " text "}})
    )
    manifest = _write_manifest(
        tmp_path,
        [
            {"id": "typed", "wsdl": str(WSDL), "message": str(ORDER)},
            {"id": "plain", "message": "plain.xml", "expected": "expected.json"},
            {"id": "misfit", "wsdl": str(WSDL), "message": "misfit.xml"},
            {"id": "bad", "message": "bad.xml"},
            {"id": "absent", "message": "absent.xml"},
        ],
    )
    cases = load_manifest(manifest)
    results = {c.id: evaluate_case(service, c, repeat=2) for c in cases}
    typed = results["typed"]
    assert (typed.outcome, typed.mode, typed.schema_valid) == ("translated", "typed", True)
    assert typed.leaves == typed.leaves_found
    assert typed.typed_leaves == typed.typed_correct
    assert len(typed.latency_ms) == 2
    assert typed.first_ms is not None
    assert results["plain"].mode == "schemaless"
    assert results["plain"].expected_found == 4
    assert results["misfit"].fallbacks == ["schemaless"]
    assert results["misfit"].leaves == results["misfit"].leaves_found
    assert results["bad"].outcome == "malformed-xml"
    assert results["absent"].outcome == "error"
    assert results["absent"].reasons
    summary = summarise(list(results.values()))
    assert summary["translated"] == 3
    assert summary["fallbacks"]["deterministic"] == {
        "translations": 3,
        "with_fallback": 1,
        "rate": round(1 / 3, 4),
        "by_kind": {"schemaless": 1},
    }
    assert summary["schema_valid_rate"] == 1.0
    assert summary["expected_value_recall"] == 1.0
    assert summary["latency"]["n"] == 6


def test_summary_rates() -> None:
    results = [
        CaseResult("a", "translated", mode="typed", schema_valid=True, leaves=4, leaves_found=3),
        CaseResult(
            "b",
            "translated",
            mode="typed",
            schema_valid=False,
            leaves=2,
            leaves_found=2,
            typed_leaves=2,
            typed_correct=1,
            types_by_kind={"integer": [1, 2]},
        ),
        CaseResult("c", "fault"),
    ]
    summary = summarise(results)
    assert summary["schema_valid_rate"] == 0.5
    assert summary["leaf_recall"] == round(5 / 6, 4)
    assert summary["type_accuracy"] == 0.5
    assert summary["outcomes"] == {"fault": 1, "translated": 2}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{nope", "not JSON"),
        ('{"wsdl": "x"}', "'message'"),
        ('{"message": "m.xml", "direction": "sideways"}', "direction"),
        ('{"message": "m.xml", "colour": 1}', "unknown keys"),
        ('{"message": "shared:x.xml"}', "shared corpus"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "cases.jsonl").write_text(line + "\n")
    with pytest.raises(CaseError, match=message):
        load_manifest(tmp_path)


def test_shared_paths_resolve_under_the_shared_folder(tmp_path: Path) -> None:
    (tmp_path / "cases.jsonl").write_text('{"message": "shared:a/b.xml", "wsdl": "w.wsdl"}\n')
    [case] = load_manifest(tmp_path, shared=Path("/data"))
    assert case == TranslatorCase("shared:a/b.xml", Path("/data/a/b.xml"), tmp_path / "w.wsdl")


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "translator", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "no case manifest" in result.output
    result = runner.invoke(app, ["eval", "translator", "--shared", "--shared-data", str(tmp_path)])
    assert result.exit_code == 2
    result = runner.invoke(app, ["eval", "mappings", str(tmp_path)])
    assert result.exit_code == 2


def test_target_schema_cases_count_fallbacks_per_requested_mode(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    from rag.models.fakes import FakeLLM

    target = {
        "type": "object",
        "properties": {"orderId": {"type": "string"}, "state": {"type": "string"}},
        "required": ["state"],
        "additionalProperties": False,
    }
    (tmp_path / "target.json").write_text(json.dumps(target))
    replies = {"mapping": "orderId <- order/id\nstate <- order/status", "message": "not json"}

    def reply(messages: Any) -> str:
        return (
            replies["mapping"]
            if "<-" in str(messages[-1].content) or "Source fields" in str(messages[-1].content)
            else replies["message"]
        )

    service = TranslatorService(make_settings(), llm=lambda: FakeLLM(reply))
    case = TranslatorCase("mapped", ORDER, WSDL, target_schema=tmp_path / "target.json")
    mapped = evaluate_case(service, case)
    assert (mapped.outcome, mapped.mode, mapped.schema_valid) == ("translated", "mapped", True)
    assert mapped.requested_mode == "deterministic"
    per_message = evaluate_case(service, case, mode="llm", repeat=1)
    assert per_message.requested_mode == "llm"
    assert per_message.schema_valid is True
    summary = summarise([mapped, per_message])
    assert set(summary["fallbacks"]) == {"deterministic", "llm"}
    assert summary["fallbacks"]["llm"]["translations"] == 1
