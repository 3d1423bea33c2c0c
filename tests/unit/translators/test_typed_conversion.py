"""Typed XML -> JSON with the hand-written constructs WSDL: values, shapes, and refusals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rag.errors import MessageMismatchError, NotFoundError
from translators.convert.jsonout import dumps
from translators.schema.gate import SchemaGate
from translators.service import TranslateOptions, TranslatorService, WsdlRef

ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:o="urn:example:orders">'
    "<soap:Body>{body}</soap:Body></soap:Envelope>"
)


def order(inner: str = "", *, version: str = "1", choice: str = "<o:pickup>1</o:pickup>") -> bytes:
    body = (
        f'<o:GetOrderResponse><o:order version="{version}"><o:id>7</o:id><o:status>open</o:status>'
        "<o:customer><o:name>n</o:name></o:customer>"
        '<o:line><o:sku>ABC-0001</o:sku><o:quantity>1</o:quantity><o:price currency="EUR">1.5'
        "</o:price></o:line>"
        f"{choice}{inner}<o:createdAt>2024-01-01T00:00:00</o:createdAt></o:order>"
        "</o:GetOrderResponse>"
    )
    return ENVELOPE.format(body=body).encode()


def test_full_order_response(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    result = service.translate((fixtures / "order_response.xml").read_bytes(), constructs)
    assert (result.operation, result.direction, result.mode) == ("GetOrder", "output", "typed")
    data = result.data["GetOrderResponse"]["order"]
    assert data["@version"] == 3
    assert data["id"] == 18446744073709551615  # unsignedLong, exact
    assert data["customer"] == {
        "@xsi:type": "Company",
        "@id": 42,
        "name": "ACME  Ltd ",
        "vatId": "GB123",
    }
    line = data["line"]
    assert isinstance(line, list)
    assert len(line) == 1
    assert line[0]["sku"] == "ABC-1234"  # xs:token collapses whitespace
    assert line[0]["price"] == {"@currency": "EUR", "#text": Decimal("19.90")}
    assert line[0]["note"] is None  # nillable + xsi:nil
    assert "pickup" not in data
    assert data["address"] == "1 Main St"
    assert data["email"] == ["a@example.com"]
    assert data["phone"] == ["+1 555"]
    assert data["tags"] == ["red", "green"]  # xs:list
    assert data["ref"] == "abc"  # union: first member that fits (int does not)
    assert data["weight"] == "INF"
    assert data["blob"] == "aGVsbG8="  # base64 without whitespace
    assert data["extension"] == {"@flag": "1", "color": ["blue", "red"]}  # any + anyAttribute
    assert "createdBy" not in data  # optional and absent: missing, not null
    text = dumps(result.data)
    assert '"#text":19.90' in text  # decimals keep their digits


def test_output_validates_against_the_published_schema(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    result = service.translate((fixtures / "order_response.xml").read_bytes(), constructs)
    schema = service.schema(constructs, "GetOrder", "output")
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate(result.data)
    assert schema["$id"] == result.schema_id


def test_rpc_encoded_with_arrays_and_multirefs(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    result = service.translate((fixtures / "listnames_response.xml").read_bytes(), constructs)
    assert result.operation == "ListNames"
    assert result.direction == "output"
    assert result.data == {
        "ListNamesResponse": {
            "pairs": [{"value": 7, "key": "k"}],
            "names": ["alpha", None, "gamma"],
        }
    }
    assert result.warnings == ()


def test_same_input_gives_identical_bytes(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    xml = (fixtures / "order_response.xml").read_bytes()
    first = dumps(service.translate(xml, constructs).as_dict())
    second = dumps(TranslatorService(service.settings).translate(xml, constructs).as_dict())
    assert first == second


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        (order("<o:bogus>1</o:bogus>"), "unexpected element bogus"),
        (order(version="x"), "attribute version"),
        (order(choice="<o:pickup>maybe</o:pickup>"), "not a boolean"),
        (order("<o:due>2024-13-01</o:due>"), "not a valid date"),
        (order(choice="<o:pickup>1</o:pickup><o:address>a</o:address>"), "oneOf"),
        (order("<o:email>a</o:email><o:email>b</o:email><o:phone>c</o:phone>"), "phone"),
        (order('<o:tags xsi:nil="true"/>'), "not nillable"),
        (ENVELOPE.format(body="<o:Nope/>").encode(), "does not match any operation"),
    ],
)
def test_misfits_are_refused(
    service: TranslatorService, constructs: WsdlRef, xml: bytes, fragment: str
) -> None:
    with pytest.raises(MessageMismatchError) as info:
        service.translate(xml, constructs, TranslateOptions(on_mismatch="error"))
    assert fragment in info.value.detail


@pytest.mark.parametrize(
    ("xml", "kind"),
    [
        (order("<o:bogus>1</o:bogus>"), "unknown_element"),
        (order(version="x"), "lexical"),
        (order(choice="<o:pickup>maybe</o:pickup>"), "lexical"),
        (order("<o:due>2024-13-01</o:due>"), "lexical"),
        (order('<o:tags xsi:nil="true"/>'), "nil"),
        # Not deviations the policy declares: refused as under on_mismatch=error.
        (order(choice="<o:pickup>1</o:pickup><o:address>a</o:address>"), None),
        (order("<o:email>a</o:email><o:email>b</o:email><o:phone>c</o:phone>"), None),
        (ENVELOPE.format(body="<o:Nope/>").encode(), None),
    ],
)
def test_misfits_under_the_default_policy(
    service: TranslatorService, constructs: WsdlRef, xml: bytes, kind: str | None
) -> None:
    if kind is None:
        with pytest.raises(MessageMismatchError):
            service.translate(xml, constructs)
        return
    result = service.translate(xml, constructs)
    assert [d.kind for d in result.deviations] == [kind]
    assert result.widened_schema is not None
    assert SchemaGate(result.widened_schema).reference.is_valid(result.data)


def test_facets_are_enforced(service: TranslatorService, constructs: WsdlRef) -> None:
    strict = TranslateOptions(on_mismatch="error")
    bad_sku = order().replace(b"ABC-0001", b"abc-1")
    with pytest.raises(MessageMismatchError, match="does not match"):
        service.translate(bad_sku, constructs, strict)
    too_precise = order().replace(b">1.5<", b">1.555<")
    with pytest.raises(MessageMismatchError, match="fraction digits"):
        service.translate(too_precise, constructs, strict)
    too_many = order().replace(b"<o:quantity>1<", b"<o:quantity>1000<")
    with pytest.raises(MessageMismatchError, match="maximum"):
        service.translate(too_many, constructs, strict)


def test_schemaless_fallback_is_flagged(service: TranslatorService, constructs: WsdlRef) -> None:
    result = service.translate(
        order("<o:bogus>1</o:bogus>"), constructs, TranslateOptions(on_mismatch="schemaless")
    )
    assert result.mode == "schemaless"
    assert [f.kind for f in result.fallbacks] == ["schemaless"]
    assert "bogus" in result.fallbacks[0].reason
    assert result.data["GetOrderResponse"]["order"]["bogus"] == "1"


def test_operation_and_direction_can_be_named(
    service: TranslatorService, constructs: WsdlRef
) -> None:
    request = ENVELOPE.format(body="<o:GetOrder><o:id>5</o:id></o:GetOrder>").encode()
    result = service.translate(request, constructs, TranslateOptions(operation="GetOrder"))
    assert (result.direction, result.data) == ("input", {"GetOrder": {"id": 5}})
    with pytest.raises(MessageMismatchError):
        service.translate(
            request, constructs, TranslateOptions(operation="GetOrder", direction="output")
        )
    with pytest.raises(NotFoundError, match="ListNames"):
        service.translate(request, constructs, TranslateOptions(operation="Missing"))


def test_soap12_envelope_prefers_the_soap12_binding(
    service: TranslatorService, constructs: WsdlRef
) -> None:
    xml = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:o="urn:example:orders">'
        b"<e:Body><o:GetOrder><o:id>5</o:id></o:GetOrder></e:Body></e:Envelope>"
    )
    result = service.translate(xml, constructs)
    assert (result.binding, result.soap_version) == ("OrdersSoap12", "1.2")


def test_a_bare_message_without_envelope(service: TranslatorService, constructs: WsdlRef) -> None:
    xml = b'<o:GetOrder xmlns:o="urn:example:orders"><o:id>5</o:id></o:GetOrder>'
    result = service.translate(xml, constructs)
    assert result.data == {"GetOrder": {"id": 5}}
    assert result.soap_version is None
