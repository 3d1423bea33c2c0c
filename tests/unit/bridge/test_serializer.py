"""The bridge's own request serializer: JSON -> SOAP envelope over the compiled schema.

Each message is serialised, then read back by the translator as that operation's input:
the JSON must come back unchanged (the serializer is the translator's inverse).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from rag.errors import RequestInvalidError
from rag.settings import Settings
from translators.bridge.serializer import RequestSerializer
from translators.compiled import CompiledWsdl
from translators.service import TranslateOptions, TranslatorService, WsdlRef
from translators.wsdl.loader import load_wsdl
from translators.wsdl.model import Operation
from translators.wsdl.resolver import DocumentResolver

ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
ENV12 = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
TNS = "urn:shop"

TYPES = f"""
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="{TNS}"
    targetNamespace="{TNS}" elementFormDefault="qualified">
  <xs:complexType name="Item">
    <xs:sequence>
      <xs:element name="sku" type="xs:string"/>
      <xs:element name="qty" type="xs:int"/>
      <xs:element name="note" type="xs:string" minOccurs="0" nillable="true"/>
    </xs:sequence>
    <xs:attribute name="currency" type="xs:string"/>
  </xs:complexType>
  <xs:complexType name="GiftItem">
    <xs:complexContent>
      <xs:extension base="tns:Item">
        <xs:sequence><xs:element name="message" type="xs:string"/></xs:sequence>
      </xs:extension>
    </xs:complexContent>
  </xs:complexType>
  <xs:complexType name="Price">
    <xs:simpleContent>
      <xs:extension base="xs:decimal">
        <xs:attribute name="currency" type="xs:string" use="required"/>
      </xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:element name="PlaceOrder">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="item" type="tns:Item" maxOccurs="unbounded"/>
        <xs:choice>
          <xs:element name="email" type="xs:string"/>
          <xs:element name="phone" type="xs:string"/>
        </xs:choice>
        <xs:element name="limit" type="tns:Price" minOccurs="0"/>
        <xs:element name="kind" type="xs:QName" minOccurs="0"/>
        <xs:element name="tags" minOccurs="0">
          <xs:simpleType><xs:list itemType="xs:int"/></xs:simpleType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
  <xs:element name="PlaceOrderResponse" type="xs:string"/>
  <xs:element name="Session">
    <xs:complexType><xs:sequence>
      <xs:element name="token" type="xs:string"/>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""

DOCUMENT_WSDL = f"""<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:tns="{TNS}" targetNamespace="{TNS}">
  <types>{TYPES}</types>
  <message name="In"><part name="parameters" element="tns:PlaceOrder"/></message>
  <message name="Out"><part name="parameters" element="tns:PlaceOrderResponse"/></message>
  <message name="Head"><part name="session" element="tns:Session"/></message>
  <portType name="Shop">
    <operation name="PlaceOrder"><input message="tns:In"/><output message="tns:Out"/></operation>
  </portType>
  <binding name="Shop11" type="tns:Shop">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="PlaceOrder">
      <soap:operation soapAction="urn:shop#PlaceOrder"/>
      <input><soap:body use="literal"/>
        <soap:header message="tns:Head" part="session" use="literal"/></input>
      <output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <binding name="Shop12" type="tns:Shop">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="PlaceOrder">
      <soap12:operation soapAction="urn:shop#PlaceOrder"/>
      <input><soap12:body use="literal"/></input>
      <output><soap12:body use="literal"/></output>
    </operation>
  </binding>
  <service name="ShopService">
    <port name="Shop11Port" binding="tns:Shop11"><soap:address location="http://127.0.0.1:1/shop"/></port>
    <port name="Shop12Port" binding="tns:Shop12"><soap12:address location="http://127.0.0.1:1/shop"/></port>
  </service>
</definitions>
"""

