"""The bridge over real HTTP: registering a corpus WSDL, its OpenAPI document, calls, faults."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from rag.api.problems import PROBLEM_JSON
from tests.integration.bridge.conftest import BridgeService, Upstream


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:mmrag:problem:{code}"
    assert body["status"] == status
    assert body["trace_id"] == response.headers["X-Request-ID"]
    return body


def _schema_validates(document: dict[str, Any], name: str, instance: object) -> None:
    """Validate against a component schema, resolving its pointers inside the document."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    schema = {"$ref": f"urn:openapi#/components/schemas/{name}"}
    Draft202012Validator(schema, registry=registry).validate(instance)


def test_register_a_corpus_wsdl_read_its_openapi_and_call_it(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    """The README's walk-through: register temperatureConverter.wsdl (wsdl-to-postman) with
    the admin API, pointed at the loopback server, read its OpenAPI document, call it."""
    admin = bridge_service.admin()
    registered = admin.put(
        "/v1/admin/bridge/services/temperature",
        json={
            "wsdl": "temp_convert.wsdl",
            "endpoint": f"{upstream.url}/temperature",
            "tenants": ["acme"],
        },
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["operations"] == ["CelsiusToFahrenheit", "FahrenheitToCelsius"]

    with bridge_service.client() as client:
        document = client.get("/v1/bridge/temperature/openapi.json").json()
        validate_openapi(document)  # a valid OpenAPI 3.1 document
        assert document["openapi"] == "3.1.0"
        post = document["paths"]["/v1/bridge/temperature/CelsiusToFahrenheit"]["post"]
        example = post["requestBody"]["content"]["application/json"]["example"]
        _schema_validates(document, "CelsiusToFahrenheitInput", example)
        assert set(post["responses"]) >= {"200", "400", "422", "502", "504"}

        page = client.get("/v1/bridge/temperature/docs")
        assert page.status_code == 200
        assert "POST /v1/bridge/temperature/CelsiusToFahrenheit" in page.text

        reply = client.post(
            "/v1/bridge/temperature/CelsiusToFahrenheit",
            json={"CelsiusToFahrenheit": {"Celsius": "100"}},
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"CelsiusToFahrenheitResponse": {"CelsiusToFahrenheitResult": "212"}}
        _schema_validates(document, "CelsiusToFahrenheitOutput", reply.json())
        listed = client.get("/v1/bridge").json()["services"]
        entry = next(s for s in listed if s["name"] == "temperature")
        assert entry["operations"] == ["CelsiusToFahrenheit", "FahrenheitToCelsius"]
    assert admin.delete("/v1/admin/bridge/services/temperature").status_code == 204
    admin.close()
    with bridge_service.client() as client:
        _problem(client.get("/v1/bridge/temperature/openapi.json"), 404, "not-found")


def test_register_an_allowlisted_wsdl_url(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    """The spyne server publishes its own WSDL; the allowlist names the loopback server."""
    with bridge_service.admin() as admin:
        registered = admin.put(
            "/v1/admin/bridge/services/calc-remote",
            json={
                "wsdl": f"{upstream.url}/calculator?wsdl",
                "idempotent": ["Add"],
                "tenants": ["*"],
            },
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["operations"] == ["Add", "Divide", "Multiply", "Subtract"]
        with bridge_service.client() as client:
            reply = client.post("/v1/bridge/calc-remote/Add", json={"Add": {"intA": 5, "intB": 6}})
            assert reply.status_code == 200, reply.text
            assert reply.json() == {"AddResponse": {"AddResult": 11}}
        assert admin.delete("/v1/admin/bridge/services/calc-remote").status_code == 204


def test_a_target_schema_maps_the_reply(bridge_service: BridgeService, upstream: Upstream) -> None:
    """The reply is mapped to the operation's target schema (translator mappings; the test
    LLM answers nothing, so the mapping comes from name similarity and says so)."""
    target = {
        "type": "object",
        "properties": {"AddResult": {"type": "integer"}},
        "required": ["AddResult"],
        "additionalProperties": False,
    }
    with bridge_service.admin() as admin:
        registered = admin.put(
            "/v1/admin/bridge/services/calc-mapped",
            json={
                "wsdl": "calculator.wsdl",
                "endpoint": f"{upstream.url}/calculator",
                "target_schemas": {"Add": target},
                "tenants": ["acme"],
            },
        )
        assert registered.status_code == 201, registered.text
        with bridge_service.client() as client:
            document = client.get("/v1/bridge/calc-mapped/openapi.json").json()
            assert document["components"]["schemas"]["AddOutput"] == target
            reply = client.post("/v1/bridge/calc-mapped/Add", json={"Add": {"intA": 2, "intB": 5}})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"AddResult": 7}
        assert reply.headers["X-Translation-Fallback"] == "mapping_similarity"
        assert admin.delete("/v1/admin/bridge/services/calc-mapped").status_code == 204


def test_calls_return_the_translated_reply(bridge_service: BridgeService) -> None:
    with bridge_service.client() as client:
        added = client.post("/v1/bridge/calc/Add", json={"Add": {"intA": 40, "intB": 2}})
        assert added.status_code == 200, added.text
        assert added.json() == {"AddResponse": {"AddResult": 42}}
        assert added.headers["X-Translation-Schema"].endswith("CalculatorSoap/Add:output")
        # xs:decimal keeps its digits on the way to the upstream (no float rounding)
        dollars = client.post(
            "/v1/bridge/numbers/NumberToDollars", json={"NumberToDollars": {"dNum": 1234.56}}
        )
        assert dollars.status_code == 200, dollars.text
        result = dollars.json()["NumberToDollarsResponse"]["NumberToDollarsResult"]
        assert result == "one thousand two hundred thirty four dollars and fifty six cents"
        words = client.post(
            "/v1/bridge/numbers/NumberToWords", json={"NumberToWords": {"ubiNum": 2**40}}
        )
        assert words.json()["NumberToWordsResponse"]["NumberToWordsResult"].startswith(
            "one trillion ninety nine billion"
        )


def test_client_fault_is_4xx_and_server_fault_is_502_with_the_fault(
    bridge_service: BridgeService,
) -> None:
    with bridge_service.client() as client:
        client_fault = client.post(
            "/v1/bridge/calc/Divide", json={"Divide": {"intA": 1, "intB": 0}}
        )
        body = _problem(client_fault, 400, "soap-client-fault")
        assert body["fault"] == {
            "code": "soap11env:Client.DivideByZero",
            "subcodes": [],
            "reason": "intB must not be zero",
            "actor": None,
            "detail": None,
            "soap_version": "1.1",
        }
        server_fault = client.post(
            "/v1/bridge/calc/Multiply", json={"Multiply": {"intA": 200000, "intB": 300000}}
        )
        body = _problem(server_fault, 502, "soap-fault")
        fault = body["fault"]
        assert isinstance(fault, dict)
        assert fault["code"] == "soap11env:Server.Overflow"
        assert fault["detail"] == {"result": "60000000000"}
        assert body["upstream_status"] == 500


def test_schema_invalid_request_is_422_naming_the_fields_and_never_sent(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    before = upstream.count("/calculator", "Subtract")
    with bridge_service.client() as client:
        response = client.post(
            "/v1/bridge/calc/Subtract", json={"Subtract": {"intA": "seven", "intC": 2}}
        )
        body = _problem(response, 422, "request-invalid")
        paths = {e["path"] for e in body["errors"]}  # type: ignore[attr-defined]
        assert {"/Subtract/intA", "/Subtract/intB"} <= paths
        assert "/Subtract/intA" in str(body["detail"])
        too_big = client.post("/v1/bridge/calc/Add", json={"Add": {"intA": 2**31, "intB": 0}})
        _problem(too_big, 422, "request-invalid")  # xs:int's range is in the schema
        _problem(client.post("/v1/bridge/calc/Add", content=b"{nope"), 400, "bad-input")
        _problem(client.post("/v1/bridge/calc/Nope", json={}), 404, "not-found")
        _problem(client.post("/v1/bridge/nope/Add", json={}), 404, "not-found")
    assert upstream.count("/calculator", "Subtract") == before


def test_upstream_http_auth_and_ws_security(bridge_service: BridgeService) -> None:
    body = {"Add": {"intA": 1, "intB": 2}}
    with bridge_service.client() as client:
        assert client.post("/v1/bridge/calc-basic/Add", json=body).json() == {
            "AddResponse": {"AddResult": 3}
        }
        wrong = _problem(client.post("/v1/bridge/calc-basic-wrong/Add", json=body), 502,
                         "upstream-invalid")  # fmt: skip
        assert wrong["upstream_status"] == 401
        assert client.post("/v1/bridge/calc-wsse/Add", json=body).status_code == 200
        refused = client.post("/v1/bridge/calc-wsse-wrong/Add", json=body)
        assert _problem(refused, 400, "soap-client-fault")["fault"]["reason"] == (  # type: ignore[index]
            "bad UsernameToken"
        )


def test_callers_need_an_api_key_and_admins_the_admin_key(bridge_service: BridgeService) -> None:
    with httpx.Client(base_url=bridge_service.url) as anonymous:
        _problem(anonymous.post("/v1/bridge/calc/Add", json={}), 401, "unauthorized")
        _problem(anonymous.get("/v1/admin/bridge/services"), 401, "unauthorized")
    with bridge_service.client() as client:  # a tenant key is not an admin key
        _problem(client.get("/v1/admin/bridge/services"), 401, "unauthorized")
    with bridge_service.admin() as admin:
        _admin_checks(admin)


def _admin_checks(admin: httpx.Client) -> None:
    listed = admin.get("/v1/admin/bridge/services")
    assert listed.status_code == 200
    basic = next(s for s in listed.json()["services"] if s["name"] == "calc-basic")
    assert basic["auth"]["password"] == "**********"
    assert "wonderland" not in listed.text
    refused = admin.put("/v1/admin/bridge/services/evil", json={"wsdl": "/etc/passwd"})
    _problem(refused, 404, "not-found")  # outside the WSDL folder
    remote = admin.put("/v1/admin/bridge/services/evil", json={"wsdl": "http://example.com/x"})
    _problem(remote, 400, "bad-input")  # not on the allowlist
    _problem(admin.delete("/v1/admin/bridge/services/calc"), 400, "bad-input")  # config file


@pytest.mark.parametrize("path", ["/metrics"])
def test_bridge_calls_are_counted(bridge_service: BridgeService, path: str) -> None:
    with bridge_service.client() as client:
        client.post("/v1/bridge/calc/Add", json={"Add": {"intA": 1, "intB": 1}})
        text = client.get(path).text
    assert 'mmrag_bridge_calls_total{operation="Add",outcome="ok",service="calc"}' in text
    assert 'mmrag_bridge_upstream_attempts_total{outcome="ok",service="calc"}' in text
    assert 'service="no-such-service"' not in text  # unknown names never become labels


@pytest.fixture(autouse=True, scope="module")
def _unknown_service_call(bridge_service: BridgeService) -> None:
    with bridge_service.client() as client:
        assert client.post("/v1/bridge/no-such-service/Add", json={}).status_code == 404


def test_a_misspelt_port_binding_is_bound_leniently(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    """calculator_port_typo.wsdl: both ports name bindings that do not exist (as the WSDL
    1.1 spec's StockQuote example does); each binds to the one SOAP binding of its version,
    and the service is callable."""
    with bridge_service.admin() as admin:
        registered = admin.put(
            "/v1/admin/bridge/services/calc-typo",
            json={
                "wsdl": "calculator_port_typo.wsdl",
                "endpoint": f"{upstream.url}/calculator",
                "tenants": ["acme"],
            },
        )
        assert registered.status_code == 201, registered.text
        assert registered.json()["operations"] == ["Add", "Divide", "Multiply", "Subtract"]
        with bridge_service.client() as client:
            reply = client.post("/v1/bridge/calc-typo/Add", json={"Add": {"intA": 40, "intB": 2}})
            assert reply.status_code == 200, reply.text
            assert reply.json() == {"AddResponse": {"AddResult": 42}}
        assert admin.delete("/v1/admin/bridge/services/calc-typo").status_code == 204
