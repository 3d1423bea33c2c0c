"""Typed translation with declared deviations (the default ``on_mismatch=declare`` policy):
one test per kind, the widened schema, the strict and schema-less choices, and refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from rag.errors import MessageMismatchError
from tests.conftest import SettingsFactory
from translators.convert.deviations import Deviation, header_value, widen
from translators.result import Translation
from translators.service import TranslateOptions, TranslatorService, WsdlRef

WSDL = """<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="urn:t" targetNamespace="urn:t">
  <types>
    <xs:schema targetNamespace="urn:t" elementFormDefault="qualified">
      <xs:simpleType name="Code">
        <xs:restriction base="xs:string"><xs:pattern value="[A-Z]{3}"/></xs:restriction>
      </xs:simpleType>
      <xs:simpleType name="Small">
        <xs:restriction base="xs:int"><xs:maxInclusive value="10"/></xs:restriction>
      </xs:simpleType>
      <xs:element name="GetResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="name" type="xs:string"/>
            <xs:element name="code" type="tns:Code" minOccurs="0"/>
            <xs:element name="count" type="tns:Small" minOccurs="0"/>
            <xs:element name="flag" type="xs:boolean" minOccurs="0"/>
            <xs:element name="item" type="xs:int" minOccurs="0" maxOccurs="unbounded"/>
            <xs:element name="data" type="xs:base64Binary" minOccurs="0"/>
          </xs:sequence>
          <xs:attribute name="id" type="xs:int"/>
        </xs:complexType>
      </xs:element>
      <xs:element name="Get">
        <xs:complexType>
          <xs:sequence><xs:element name="q" type="xs:string"/></xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:schema>
  </types>
  <message name="GetIn"><part name="p" element="tns:Get"/></message>
  <message name="GetOut"><part name="p" element="tns:GetResponse"/></message>
  <message name="EchoIn"><part name="text" type="xs:string"/></message>
  <message name="EchoOut"><part name="echoed" type="xs:string"/></message>
  <portType name="PT">
    <operation name="Get"><input message="tns:GetIn"/><output message="tns:GetOut"/></operation>
  </portType>
  <portType name="RpcPT">
    <operation name="Echo"><input message="tns:EchoIn"/><output message="tns:EchoOut"/></operation>
  </portType>
  <binding name="B" type="tns:PT">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Get">
      <soap:operation soapAction="Get"/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <binding name="RpcB" type="tns:RpcPT">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Echo">
      <soap:operation soapAction="Echo"/>
      <input><soap:body use="literal" namespace="urn:t"/></input>
      <output><soap:body use="literal" namespace="urn:t"/></output>
    </operation>
  </binding>
  <service name="S">
    <port name="P" binding="tns:B"><soap:address location="http://localhost/x"/></port>
    <port name="R" binding="tns:RpcB"><soap:address location="http://localhost/r"/></port>
  </service>
