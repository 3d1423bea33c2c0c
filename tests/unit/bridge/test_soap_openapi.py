"""Binding WSDLs from the corpus, building requests with zeep, classifying replies, OpenAPI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lxml import etree
from openapi_spec_validator import validate as validate_openapi

from rag.errors import (
    NotFoundError,
    RequestInvalidError,
    SoapClientFaultError,
    SoapFaultError,
    UpstreamInvalidError,
)
from rag.settings import Settings
from tests.conftest import REPO_ROOT, SettingsFactory
from translators.bridge import Bridge, ServiceSpec
from translators.bridge.openapi import example_for, openapi_document
from translators.bridge.soap import LoadedService
from translators.bridge.upstream import UpstreamReply

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "bridge"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture
def bridge(make_settings: SettingsFactory) -> Bridge:
    settings: Settings = make_settings()
    return Bridge(settings)


def _load(bridge: Bridge, wsdl: str, **fields: object) -> LoadedService:
    spec = ServiceSpec.model_validate({"name": "svc", "wsdl": str(FIXTURES / wsdl), **fields})
    loaded = bridge.load_sync(spec)
    bridge.translator.pinned[loaded.compiled.name] = loaded.compiled
    return loaded


def test_binds_the_first_soap11_port_and_the_endpoint_override(bridge: Bridge) -> None:
    loaded = _load(bridge, "calculator.wsdl", endpoint="http://127.0.0.1:1/calc")
    assert (loaded.port_name, loaded.soap_version) == ("CalculatorSoap", "1.1")
    assert sorted(loaded.operations) == ["Add", "Divide", "Multiply", "Subtract"]
    assert loaded.operations["Add"].address == "http://127.0.0.1:1/calc"
    soap12 = _load(bridge, "calculator.wsdl", port="CalculatorSoap12")
    assert soap12.soap_version == "1.2"
    assert soap12.address == "http://www.dneonline.com/calculator.asmx"  # the WSDL's own


def test_unknown_idempotent_operations_are_refused(bridge: Bridge) -> None:
    with pytest.raises(Exception, match="Nope"):
        _load(bridge, "calculator.wsdl", idempotent=["Add", "Nope"])


def test_request_envelope_and_headers(bridge: Bridge) -> None:
    loaded = _load(
        bridge,
        "calculator.wsdl",
        auth={"kind": "basic", "username": "alice", "password": "wonderland"},
    )
    request = loaded.build(loaded.operation("Add"), {"Add": {"intA": 1, "intB": -2}})
    root = etree.fromstring(request.body)
    add = root.find(f"{{{ENV}}}Body/{{http://tempuri.org/}}Add")
    assert add is not None
    assert [(c.tag, c.text) for c in add] == [("intA", "1"), ("intB", "-2")]  # unqualified
    assert request.headers["SOAPAction"] == '"http://tempuri.org/Add"'
    assert request.headers["Content-Type"].startswith("text/xml")
    assert request.headers["Authorization"] == "Basic YWxpY2U6d29uZGVybGFuZA=="


def test_soap12_and_ws_security_headers(bridge: Bridge) -> None:
    loaded = _load(
        bridge,
        "calculator.wsdl",
        port="CalculatorSoap12",
        auth={"kind": "wsse", "username": "alice", "password": "wonderland"},
    )
    request = loaded.build(loaded.operation("Add"), {"Add": {"intA": 1, "intB": 2}})
    assert request.headers["Content-Type"].startswith("application/soap+xml")
    text = request.body.decode()
    assert "UsernameToken" in text
    assert "wonderland" in text  # PasswordText, as configured
    assert "Authorization" not in request.headers


def test_decimal_digits_reach_the_envelope(bridge: Bridge) -> None:
    from decimal import Decimal

    loaded = _load(bridge, "number_conversion.wsdl")
    bound = loaded.operation("NumberToDollars")
    request = loaded.build(bound, {"NumberToDollars": {"dNum": Decimal("0.10")}})
    assert b"<dNum>0.10</dNum>" in request.body


def test_validation_names_each_failing_field(bridge: Bridge) -> None:
    loaded = _load(bridge, "calculator.wsdl")
    bound = loaded.operation("Add")
    with pytest.raises(RequestInvalidError) as caught:
        loaded.validate(bound, {"Add": {"intA": "x", "extra": 1}})
    paths = [e["path"] for e in caught.value.errors]
    assert "/Add/intA" in paths
    assert "/Add/intB" in paths
    with pytest.raises(NotFoundError, match="it has: Add, Divide"):
        loaded.operation("Modulo")


def _reply(status: int, body: str, content_type: str = "text/xml") -> UpstreamReply:
    return UpstreamReply(status, content_type, body.encode(), 1, 0.01)


def _envelope(inner: str) -> str:
    return f'<e:Envelope xmlns:e="{ENV}"><e:Body>{inner}</e:Body></e:Envelope>'


def _fault(code: str) -> str:
    return _envelope(
        f"<e:Fault><faultcode>e:{code}</faultcode><faultstring>no</faultstring></e:Fault>"
    )


def test_replies_faults_and_invalid_answers(bridge: Bridge) -> None:
    loaded = _load(bridge, "calculator.wsdl")
    bound = loaded.operation("Add")
    ok = _envelope('<t:AddResponse xmlns:t="http://tempuri.org/"><AddResult>3</AddResult>'
                   "</t:AddResponse>")  # fmt: skip
    response = bridge._translate(loaded, bound, _reply(200, ok))
    assert response.body == b'{"AddResponse":{"AddResult":3}}'
    with pytest.raises(SoapClientFaultError):
        bridge._translate(loaded, bound, _reply(500, _fault("Client.Bad")))
    with pytest.raises(SoapClientFaultError):
        bridge._translate(loaded, bound, _reply(500, _fault("Sender")))
    with pytest.raises(SoapFaultError) as server:
        bridge._translate(loaded, bound, _reply(500, _fault("Server")))
    assert not isinstance(server.value, SoapClientFaultError)
    wrong = _envelope('<t:SubtractResponse xmlns:t="http://tempuri.org/">'
                      "<SubtractResult>1</SubtractResult></t:SubtractResponse>")  # fmt: skip
    for reply in (
        _reply(200, wrong),  # another operation's reply
        _reply(200, "<html>", "text/html"),
        _reply(200, "<unclosed>"),
        _reply(404, "not here", "text/plain"),
        _reply(500, ok),  # HTTP error without a fault
        _reply(200, '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'),
    ):
        with pytest.raises(UpstreamInvalidError):
            bridge._translate(loaded, bound, reply)


@pytest.mark.parametrize("wsdl", ["calculator.wsdl", "number_conversion.wsdl", "temp_convert.wsdl"])
def test_openapi_documents_are_valid_and_examples_fit(bridge: Bridge, wsdl: str) -> None:
    loaded = _load(bridge, wsdl, idempotent=[])
    document = openapi_document(loaded)
    validate_openapi(document)
    for name, bound in loaded.operations.items():
        example = example_for(bound.input.schema)
        assert bound.input.validator.is_valid(example), (name, example)
        request = loaded.build(bound, example)  # zeep can serialise what the docs suggest
        assert request.body.startswith(b"<?xml")


def test_target_schema_replaces_the_output_schema(bridge: Bridge) -> None:
    target = {"type": "object", "properties": {"sum": {"type": "integer"}}}
    loaded = _load(bridge, "calculator.wsdl", target_schemas={"Add": target})
    document = openapi_document(loaded)
    assert document["components"]["schemas"]["AddOutput"] == target


def test_bridge_starts_and_closes_pools(bridge: Bridge, tmp_path: Path) -> None:
    bridge.registry.put(ServiceSpec(name="svc", wsdl=str(FIXTURES / "calculator.wsdl")))

    async def run() -> None:
        await bridge.start()
        assert list(bridge._upstreams) == ["svc"]
        await bridge.aclose()
        assert bridge._upstreams == {}

    asyncio.run(run())
