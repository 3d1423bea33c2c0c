"""Mappings: the DSL, deterministic application, LLM proposals (with a fake LLM), repair,
the similarity fallback, the store, the LLM cache and the per-message LLM mode."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from rag.errors import MappingError, ModelUnavailableError
from rag.models.fakes import FakeLLM
from tests.conftest import SettingsFactory
from translators.convert.jsonout import dumps
from translators.llm import ChatMessage
from translators.mapping.apply import MappingApplyError, apply_rules
from translators.mapping.dsl import Rule
from translators.mapping.fields import SchemaFields
from translators.mapping.llm import CachedLLM, extract_json
from translators.mapping.message_llm import llm_translate
from translators.mapping.propose import parse_pairs, propose_mapping
from translators.mapping.store import MappingStore
from translators.service import TranslateOptions, TranslatorService, WsdlRef

TARGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderId": {"type": "string"},
        "state": {"type": "string"},
        "customerName": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "quantity": {"type": "integer"}},
                "required": ["code"],
            },
        },
    },
    "required": ["orderId", "state"],
    "additionalProperties": False,
}
LLM_REPLY = (
    "orderId <- order/id\nstate <- order/status\nlines[]/code <- order/line[]/sku\n"
    "bogus <- nope/nothing"
)


def translate(service: TranslatorService, fixtures: Path, **options: Any) -> Any:
    return service.translate(
        (fixtures / "order_response.xml").read_bytes(),
        WsdlRef(path=fixtures / "constructs.wsdl"),
        TranslateOptions(**options),
    )


def test_rules_apply_deterministically() -> None:
    rules = (
        Rule(target="a/b", op="rename", source="x"),
        Rule(target="n", op="cast", source="num", to="string"),
        Rule(target="i", op="cast", source="s", to="integer"),
        Rule(target="j", op="join", sources=("first", "last"), separator=" "),
        Rule(target="parts", op="split", source="csv", separator=","),
        Rule(target="color", op="enum_map", source="code", map={"R": "red"}),
        Rule(target="kind", op="constant", value="order"),
        Rule(
            target="items", op="array_map", source="rows", rules=(Rule(target="v", source="value"),)
        ),
        Rule(target="absent", source="missing"),
    )
    source = {
        "x": 1,
        "num": Decimal("1.50"),
        "s": "12",
        "first": "Ada",
        "last": "L",
        "csv": "a,b",
        "code": "R",
        "rows": [{"value": 1}, {"value": 2}],
    }
    out = apply_rules(rules, source)
    assert out == {
        "a": {"b": 1},
        "n": "1.50",
        "i": 12,
        "j": "Ada L",
        "parts": ["a", "b"],
        "color": "red",
        "kind": "order",
        "items": [{"v": 1}, {"v": 2}],
    }
    assert dumps(out) == dumps(apply_rules(rules, source))


def test_apply_errors_name_the_rule() -> None:
    with pytest.raises(MappingApplyError, match="'i'"):
        apply_rules((Rule(target="i", op="cast", source="s", to="integer"),), {"s": "x1"})
    with pytest.raises(MappingApplyError, match="array_map"):
        apply_rules((Rule(target="i", source="rows/value"),), {"rows": [{"value": 1}]})


def test_rules_are_validated_per_op() -> None:
    with pytest.raises(ValidationError, match="needs to"):
        Rule(target="x", op="cast", source="y")
    with pytest.raises(ValidationError):
        Rule(target="x", op="teleport", source="y")  # type: ignore[arg-type]


def test_pairs_from_lines_json_and_prefixes() -> None:
    assert parse_pairs("a <- x/y\n- b <- z,\nnoise", "root/") == [
        ("a", "root/x/y"),
        ("b", "root/z"),
    ]
    assert parse_pairs('{"rules": [{"target": "a", "source": "x"}]}') == [("a", "x")]
    assert extract_json('text ```json\n{"k": 1}\n``` more') == {"k": 1}


def test_llm_proposal_is_checked_repaired_and_applied(
    service_with_llm: TranslatorService, fixtures: Path
) -> None:
    result = translate(service_with_llm, fixtures, target_schema=TARGET)
    assert result.mode == "mapped"
    assert result.data == {
        "orderId": "18446744073709551615",
        "state": "shipped",
        "lines": [{"code": "ABC-1234", "quantity": 2}],
        "customerName": "ACME  Ltd ",
    }
    assert [f.kind for f in result.fallbacks] == ["mapping_repaired"]
    assert result.mapping is not None
    assert (result.mapping["rules_from_llm"], result.mapping["rules_by_similarity"]) == (3, 1)
    store = MappingStore(service_with_llm.state_dir / "mappings")
    saved = store.latest(result.mapping["key"])
    assert saved is not None
    assert saved.report["dropped_from_llm"][0]["target"] == "bogus"
    assert "lines[]/quantity" in saved.report["added_by_similarity"]
    again = translate(service_with_llm, fixtures, target_schema=TARGET)  # the saved mapping
    assert dumps(again.as_dict()) == dumps(result.as_dict())


def test_without_an_llm_the_similarity_mapping_is_a_flagged_fallback(
    service: TranslatorService, fixtures: Path
) -> None:
    target = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "customerName": {"type": "string"}},
        "required": ["status"],
    }
    result = translate(service, fixtures, target_schema=target)
    assert result.data == {"status": "shipped", "customerName": "ACME  Ltd "}
    assert [f.kind for f in result.fallbacks] == ["mapping_similarity"]


def test_a_mapping_that_cannot_fill_the_target_is_an_error(
    service: TranslatorService, fixtures: Path
) -> None:
    target = {"type": "object", "properties": {"zzz": {"type": "string"}}, "required": ["zzz"]}
    with pytest.raises(MappingError, match="cannot produce valid output"):
        translate(service, fixtures, target_schema=target)


def test_store_versions_and_keeps_identical_rules(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    proposal = propose_mapping(
        source_schema=schema,
        source_schema_id="s",
        target_schema=schema,
        samples=[{"a": "x"}],
        llm=None,
        model_id="m",
        max_tokens=64,
    )
    store = MappingStore(tmp_path)
    first, _ = store.save(proposal.mapping)
    same, _ = store.save(proposal.mapping)
    changed = proposal.mapping.model_copy(
        update={"rules": (Rule(target="a", op="constant", value="k"),)}
    )
    second, path = store.save(changed)
    assert (first.version, same.version, second.version) == (1, 1, 2)
    assert json.loads(path.read_text())["rules"] == [
        {"target": "a", "op": "constant", "value": "k"}
    ]
    assert store.latest(first.key) == second


def test_llm_calls_are_cached_by_content_hash(tmp_path: Path) -> None:
    fake = FakeLLM(["one", "two"])
    cached = CachedLLM(fake, tmp_path, timeout_s=5)
    messages = [ChatMessage("user", "hi")]
    assert cached.complete(messages) == "one"
    assert CachedLLM(fake, tmp_path, timeout_s=5).complete(messages) == "one"
    assert cached.complete([ChatMessage("user", "other")]) == "two"
    assert len(fake.prompts) == 2


def test_a_stalled_llm_times_out(tmp_path: Path) -> None:
    import threading

    release = threading.Event()

    def stall(messages: Any) -> str:
        release.wait(5)
        return "late"

    cached = CachedLLM(FakeLLM(stall), tmp_path, timeout_s=0.1)
    try:
        with pytest.raises(ModelUnavailableError, match="did not answer"):
            cached.complete([ChatMessage("user", "hi")])
    finally:
        release.set()


def test_message_llm_retries_once_then_falls_back() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    mapped = {"a": 1}
    good = FakeLLM(['{"a": "x"}', '{"a": 1}'])
    data, fallback, attempts = llm_translate(good, {"src": 1}, schema, mapped, max_tokens=32)
    assert (data, fallback, attempts) == ({"a": 1}, None, 2)
    assert "invalid" in good.prompts[1][-1].content
    inventing = FakeLLM(['{"a": 7}', '{"a": 8}'])
    data, fallback, _ = llm_translate(inventing, {"src": 1}, schema, mapped, max_tokens=32)
    assert data == mapped
    assert fallback is not None
    assert fallback.kind == "llm_message"
    assert "does not occur" in fallback.reason
    data, fallback, _ = llm_translate(None, {}, schema, mapped, max_tokens=32, unavailable="down")
    assert (data, fallback and fallback.kind) == (mapped, "llm_unavailable")


def test_per_message_llm_mode_end_to_end(make_settings: SettingsFactory, fixtures: Path) -> None:
    def reply(messages: Any) -> str:
        if "target <- source" in messages[0].content:
            return "state <- order/status"
        return '{"state": "shipped"}'

    service = TranslatorService(make_settings(), llm=lambda: FakeLLM(reply))
    target = {"type": "object", "properties": {"state": {"type": "string"}}, "required": ["state"]}
    result = translate(service, fixtures, target_schema=target, mode="llm")
    assert (result.mode, result.data, result.fallbacks) == ("llm", {"state": "shipped"}, ())


def test_schema_fields_see_through_refs_and_alternatives(
    service: TranslatorService, fixtures: Path
) -> None:
    schema = service.schema(WsdlRef(path=fixtures / "constructs.wsdl"), "GetOrder", "output")
    fields = {f.path: f for f in SchemaFields(schema).fields()}
    assert fields["GetOrderResponse/order/id"].kind == "integer"
    assert fields["GetOrderResponse/order/customer/vatId"].kind == "string"  # from the subtype
    line = fields["GetOrderResponse/order/line"]
    assert line.is_array
    assert line.items is not None
    assert {f.path for f in line.items} >= {"sku", "quantity", "price/#text", "price/@currency"}


@pytest.fixture
def service_with_llm(make_settings: SettingsFactory) -> TranslatorService:
    return TranslatorService(make_settings(), llm=lambda: FakeLLM(lambda _: LLM_REPLY))
