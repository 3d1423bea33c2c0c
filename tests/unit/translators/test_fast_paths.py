"""Every fast path of the translator gives what its general path gives: the same data,
schema ids, warnings, deviations and errors, on messages that fit, deviate, fail, and on
envelopes of every layout (see ``slow_paths``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from tests.conftest import SettingsFactory
from tests.unit.translators.slow_paths import outcome, reference_envelope, slow_paths
from tests.unit.translators.test_deviations import ENV, WSDL, reply
from translators.convert.envelope import open_envelope
from translators.convert.mtom import is_multipart
from translators.result import Translation
from translators.schema.gate import SchemaGate
from translators.service import TranslateOptions, TranslatorService, WsdlRef
from translators.xml.parser import parse_xml

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"


def envelope(inner: str, head: str = "", after: str = "") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:e="{ENC}" xmlns:t="urn:t" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"{head}<s:Body>{inner}</s:Body>{after}</s:Envelope>"
    ).encode()


ENVELOPES = [
    envelope("<t:GetResponse><t:name>a</t:name></t:GetResponse>"),
    envelope(
        "<t:GetResponse><t:name>a</t:name></t:GetResponse>", "<s:Header><t:h>1</t:h></s:Header>"
    ),
    envelope(
        "<t:GetResponse><t:name>a</t:name></t:GetResponse>", after="<s:Header><t:h/></s:Header>"
    ),
    envelope("<t:x/>", after="<s:Body><t:GetResponse><t:name>b</t:name></t:GetResponse></s:Body>"),
    envelope("<t:GetResponse id='r'><t:name>a</t:name></t:GetResponse>"),
    envelope("<t:GetResponse id='r'><t:name>a</t:name></t:GetResponse><t:y href='#r'/>"),
    envelope("<t:GetResponse e:root='0'><t:name>a</t:name></t:GetResponse>"),
    envelope("<t:GetResponse e:root='1'><t:name>a</t:name></t:GetResponse>"),
    envelope("<t:GetResponse><t:name href='#n'/></t:GetResponse><t:n id='n'>v</t:n>"),
    envelope("<s:Fault><faultcode>s:Server</faultcode><faultstring>no</faultstring></s:Fault>"),
    envelope("<t:GetResponse><t:name>a</t:name></t:GetResponse><s:Fault/>"),
    envelope(""),
    envelope("<!-- only a comment -->"),
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/></s:Envelope>',
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/2"><s:Body/></s:Envelope>',
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><t:Get xmlns:t="urn:t">'
    b"<t:q>x</t:q></t:Get></s:Body></s:Envelope>",
    b'<t:GetResponse xmlns:t="urn:t"><t:name>bare</t:name></t:GetResponse>',
]

MESSAGES = [
    *ENVELOPES,
    reply("<t:name>a</t:name><t:item>1</t:item><t:item>2</t:item>"),
    reply("<t:name>a</t:name>", ' id="7"'),
    reply('<t:name xsi:nil="true"/>'),
    reply('<t:name xsi:type="xsi:string">a</t:name><t:flag xsi:nil="false">1</t:flag>'),
    reply("<t:name>a</t:name><t:code>abcd</t:code><t:count>11</t:count>"),
    reply("<t:name>a</t:name><t:flag>maybe</t:flag>"),
    reply("<t:name>a</t:name>", ' other="x"'),
    reply("<t:name>a</t:name><t:extra>z</t:extra>"),
    reply("<t:name>a</t:name><t:name>b</t:name>"),
    reply("<t:code>ABC</t:code>"),
    reply("<t:name>a</t:name><t:item>x</t:item>"),
    reply("<name>unqualified</name>"),
    reply("text<t:name>a</t:name>"),
    ENV.format("<t:Echo><text>hi</text></t:Echo>").encode(),
    ENV.format("<t:EchoResponse><echoed>hi</echoed></t:EchoResponse>").encode(),
    ENV.format("<t:Whatever><echoed>hi</echoed></t:Whatever>").encode(),
    ENV.format("<t:Get><t:q>x</t:q></t:Get>").encode(),
    ENV.format("<t:Get><t:q>x</t:q><t:q>y</t:q></t:Get>").encode(),
    ENV.format("<t:Nothing/>").encode(),
]

OPTIONS = [
    None,
    TranslateOptions(on_mismatch="error"),
    TranslateOptions(on_mismatch="schemaless"),
    TranslateOptions(operation="Get"),
    TranslateOptions(operation="B/Get", direction="input"),
    TranslateOptions(operation="Echo", direction="output"),
]


def _run_all(service: TranslatorService, wsdl: WsdlRef) -> list[Any]:
    results: list[Any] = []
    for _ in range(2):  # the second round meets every cache the first one filled
        for xml in MESSAGES:
            results.append(outcome(lambda xml=xml: service.translate(xml)))
            for options in OPTIONS:
                results.append(outcome(lambda xml=xml, o=options: service.translate(xml, wsdl, o)))
    return results


def test_fast_paths_translate_exactly_as_the_general_ones(
    make_settings: SettingsFactory, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dev.wsdl"
    path.write_text(WSDL, encoding="utf-8")
    wsdl = WsdlRef(path=path)
    fast = _run_all(TranslatorService(make_settings(data_dir=tmp_path / "fast")), wsdl)
    with slow_paths(monkeypatch):
        slow = _run_all(TranslatorService(make_settings(data_dir=tmp_path / "slow")), wsdl)
    assert len(fast) == len(slow)
    for index, (a, b) in enumerate(zip(fast, slow, strict=True)):
        assert a == b, index
    # The set exercises what the shortcuts skip: deviations, errors, faults and fallbacks.
    flat = repr(fast)
    for needle in ("'deviations'", "MessageMismatchError", "SoapFaultError", "'schemaless'"):
        assert needle in flat, needle


@pytest.mark.parametrize("xml", ENVELOPES)
def test_open_envelope_agrees_with_the_reference(xml: bytes) -> None:
    def opened(fn: Callable[[etree._Element], Any]) -> Any:
        try:
            env = fn(parse_xml(xml))
        except Exception as exc:
            return type(exc).__name__, str(exc)
        return (
            env.soap_version,
            [e.tag for e in env.headers],
            [(e.tag, e.sourceline) for e in env.messages],
            (env.body.tag, env.body.sourceline),
            None if env.fault is None else env.fault.tag,
        )

    assert opened(open_envelope) == opened(reference_envelope)


def test_typed_result_equals_the_constructed_one() -> None:
    fields: dict[str, Any] = {
        "operation": "Get",
        "binding": "B",
        "direction": "output",
        "soap_version": "1.1",
        "headers": {"h": 1},
        "warnings": ("w",),
    }
    quick = Translation.typed({"a": 1}, "urn:x", **fields)
    built = Translation({"a": 1}, "urn:x", "typed", **fields)
    assert quick == built
    assert quick.as_dict() == built.as_dict()
    assert repr(quick) == repr(built)
    assert quick.extra == {}
    assert quick.extra is not Translation.typed(1, "x", **fields).extra


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object"},
        {"type": "object", "required": ["a"]},
        {"type": "object", "minProperties": 1},
        {"type": "array"},
    ],
)
def test_the_verdict_on_an_empty_object_is_the_validators(schema: dict[str, Any]) -> None:
    gate = SchemaGate(schema)
    for _ in range(2):
        assert gate.is_valid({}) == gate._check({})
    assert gate.is_valid({"a": 1}) == gate._check({"a": 1})


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"<r/>", False), (b"--b\r\n", True), (b" \r\n--b", True), (b"", False), (b"x", False)],
)
def test_multipart_sniffing(data: bytes, expected: bool) -> None:
    assert is_multipart(data, None) is expected


def test_widened_ids_are_the_digest_of_the_canonical_recipe() -> None:
    import hashlib
    import json

    from translators.convert.deviations import Deviation, widened_id

    deviations = [
        Deviation(("a", 0), "nil", "x", "y", admits={"type": "null"}),
        Deviation(("b",), "missing", "x", "y", optional="c"),
        Deviation(("c",), "text", "x", "y"),
        Deviation(("d",), "facet", "x", "y", admits={"type": "string", "b": 1, "a": [True]}),
    ]
    recipe = [[list(d.path), d.admits, d.optional] for d in deviations if d.admits or d.optional]
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode())
    expected = f"urn:s~widened~{digest.hexdigest()[:16]}"
    assert widened_id("urn:s", deviations) == expected
    assert widened_id("urn:s", deviations) == expected  # remembered
    assert widened_id("urn:s", deviations[:1]) != expected