RPC_WSDL = f"""<?xml version="1.0"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:soapenc="{ENC}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="{TNS}" targetNamespace="{TNS}">
  <types>
    <xs:schema targetNamespace="{TNS}">
      <xs:import namespace="{ENC}"/>
      <xs:complexType name="IntArray">
        <xs:complexContent>
          <xs:restriction base="soapenc:Array">
            <xs:attribute ref="soapenc:arrayType" wsdl:arrayType="xs:int[]"/>
          </xs:restriction>
        </xs:complexContent>
      </xs:complexType>
    </xs:schema>
  </types>
  <message name="SumIn">
    <part name="values" type="tns:IntArray"/><part name="label" type="xs:string"/>
  </message>
  <message name="SumOut"><part name="total" type="xs:int"/></message>
  <portType name="Calc">
    <operation name="Sum">
      <input message="tns:SumIn"/><output message="tns:SumOut"/>
    </operation>
    <operation name="SumLiteral">
      <input message="tns:SumIn"/><output message="tns:SumOut"/>
    </operation>
  </portType>
  <binding name="CalcBinding" type="tns:Calc">
    <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>
    <operation name="Sum">
      <soap:operation soapAction="Sum"/>
      <input><soap:body use="encoded" namespace="urn:calc" encodingStyle="{ENC}"/></input>
      <output><soap:body use="encoded" namespace="urn:calc" encodingStyle="{ENC}"/></output>
    </operation>
    <operation name="SumLiteral">
      <soap:operation soapAction="SumLiteral"/>
      <input><soap:body use="literal" namespace="urn:calc"/></input>
      <output><soap:body use="literal" namespace="urn:calc"/></output>
    </operation>
  </binding>
  <service name="CalcService">
    <port name="CalcPort" binding="tns:CalcBinding"><soap:address location="http://127.0.0.1:1/calc"/></port>
  </service>
</definitions>
"""


def _compiled(tmp_path: Path, text: str) -> CompiledWsdl:
    path = tmp_path / "service.wsdl"
    path.write_text(text)
    return CompiledWsdl(load_wsdl(str(path), DocumentResolver.beside(path)), name="svc")


def _operation(compiled: CompiledWsdl, key: str) -> Operation:
    return next(op for op in compiled.operations if op.key == key)


class _Pinned(TranslatorService):
    def __init__(self, settings: Settings, compiled: CompiledWsdl) -> None:
        super().__init__(settings)
        self.compiled = compiled

    def load(self, ref: WsdlRef) -> CompiledWsdl:
        return self.compiled


def _read_back(
    settings: Settings, compiled: CompiledWsdl, operation: Operation, envelope: etree._Element
) -> tuple[Any, Any]:
    """The translator's JSON (body, headers) of the serialised envelope as the input message."""
    result = _Pinned(settings, compiled).translate(
        etree.tostring(envelope),
        WsdlRef(name="svc"),
        TranslateOptions(operation=operation.key, direction="input", on_mismatch="error"),
    )
    return result.data, result.headers


ORDER = {
    "PlaceOrder": {
        "item": [
            {"@currency": "EUR", "sku": "A-1", "qty": 2, "note": None},
            {"@xsi:type": "GiftItem", "sku": "B-2", "qty": 1, "message": "Happy birthday"},
        ],
        "phone": "+41 00 000",
        "limit": {"@currency": "CHF", "#text": Decimal("100.50")},
        "kind": "{urn:kinds}express",
        "tags": [1, 2, 3],
    }
}


def test_document_literal_round_trip(tmp_path: Path, settings: Settings) -> None:
    compiled = _compiled(tmp_path, DOCUMENT_WSDL)
    operation = _operation(compiled, "Shop11/PlaceOrder")
    envelope = RequestSerializer(compiled).envelope(
        operation, ORDER, headers={"Session": {"token": "t-1"}}
    )
    assert envelope.tag == f"{{{ENV11}}}Envelope"
    order = envelope.find(f"{{{ENV11}}}Body/{{{TNS}}}PlaceOrder")
    assert order is not None
    # Children in the order the content model declares, not the JSON's key order.
    assert [etree.QName(c).localname for c in order] == [
        "item", "item", "phone", "limit", "kind", "tags",
    ]  # fmt: skip
    first, gift = order.findall(f"{{{TNS}}}item")
    assert first.get("currency") == "EUR"
    assert first.find(f"{{{TNS}}}note").get(f"{{{XSI}}}nil") == "true"
    assert gift.get(f"{{{XSI}}}type", "").endswith(":GiftItem")
    kind = order.find(f"{{{TNS}}}kind")
    assert kind is not None
    assert kind.text is not None
    prefix, _, local = kind.text.partition(":")
    assert (kind.nsmap[prefix], local) == ("urn:kinds", "express")
    body, headers = _read_back(settings, compiled, operation, envelope)
    assert body == ORDER
    assert headers == {"Session": {"token": "t-1"}}


