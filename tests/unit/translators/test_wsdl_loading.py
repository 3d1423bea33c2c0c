"""Loading WSDLs: where documents may come from, leniency with findings, WSDL 2.0, zeep."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from rag.errors import WsdlError, XmlRejectedError
from translators.service import TranslatorService, WsdlRef
from translators.wsdl.loader import load_wsdl
from translators.wsdl.resolver import DocumentResolver, ResolveRefused

XS = "http://www.w3.org/2001/XMLSchema"


def wsdl11(types: str, *, extra_ns: str = "") -> bytes:
    return f"""<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:xs="{XS}"
      xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:t="urn:t" {extra_ns}
      targetNamespace="urn:t">
      <types>{types}</types>
      <message name="In"><part name="p" element="t:Req"/></message>
      <message name="Out"><part name="p" element="t:Res"/></message>
      <portType name="P"><operation name="Op"><input message="t:In"/><output message="t:Out"/>
      </operation></portType>
      <binding name="B" type="t:P"><soap:binding style="document"
        transport="http://schemas.xmlsoap.org/soap/http"/>
        <operation name="Op"><input><soap:body use="literal"/></input>
        <output><soap:body use="literal"/></output></operation></binding>
    </definitions>""".encode()


def test_uploads_never_reach_the_file_system(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xsd"
    secret.write_text(f'<xs:schema xmlns:xs="{XS}" targetNamespace="urn:s"/>')
    types = (
        '<xs:schema targetNamespace="urn:t">'
        f'<xs:import namespace="urn:s" schemaLocation="{secret}"/></xs:schema>'
    )
    resolver = DocumentResolver(uploads={"main.wsdl": wsdl11(types)})
    loaded = load_wsdl("main.wsdl", resolver)
    assert any("not among the uploaded documents" in p.detail for p in loaded.problems)
    with pytest.raises(ResolveRefused):
        resolver.fetch(str(secret))


def test_local_roots_and_remote_allowlist(tmp_path: Path) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    (tmp_path / "out.xsd").write_text("<x/>")
    resolver = DocumentResolver(local_roots=(inside,))
    with pytest.raises(ResolveRefused, match="outside the allowed folders"):
        resolver.fetch("../out.xsd", str(inside / "a.wsdl"))
    with pytest.raises(ResolveRefused, match="not on the allowlist"):
        resolver.fetch("http://schemas.example.invalid/x.xsd")
    calls: list[str] = []

    def fetcher(url: str, *, timeout_s: float, max_bytes: int) -> bytes:
        calls.append(url)
        return b"<r/>"

    allowed = DocumentResolver(
        allowlist=("https://ok.example/",), http=fetcher, cache_dir=tmp_path / "c"
    )
    assert allowed.fetch("https://ok.example/a.xsd").data == b"<r/>"
    assert allowed.fetch("https://ok.example/a.xsd").data == b"<r/>"  # from the disk cache
    assert calls == ["https://ok.example/a.xsd"]


def test_well_known_schemas_are_bundled() -> None:
    resolver = DocumentResolver(local_roots=())
    fetched = resolver.fetch("http://schemas.xmlsoap.org/soap/encoding/")
    assert fetched.location == "bundled:soap11-encoding.xsd"
    assert b"arrayType" in fetched.data
    assert resolver.fetch("https://www.w3.org/2001/xml.xsd").location == "bundled:xml.xsd"
    found = resolver.fetch_namespace("http://www.w3.org/2003/05/soap-envelope")
    assert found is not None


def test_sloppy_imports_are_findings_not_failures(tmp_path: Path) -> None:
    (tmp_path / "common.xsd").write_text(
        f'<xs:schema xmlns:xs="{XS}" targetNamespace="urn:common"><xs:simpleType name="Code">'
        '<xs:restriction base="xs:string"/></xs:simpleType></xs:schema>'
    )
    types = """<xs:schema targetNamespace="urn:t" xmlns:c="urn:common" xmlns:m="urn:missing"
        elementFormDefault="qualified">
      <xs:import namespace="common.xsd" schemaLocation="common.xsd"/>
      <xs:import namespace="urn:missing" schemaLocation="missing.xsd"/>
      <xs:element name="Req"><xs:complexType><xs:sequence>
        <xs:element name="code" type="c:Code"/><xs:element name="other" type="m:Gone"/>
      </xs:sequence></xs:complexType></xs:element>
      <xs:element name="Res" type="xs:string"/>
    </xs:schema>"""
    (tmp_path / "s.wsdl").write_bytes(wsdl11(types))
    service = TranslatorService_for(tmp_path)
    compiled = service.load(WsdlRef(path=tmp_path / "s.wsdl"))
    schema = compiled.message(compiled.operation("Op"), "input").schema
    findings = {(p.severity, p.construct) for p in compiled.loaded.problems}
    assert ("warning", "xs:import") in findings  # the namespace mismatch, and the missing file
    assert ("error", "type reference") in findings  # m:Gone: that part accepts anything
    req = schema["$defs"]["Req"]["properties"]
    assert req["code"]["type"] == "string"
    assert req["other"] == {}


def TranslatorService_for(tmp_path: Path) -> TranslatorService:  # noqa: N802 - a small factory
    from rag.settings import Settings

    return TranslatorService(Settings(_env_file=None, data_dir=tmp_path / "data"))  # type: ignore[call-arg]


def test_wsdl20_and_unqualified_wsdl11(tmp_path: Path) -> None:
    wsdl20 = f"""<description xmlns="http://www.w3.org/ns/wsdl" xmlns:t="urn:t" xmlns:xs="{XS}"
        xmlns:wsoap="http://www.w3.org/ns/wsdl/soap" targetNamespace="urn:t">
      <types><xs:schema targetNamespace="urn:t"><xs:element name="hi" type="xs:int"/>
        <xs:element name="ho" type="xs:string"/></xs:schema></types>
      <interface name="I"><operation name="Hi" pattern="http://www.w3.org/ns/wsdl/in-out">
        <input element="t:hi"/><output element="t:ho"/></operation></interface>
      <binding name="B" interface="t:I" type="http://www.w3.org/ns/wsdl/soap" wsoap:version="1.2"/>
    </description>"""
    (tmp_path / "w20.wsdl").write_text(wsdl20)
    service = TranslatorService_for(tmp_path)
    result = service.translate(
        b'<t:hi xmlns:t="urn:t">5</t:hi>', WsdlRef(path=tmp_path / "w20.wsdl")
    )
    assert (result.operation, result.data) == ("Hi", {"hi": 5})
    plain = wsdl11(
        '<xs:schema targetNamespace="urn:t"><xs:element name="Req" type="xs:int"/>'
        '<xs:element name="Res" type="xs:int"/></xs:schema>'
    ).replace(b'xmlns="http://schemas.xmlsoap.org/wsdl/"', b"")
    (tmp_path / "plain.wsdl").write_bytes(plain)
    loaded = service.load(WsdlRef(path=tmp_path / "plain.wsdl")).loaded
    assert [op.name for op in loaded.description.operations] == ["Op"]
    assert any("no namespace" in p.detail for p in loaded.problems)


def test_hostile_wsdl_and_non_wsdl_roots(tmp_path: Path) -> None:
    (tmp_path / "x.wsdl").write_text(
        '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>'
    )
    with pytest.raises(XmlRejectedError):
        load_wsdl(str(tmp_path / "x.wsdl"), DocumentResolver(local_roots=(tmp_path,)))
    (tmp_path / "y.wsdl").write_text("<html/>")
    with pytest.raises(WsdlError, match="root element"):
        load_wsdl(str(tmp_path / "y.wsdl"), DocumentResolver(local_roots=(tmp_path,)))


def test_zeep_loads_through_the_resolving_transport(fixtures: Path) -> None:
    """Offline: unit tests block the network, so the SOAP-encoding import is local."""
    from translators.wsdl.zeep_support import zeep_client

    client: Any = zeep_client(fixtures / "constructs.wsdl")  # imports the SOAP-encoding schema
    operation = next(iter(client.wsdl.bindings.values())).get("GetOrder")
    assert operation is not None
    from zeep.exceptions import DTDForbidden
    from zeep.loader import parse_xml

    hostile: Any = b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'
    with pytest.raises(DTDForbidden):
        parse_xml(hostile, client.transport)


def test_confinement_comes_before_existence(tmp_path: Path) -> None:
    """Outside the roots, an existing file and a missing one get the same refusal; a symlink
    out of the folder is outside too; a remote document names no local file."""
    inside = tmp_path / "in"
    inside.mkdir()
    (tmp_path / "out.xsd").write_text("<x/>")
    (inside / "link.xsd").symlink_to(tmp_path / "out.xsd")
    resolver = DocumentResolver.beside(inside / "a.wsdl")
    base = str(inside / "a.wsdl")
    reasons = set()
    for target in ("../out.xsd", "../missing.xsd", str(tmp_path / "out.xsd"),
                   f"file://{tmp_path / 'missing.xsd'}", "link.xsd"):  # fmt: skip
        with pytest.raises(ResolveRefused) as info:
            resolver.fetch(target, base)
        reasons.add(info.value.reason)
    assert reasons == {"outside the allowed folders"}
    with pytest.raises(ResolveRefused, match="file not found"):
        resolver.fetch("missing.xsd", base)  # inside the folder: saying so tells nothing new
    remote = DocumentResolver(allowlist=("https://ok.example/",), local_roots=(tmp_path,))
    with pytest.raises(ResolveRefused, match="remote document may not name a local file"):
        remote.fetch(f"file://{tmp_path / 'out.xsd'}", "https://ok.example/a.wsdl")
    # An absolute path in a remote document is a path on that host.
    assert (
        remote.absolute("/x/out.xsd", "https://ok.example/a.wsdl") == "https://ok.example/x/out.xsd"
    )
    with pytest.raises(ValueError, match="any file"):
        DocumentResolver(local_roots=None)  # type: ignore[arg-type]


def test_bundled_schemas_by_file_path_need_no_roots() -> None:
    from importlib import resources

    path = resources.files("translators.wsdl.bundled") / "xml.xsd"
    fetched = DocumentResolver(local_roots=()).fetch(str(path))
    assert fetched.location == "bundled:xml.xsd"


def test_a_port_with_a_broken_binding_reference_binds_leniently(
    tmp_path: Path, fixtures: Path
) -> None:
    """The WSDL 1.1 spec's StockQuote example: its port names tns:StockQuoteBinding, the
    binding is StockQuoteSoapBinding. The one SOAP binding stands in, with a finding; so it
    does for zeep. Two candidates are not guessed between."""
    from translators.wsdl.zeep_support import zeep_client

    wsdl = fixtures / "stockquote_spec.wsdl"
    loaded = load_wsdl(str(wsdl), DocumentResolver.beside(wsdl))
    port = loaded.description.ports[0]
    assert (port.name, port.binding, port.soap_version) == (
        "StockQuotePort",
        "StockQuoteSoapBinding",
        "1.1",
    )
    finding = next(p for p in loaded.problems if p.construct == "wsdl:port")
    assert finding.severity == "warning"
    assert "'tns:StockQuoteBinding', which is not defined; bound to StockQuoteSoapBinding" in (
        finding.detail
    )
    with warnings.catch_warnings():  # zeep reads no 2000/10 XSD types and warns about it
        warnings.simplefilter("ignore", UserWarning)
        client: Any = zeep_client(wsdl)
    assert list(client.wsdl.services["StockQuoteService"].ports) == ["StockQuotePort"]

    text = wsdl.read_text().replace(
        "</definitions>",
        '<binding name="Second" type="tns:StockQuotePortType"><soap:binding style="rpc" '
        'transport="http://schemas.xmlsoap.org/soap/http"/></binding></definitions>',
    )
    (tmp_path / "two.wsdl").write_text(text)
    two = load_wsdl(str(tmp_path / "two.wsdl"), DocumentResolver(local_roots=(tmp_path,)))
    assert two.description.ports[0].binding is None
    error = next(p for p in two.problems if p.construct == "wsdl:port")
    assert error.severity == "error"
    assert "2 SOAP bindings could stand in for it" in error.detail
