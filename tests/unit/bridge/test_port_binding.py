"""Which binding a registered service uses when the WSDL's ports do not say, and the
WS-Security UsernameToken the bridge builds itself."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from rag.errors import RequestInvalidError, WsdlError
from rag.settings import Settings
from tests.unit.bridge.test_serializer import DOCUMENT_WSDL, TNS
from translators.bridge import Bridge, ServiceSpec
from translators.bridge.soap import LoadedService
from translators.bridge.wsse import WSSE, WSU, username_token

ORDER = {"PlaceOrder": {"item": [{"sku": "A", "qty": 1}], "email": "a@b.c"}}


def _load(settings: Settings, tmp_path: Path, text: str, **fields: object) -> LoadedService:
    path = tmp_path / "shop.wsdl"
    path.write_text(text)
    spec = ServiceSpec.model_validate({"name": "shop", "wsdl": str(path), **fields})
    return Bridge(settings).load_sync(spec)


def test_a_port_with_a_broken_binding_reference_binds_the_soap_binding(
    settings: Settings, tmp_path: Path
) -> None:
    text = (
        DOCUMENT_WSDL.replace('binding="tns:Shop11"', 'binding="tns:Shop11Typo"')
        .replace('<port name="Shop12Port"', '<!-- <port name="Shop12Port"')
        .replace('soap12:address location="http://127.0.0.1:1/shop"/></port>', "x/></port> -->")
    )
    loaded = _load(settings, tmp_path, text)
    assert (loaded.port_name, loaded.binding_name, loaded.soap_version) == (
        "Shop11Port", "Shop11", "1.1",
    )  # fmt: skip
    assert loaded.address == "http://127.0.0.1:1/shop"  # the lone port's address
    request = loaded.build(loaded.operation("PlaceOrder"), ORDER)
    assert request.headers["SOAPAction"] == '"urn:shop#PlaceOrder"'


def test_a_wsdl_without_a_service_needs_an_endpoint(settings: Settings, tmp_path: Path) -> None:
    start = DOCUMENT_WSDL.index("<service")
    end = DOCUMENT_WSDL.index("</service>") + len("</service>")
    text = DOCUMENT_WSDL[:start] + DOCUMENT_WSDL[end:]
    with pytest.raises(WsdlError, match="no endpoint was given"):
        _load(settings, tmp_path, text)
    loaded = _load(settings, tmp_path, text, endpoint="http://127.0.0.1:2/shop")
    assert (loaded.binding_name, loaded.address) == ("Shop11", "http://127.0.0.1:2/shop")


def test_soap12_port_headers(settings: Settings, tmp_path: Path) -> None:
    loaded = _load(settings, tmp_path, DOCUMENT_WSDL, port="Shop12Port")
    request = loaded.build(loaded.operation("PlaceOrder"), ORDER)
    assert request.headers == {
        "Content-Type": 'application/soap+xml; charset=utf-8; action="urn:shop#PlaceOrder"'
    }
    root = etree.fromstring(request.body)
    assert (
        root.find(f"{{http://www.w3.org/2003/05/soap-envelope}}Body/{{{TNS}}}PlaceOrder")
        is not None
    )


def test_username_token_digest_follows_the_profile() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    security = username_token("alice", "wonderland", digest=True, now=now)
    token = security.find(f"{{{WSSE}}}UsernameToken")
    assert token is not None
    nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce") or "")
    created = token.findtext(f"{{{WSU}}}Created")
    assert created == "2026-01-02T03:04:05Z"
    expected = hashlib.sha1(nonce + created.encode() + b"wonderland", usedforsecurity=False)
    password = token.find(f"{{{WSSE}}}Password")
    assert password is not None
    assert password.text == base64.b64encode(expected.digest()).decode()
    assert password.get("Type", "").endswith("#PasswordDigest")
    assert b"wonderland" not in etree.tostring(security)


def test_declared_soap_headers_ride_under_soap_header(settings: Settings, tmp_path: Path) -> None:
    loaded = _load(settings, tmp_path, DOCUMENT_WSDL)
    bound = loaded.operation("PlaceOrder")
    data = {**ORDER, "soap:Header": {"Session": {"token": "t-1"}}}
    loaded.validate(bound, data)
    root = etree.fromstring(loaded.build(bound, data).body)
    env = "http://schemas.xmlsoap.org/soap/envelope/"
    assert root.findtext(f"{{{env}}}Header/{{{TNS}}}Session/{{{TNS}}}token") == "t-1"
    assert root.find(f"{{{env}}}Body/{{{TNS}}}PlaceOrder") is not None
    with pytest.raises(RequestInvalidError) as caught:
        loaded.validate(bound, {**ORDER, "soap:Header": {"Session": {"tok": "x"}}})
    assert caught.value.errors[0]["path"].startswith("/soap:Header/Session")
    soap12 = _load(settings, tmp_path, DOCUMENT_WSDL, port="Shop12Port")
    with pytest.raises(RequestInvalidError, match="declares no SOAP headers"):
        soap12.validate(soap12.operation("PlaceOrder"), data)


def test_openapi_documents_the_declared_headers(settings: Settings, tmp_path: Path) -> None:
    from openapi_spec_validator import validate as validate_openapi

    from translators.bridge.openapi import openapi_document

    document = openapi_document(_load(settings, tmp_path, DOCUMENT_WSDL))
    validate_openapi(document)
    schemas = document["components"]["schemas"]
    assert schemas["PlaceOrderInput"]["properties"]["soap:Header"] == {
        "$ref": "#/components/schemas/PlaceOrderHeaders"
    }
    assert "Session" in schemas["PlaceOrderHeaders"]["properties"]