def test_soap12_envelope(tmp_path: Path, settings: Settings) -> None:
    compiled = _compiled(tmp_path, DOCUMENT_WSDL)
    operation = _operation(compiled, "Shop12/PlaceOrder")
    data = {"PlaceOrder": {"item": [{"sku": "A", "qty": 1}], "email": "a@b.c"}}
    envelope = RequestSerializer(compiled).envelope(operation, data, soap_version="1.2")
    assert envelope.tag == f"{{{ENV12}}}Envelope"
    assert envelope.find(f"{{{ENV12}}}Header") is None
    assert _read_back(settings, compiled, operation, envelope)[0] == data


def test_rpc_encoded_arrays_and_rpc_literal(tmp_path: Path, settings: Settings) -> None:
    compiled = _compiled(tmp_path, RPC_WSDL)
    serializer = RequestSerializer(compiled)
    data = {"Sum": {"values": [1, 2, None], "label": "x"}}
    operation = _operation(compiled, "CalcBinding/Sum")
    envelope = serializer.envelope(operation, data)
    wrapper = envelope.find(f"{{{ENV11}}}Body/{{urn:calc}}Sum")
    assert wrapper is not None
    assert wrapper.get(f"{{{ENV11}}}encodingStyle") == ENC
    values = wrapper.find("values")  # rpc parts are unqualified
    assert values is not None
    assert values.get(f"{{{ENC}}}arrayType", "").endswith(":int[3]")
    assert [c.text for c in values] == ["1", "2", None]
    assert values[0].get(f"{{{XSI}}}type", "").endswith(":int")
    assert values[2].get(f"{{{XSI}}}nil") == "true"
    assert _read_back(settings, compiled, operation, envelope)[0] == data
    literal = _operation(compiled, "CalcBinding/SumLiteral")
    plain = {"SumLiteral": {"values": [4], "label": "y"}}
    envelope = serializer.envelope(literal, plain)
    wrapper = envelope.find(f"{{{ENV11}}}Body/{{urn:calc}}SumLiteral")
    assert wrapper is not None
    assert wrapper.get(f"{{{ENV11}}}encodingStyle") is None
    assert _read_back(settings, compiled, literal, envelope)[0] == plain


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"PlaceOrder": {"item": [{"@xsi:type": "Nope", "sku": "A", "qty": 1}]}}, "/PlaceOrder/item/0/@xsi:type"),  # noqa: E501
        ({"PlaceOrder": {"item": [{"sku": "A", "qty": 1, "colour": "red"}]}}, "/PlaceOrder/item/0/colour"),  # noqa: E501
        ({"PlaceOrder": {"item": "A-1"}}, "/PlaceOrder/item"),
        ({"PlaceOrder": {"item": [{"sku": "A\x00", "qty": 1}]}}, "/PlaceOrder/item/0/sku"),
        ({"PlaceOrder": {"item": [{"@currency": "\x01", "sku": "A", "qty": 1}]}}, "/PlaceOrder/item/0"),  # noqa: E501
        ({"Other": {}}, "/Other"),
    ],
)  # fmt: skip
def test_what_the_schema_cannot_carry_is_refused_with_its_path(
    tmp_path: Path, data: dict[str, Any], path: str
) -> None:
    compiled = _compiled(tmp_path, DOCUMENT_WSDL)
    operation = _operation(compiled, "Shop11/PlaceOrder")
    with pytest.raises(RequestInvalidError) as caught:
        RequestSerializer(compiled).envelope(operation, data)
    assert caught.value.errors[0]["path"] == path
    assert path in caught.value.detail
