"""Schema-less conversion, SOAP faults, MTOM/XOP, JSON output, and the validation gate."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from rag.errors import MalformedXmlError, PayloadTooLargeError, SoapFaultError
from translators.convert.jsonout import dumps, plain
from translators.convert.schemaless import SCHEMALESS_SCHEMA
from translators.schema.gate import SchemaGate
from translators.service import TranslateOptions, TranslatorService, WsdlRef

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def test_schemaless_convention(service: TranslatorService) -> None:
    xml = (
        b'<r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xmlns:xsd="http://www.w3.org/2001/XMLSchema" id="7">'
        b"<item>1</item><item>2</item><a:x>one</a:x><b:x>two</b:x><empty/>"
        b'<nil xsi:nil="true"/><n xsi:type="xsd:int">42</n><mixed k="v">text <i>it</i></mixed>'
        b"<keep>  spaced  </keep></r>"
    )
    result = service.translate(xml)
    assert result.mode == "schemaless"
    assert result.data == {
        "r": {
            "@id": "7",
            "item": ["1", "2"],
            "x": "one",
            "b:x": "two",
            "empty": "",
            "nil": None,
            "n": 42,
            "mixed": {"@k": "v", "#text": "text ", "i": "it"},
            "keep": "  spaced  ",
        }
    }
    # "id" is data here: only the id of an element some href points at is encoding machinery
    Draft202012Validator(SCHEMALESS_SCHEMA).validate(result.data)
    always = service.translate(b"<r><a>1</a></r>", options=TranslateOptions(arrays="always"))
    assert always.data == {"r": {"a": ["1"]}}


def test_soap11_fault_with_detail(service: TranslatorService) -> None:
    xml = (
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><s:Fault><faultcode>s:Server.x</faultcode>'
        "<faultstring>boom</faultstring><faultactor>urn:me</faultactor>"
        '<detail><e:err xmlns:e="urn:e"><e:code>9</e:code></e:err><e:err xmlns:e="urn:e">'
        "<e:code>8</e:code></e:err></detail></s:Fault></s:Body></s:Envelope>"
    ).encode()
    with pytest.raises(SoapFaultError) as info:
        service.translate(xml)
    fault = info.value
    assert (fault.fault_code, fault.reason, fault.actor, fault.soap_version) == (
        "s:Server.x",
        "boom",
        "urn:me",
        "1.1",
    )
    assert fault.fault_detail == {"err": [{"code": "9"}, {"code": "8"}]}


def test_soap12_fault_with_subcodes_and_languages(service: TranslatorService) -> None:
    xml = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:r="urn:r"><e:Body>'
        b"<e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value>r:Bad</e:Value>"
        b"</e:Subcode></e:Code><e:Reason><e:Text xml:lang='cs'>Chyba</e:Text>"
        b"<e:Text xml:lang='en-US'>Error</e:Text></e:Reason><e:Role>urn:role</e:Role>"
        b"</e:Fault></e:Body></e:Envelope>"
    )
    with pytest.raises(SoapFaultError) as info:
        service.translate(xml)
    assert info.value.subcodes == ("r:Bad",)
    assert info.value.reason == "Error"
    assert info.value.actor == "urn:role"


def test_a_declared_fault_detail_is_typed(service: TranslatorService, constructs: WsdlRef) -> None:
    xml = (
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><s:Fault><faultcode>s:Client</faultcode>'
        '<faultstring>no</faultstring><detail><o:OrderFault xmlns:o="urn:example:orders">'
        "<o:code>404</o:code></o:OrderFault></detail></s:Fault></s:Body></s:Envelope>"
    ).encode()
    with pytest.raises(SoapFaultError) as info:
        service.translate(xml, constructs)
    assert info.value.fault_detail == {"OrderFault": {"code": 404}}


def _mtom(root: bytes, attachment: bytes, *, boundary: str = "MIME_b") -> bytes:
    return (
        f'--{boundary}\r\nContent-Type: application/xop+xml; type="text/xml"\r\n'
        f"Content-ID: <root>\r\n\r\n".encode()
        + root
        + f"\r\n--{boundary}\r\nContent-Type: image/png\r\nContent-ID: <img%1@x>\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\n".encode()
        + attachment
        + f"\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-ID: <extra>\r\n\r\nhi"
        f"\r\n--{boundary}--\r\n".encode()
    )


def test_mtom_attachments_are_inlined_as_base64(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    order = (fixtures / "order_response.xml").read_bytes()
    root = order.replace(
        b"<o:blob>aGVs\n          bG8=</o:blob>",
        b'<o:blob><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" '
        b'href="cid:img%251@x"/></o:blob>',
    )
    assert root != order
    body = _mtom(root, b"\x89PNG\r\n")
    result = service.translate(
        body,
        constructs,
        TranslateOptions(content_type='multipart/related; boundary="MIME_b"; start="<root>"'),
    )
    assert result.data["GetOrderResponse"]["order"]["blob"] == "iVBORw0K"
    assert [a["content_id"] for a in result.attachments] == ["extra", "img%1@x"]
    assert result.attachments[1]["content_type"] == "image/png"
    assert result.attachments[1]["included_at"].endswith("o:blob")
    assert result.attachments[0]["base64"] == "aGk="
    sniffed = service.translate(body, constructs)  # boundary read from the first line
    assert sniffed.data == result.data


def test_bad_multipart_is_malformed(service: TranslatorService) -> None:
    with pytest.raises(MalformedXmlError):
        service.translate(
            b"--b\r\nno header block",
            options=TranslateOptions(content_type="multipart/related; boundary=b"),
        )
    missing = _mtom(
        b'<r><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:nope"/></r>',
        b"x",
    )
    with pytest.raises(MalformedXmlError, match="not in the message"):
        service.translate(missing)


def test_href_expansion_is_bounded(make_settings: Any) -> None:
    service = TranslatorService(make_settings(translator={"max_output_nodes": 1000}))
    refs = "".join(f'<m id="l{i}">' + f'<r href="#l{i + 1}"/>' * 10 + "</m>" for i in range(6))
    xml = (
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><x><r href="#l0"/></x>{refs}'
        '<m id="l6">z</m></s:Body></s:Envelope>'
    ).encode()
    with pytest.raises(PayloadTooLargeError, match="1000 JSON values"):
        service.translate(xml)


def test_circular_hrefs_are_refused(service: TranslatorService) -> None:
    xml = (
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><x href="#a"/><y id="a"><z href="#a"/></y>'
        "</s:Body></s:Envelope>"
    )
    with pytest.raises(Exception, match="circular"):
        service.translate(xml.encode())


def test_json_output_is_exact_and_stable() -> None:
    value = {
        "d": Decimal("0.0000001"),
        "e": Decimal("-12.50"),
        "s": '\u00e9"',
        "n": None,
        "l": [1, 2.5, True],
    }
    assert dumps(value) == '{"d":0.0000001,"e":-12.50,"s":"é\\"","n":null,"l":[1,2.5,true]}'
    assert json.loads(dumps(value, pretty=True)) == json.loads(dumps(value))
    assert plain(
        {"a": Decimal("1.50"), "b": Decimal("3"), "c": Decimal("0.1000000000000000000001")}
    ) == {"a": 1.5, "b": 3, "c": "0.1000000000000000000001"}
    with pytest.raises(ValueError, match="non-finite"):
        dumps(Decimal("NaN"))


def _mutations(value: Any) -> list[Any]:
    """Small wrong turns: drop a key, change a type, add a key, nest a null."""
    out: list[Any] = []
    if isinstance(value, dict):
        for key in value:
            dropped = {k: v for k, v in value.items() if k != key}
            out.append(dropped)
            for inner in _mutations(value[key])[:4]:
                out.append({**value, key: inner})
        out.append({**value, "unexpected": 1})
    elif isinstance(value, list):
        out.append([])
        if value:
            out += [[inner, *value[1:]] for inner in _mutations(value[0])[:4]]
    elif isinstance(value, str):
        out += [123, "", None]
    elif isinstance(value, bool):
        out += ["true"]
    elif isinstance(value, int | Decimal | float):
        out += ["1", -(10**30), Decimal("0.5")]
    return out


def test_the_fast_gate_agrees_with_the_reference_validator(
    service: TranslatorService, constructs: WsdlRef, fixtures: Path
) -> None:
    for name, operation in (
        ("order_response.xml", "GetOrder"),
        ("listnames_response.xml", "ListNames"),
    ):
        result = service.translate((fixtures / name).read_bytes(), constructs)
        gate = SchemaGate(service.schema(constructs, operation, "output"))
        candidates = [result.data, *_mutations(copy.deepcopy(result.data))]
        for deeper in _mutations(result.data)[:10]:
            candidates += _mutations(deeper)[:10]
        for candidate in candidates:
            assert gate.is_valid(candidate) == gate.reference.is_valid(candidate), candidate