</definitions>
"""

ENV = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:t="urn:t"><s:Body>{}'
    "</s:Body></s:Envelope>"
)


@pytest.fixture
def wsdl(tmp_path: Path) -> WsdlRef:
    path = tmp_path / "dev.wsdl"
    path.write_text(WSDL, encoding="utf-8")
    return WsdlRef(path=path)


@pytest.fixture
def service(make_settings: SettingsFactory) -> TranslatorService:
    return TranslatorService(make_settings())


def reply(inner: str, attrs: str = "") -> bytes:
    return ENV.format(f"<t:GetResponse{attrs}>{inner}</t:GetResponse>").encode()


def declared(service: TranslatorService, wsdl: WsdlRef, xml: bytes, **options: Any) -> Translation:
    translation = service.translate(xml, wsdl, TranslateOptions(**options))
    assert translation.deviations, "expected deviations"
    # The named schema is the operation's, widened at exactly the deviations; data fits it.
    assert translation.widened_schema is not None
    assert translation.widened_schema["$id"] == translation.schema_id
    assert translation.base_schema_id is not None
    assert translation.schema_id.startswith(translation.base_schema_id + "~widened~")
    Draft202012Validator(translation.widened_schema).validate(translation.data)
    return translation


def base_schema(service: TranslatorService, wsdl: WsdlRef) -> dict[str, Any]:
    return service.schema(wsdl, "Get", "output")


def kinds(translation: Translation) -> list[tuple[str, str]]:
    return [(d.kind, d.pointer) for d in translation.deviations]


def test_a_fitting_message_has_no_deviations(service: TranslatorService, wsdl: WsdlRef) -> None:
    translation = service.translate(reply("<t:name>a</t:name><t:item>1</t:item>"), wsdl)
    assert translation.deviations == ()
    assert translation.base_schema_id is None
    assert "deviations" not in translation.as_dict()
    assert translation.data == {"GetResponse": {"name": "a", "item": [1]}}


def test_nil_on_an_element_not_nillable(service: TranslatorService, wsdl: WsdlRef) -> None:
    xml = reply('<t:name xsi:nil="true"/>')
    translation = declared(service, wsdl, xml)
    assert translation.data == {"GetResponse": {"name": None}}
    assert kinds(translation) == [("nil", "/GetResponse/name")]
    assert not Draft202012Validator(base_schema(service, wsdl)).is_valid(translation.data)
    body = translation.as_dict()
    assert body["deviations"][0] == {
        "path": "/GetResponse/name",
        "kind": "nil",
        "expected": "string (not nillable)",
        "found": "xsi:nil",
    }
    with pytest.raises(MessageMismatchError, match="not nillable"):
        service.translate(xml, wsdl, TranslateOptions(on_mismatch="error"))
    fallback = service.translate(xml, wsdl, TranslateOptions(on_mismatch="schemaless"))
    assert fallback.mode == "schemaless"
    assert fallback.deviations == ()


@pytest.mark.parametrize(
    ("inner", "key", "value"),
    [
        ("<t:code>abc</t:code>", "code", "abc"),  # pattern (checked by the schema)
        ("<t:count>99</t:count>", "count", 99),  # range facet: still an integer
    ],
)
def test_a_value_that_breaks_a_facet(
    service: TranslatorService, wsdl: WsdlRef, inner: str, key: str, value: Any
) -> None:
    translation = declared(service, wsdl, reply("<t:name>a</t:name>" + inner))
    assert translation.data["GetResponse"][key] == value
    assert kinds(translation) == [("facet", f"/GetResponse/{key}")]


def test_a_value_outside_its_lexical_space_is_kept_as_written(
    service: TranslatorService, wsdl: WsdlRef
) -> None:
    translation = declared(service, wsdl, reply("<t:name>a</t:name><t:flag>yes</t:flag>"))
    assert translation.data["GetResponse"]["flag"] == "yes"
    assert kinds(translation) == [("lexical", "/GetResponse/flag")]


def test_an_undeclared_attribute(service: TranslatorService, wsdl: WsdlRef) -> None:
    xml = reply("<t:name>a</t:name>", ' id="7" colour="red"')
    translation = declared(service, wsdl, xml)
    assert translation.data["GetResponse"] == {"@id": 7, "@colour": "red", "name": "a"}
    assert kinds(translation) == [("attribute", "/GetResponse/@colour")]


def test_an_unknown_element_keeps_its_xsi_type(service: TranslatorService, wsdl: WsdlRef) -> None:
    xml = reply(
        '<t:name>a</t:name><t:extra xsi:type="xs:int" xmlns:xs="http://www.w3.org/2001/XMLSchema">5</t:extra>'
    )
    translation = declared(service, wsdl, xml)
    assert translation.data["GetResponse"]["extra"] == 5
    assert kinds(translation) == [("unknown_element", "/GetResponse/extra")]


def test_a_single_element_written_twice(service: TranslatorService, wsdl: WsdlRef) -> None:
    translation = declared(service, wsdl, reply("<t:name>a</t:name><t:name>b</t:name>"))
    assert translation.data["GetResponse"]["name"] == ["a", "b"]
    assert kinds(translation) == [("repeated", "/GetResponse/name")]


def test_a_missing_required_element(service: TranslatorService, wsdl: WsdlRef) -> None:
    translation = declared(service, wsdl, reply("<t:item>1</t:item>"))
    assert translation.data == {"GetResponse": {"item": [1]}}
    assert kinds(translation) == [("missing", "/GetResponse")]


def test_widening_is_exact_at_array_items(service: TranslatorService, wsdl: WsdlRef) -> None:
    xml = reply("<t:name>a</t:name><t:item>1</t:item><t:item>x</t:item>")
    translation = declared(service, wsdl, xml)
    assert translation.data["GetResponse"]["item"] == [1, "x"]
    assert kinds(translation) == [("lexical", "/GetResponse/item/1")]
    assert translation.widened_schema is not None
    widened = Draft202012Validator(translation.widened_schema)
    assert not widened.is_valid({"GetResponse": {"name": "a", "item": ["x", 1]}})
    assert not widened.is_valid({"GetResponse": {"name": "a", "item": [1, "x"], "flag": "x"}})


def test_an_rpc_reply_with_another_wrapper_name(service: TranslatorService, wsdl: WsdlRef) -> None:
    # Same namespace or named after the operation: SOAP says the name is not significant
    # (a warning). Any other wrapper, with the operation given: a declared deviation.
    xml = ENV.format('<x:Whatever xmlns:x="urn:other"><echoed>hi</echoed></x:Whatever>').encode()
    translation = declared(service, wsdl, xml, operation="Echo", direction="output")
    assert translation.data == {"EchoResponse": {"echoed": "hi"}}
    assert kinds(translation) == [("wrapper", "/EchoResponse")]
    with pytest.raises(MessageMismatchError):
        service.translate(xml, wsdl, TranslateOptions(operation="Echo", on_mismatch="error"))
    with pytest.raises(MessageMismatchError):  # inferred: not named after any operation
        service.translate(xml, wsdl)


def test_an_rpc_reply_under_the_request_wrapper_name_is_inferred_by_its_parts(
    service: TranslatorService, wsdl: WsdlRef
) -> None:
    # Request and reply both under <t:Echo>: the parts (echoed, not text) say which it is,
    # so the reply is read as the output at once, with no "better-named candidate" warning.
    reply_xml = ENV.format("<t:Echo><echoed>hi</echoed></t:Echo>").encode()
    translation = service.translate(reply_xml, wsdl)
    assert (translation.operation, translation.direction) == ("Echo", "output")
    assert translation.data == {"EchoResponse": {"echoed": "hi"}}
    assert translation.deviations == ()
    assert not any("candidate" in w for w in translation.warnings)
    request_xml = ENV.format("<t:Echo><text>hi</text></t:Echo>").encode()
    request = service.translate(request_xml, wsdl)
    assert (request.operation, request.direction) == ("Echo", "input")
    assert request.data == {"Echo": {"text": "hi"}}


def test_a_missing_mtom_part(service: TranslatorService, wsdl: WsdlRef) -> None:
    envelope = reply(
        '<t:name>a</t:name><t:data><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include"'
        ' href="cid:gone@x"/></t:data>'
    )
    body = (
        b"--B\r\nContent-Type: application/xop+xml\r\nContent-ID: <root>\r\n\r\n"
        + envelope
        + b"\r\n--B--\r\n"
    )
    content_type = 'multipart/related; boundary="B"; type="application/xop+xml"'
    translation = declared(service, wsdl, body, content_type=content_type)
    assert translation.data["GetResponse"]["data"] == "cid:gone@x"
    assert kinds(translation) == [("missing_part", "/GetResponse/data")]
    with pytest.raises(Exception, match="not in the message"):
        service.translate(
            body, wsdl, TranslateOptions(content_type=content_type, on_mismatch="error")
        )


def test_a_reply_that_is_no_message_of_the_wsdl_is_refused(
    service: TranslatorService, wsdl: WsdlRef
) -> None:
    xml = ENV.format('<u:Unrelated xmlns:u="urn:u"><u:a>1</u:a></u:Unrelated>').encode()
    with pytest.raises(MessageMismatchError, match="does not match any operation"):
        service.translate(xml, wsdl)


def test_the_header_is_compact_and_bounded() -> None:
    many = [Deviation(("Get", "item", i), "lexical", "int", "x") for i in range(500)]
    value = header_value(many)
    assert len(value) <= 1024
    assert value.startswith("500; lexical=/Get/item/0, lexical=/Get/item/1")
    assert value.endswith(" more")
    assert header_value([Deviation(("Grüße",), "nil", "x", "y")]) == "1; nil=/Gr%C3%BC%C3%9Fe"


def test_widen_inlines_references_without_touching_other_uses() -> None:
    schema: dict[str, Any] = {
        "$id": "urn:x",
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/T"}, "b": {"$ref": "#/$defs/T"}},
        "additionalProperties": False,
        "$defs": {
            "T": {
                "type": "object",
                "properties": {"v": {"type": "integer"}},
                "required": ["v"],
                "additionalProperties": False,
            }
        },
    }
    widened = widen(
        schema,
        [
            Deviation(("a", "v"), "lexical", "int", "x", admits={"type": "string"}),
            Deviation(("a",), "attribute", "-", "-", admits=None),
            Deviation(("b",), "missing", "v", "absent", optional="v"),
        ],
    )
    validator = Draft202012Validator(widened)
    assert validator.is_valid({"a": {"v": "x"}, "b": {}})
    assert not validator.is_valid({"a": {"v": 1}, "b": {"v": "x"}})
    assert not validator.is_valid({"a": {}, "b": {}})
    assert schema["$defs"]["T"]["required"] == ["v"]  # the base schema is untouched


def test_a_repeated_deviation_takes_the_cached_fast_path(
    service: TranslatorService, wsdl: WsdlRef
) -> None:
    xml = reply("<t:name>a</t:name><t:item>1</t:item><t:item>x</t:item>")
    results = [service.translate(xml, wsdl) for _ in range(4)]  # 3rd on: compiled gate
    assert len({r.schema_id for r in results}) == 1
    assert all(r.data == results[0].data for r in results)
    assert all(kinds(r) == [("lexical", "/GetResponse/item/1")] for r in results)
    # The compiled gate (draft-7 array spelling) still refuses what the widening does not
    # admit: the same deviation key with another value at a non-deviating item.
    other = reply("<t:name>a</t:name><t:item>y</t:item><t:item>x</t:item>")
    assert [d.pointer for d in service.translate(other, wsdl).deviations] == [
        "/GetResponse/item/0",
        "/GetResponse/item/1",
    ]


def test_the_fast_gate_spelling_of_a_widened_schema_agrees(
    service: TranslatorService, wsdl: WsdlRef
) -> None:
    from translators.schema.gate import SchemaGate
    from translators.service import _draft7_arrays

    xml = reply("<t:name>a</t:name><t:item>1</t:item><t:item>x</t:item>")
    widened = service.translate(xml, wsdl).widened_schema
    assert widened is not None
    fast = SchemaGate(_draft7_arrays(widened))
    assert fast.is_valid({"GetResponse": {"name": "a", "item": [1, "x"]}})
    assert fast.is_valid({"GetResponse": {"name": "a", "item": [1, "x", 3]}})
    assert not fast.is_valid({"GetResponse": {"name": "a", "item": ["x", 1]}})
    assert not fast.is_valid({"GetResponse": {"name": "a", "item": [1, "x", "y"]}})


def test_after_a_deviation_a_fitting_message_is_translated_as_before(
    service: TranslatorService, wsdl: WsdlRef
) -> None:
    declared(service, wsdl, reply('<t:name xsi:nil="true"/>'))  # this body shape deviated
    fitting = reply("<t:name>a</t:name><t:item>1</t:item>")
    lenient_first = service.translate(fitting, wsdl)  # goes straight to the lenient path
    strict = service.translate(fitting, wsdl, TranslateOptions(on_mismatch="error"))
    assert lenient_first.deviations == ()
    assert lenient_first.as_dict() == strict.as_dict()


def test_identical_wsdls_in_two_files_each_name_their_own_widened_schema(
    service: TranslatorService, tmp_path: Path
) -> None:
    xml = reply('<t:name xsi:nil="true"/>')
    titles = []
    for name in ("a.wsdl", "b.wsdl"):
        path = tmp_path / name
        path.write_text(WSDL, encoding="utf-8")
        ref = WsdlRef(path=path)
        translation = declared(service, ref, xml)
        base = service.schema(ref, "Get", "output")
        assert translation.widened_schema == widen(base, translation.deviations)
        titles.append(str(translation.widened_schema["title"]))
    assert "a.wsdl" in titles[0]
    assert "b.wsdl" in titles[1]
