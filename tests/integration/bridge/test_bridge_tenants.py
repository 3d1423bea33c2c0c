"""Bridge services are per tenant, over real HTTP against the loopback SOAP server.

``calc-basic`` holds alice's upstream credentials and names only acme; globex must learn
nothing of it (the same 404 as a service that does not exist), and its credentials must never
be used on globex's behalf."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from tests.integration.bridge.conftest import FIXTURES, BridgeService, Upstream
from tests.integration.bridge.test_bridge_cli import _mmrag
from tests.integration.bridge.test_bridge_http import _problem

ADD = {"Add": {"intA": 20, "intB": 22}}


def _not_found(response: httpx.Response, name: str) -> str:
    """The problem's detail with the name masked: equal for hidden and missing services."""
    body = _problem(response, 404, "not-found")
    return str(body["detail"]).replace(name, "NAME")


def test_a_tenant_not_named_gets_404_for_calls_openapi_and_docs(
    bridge_service: BridgeService, upstream: Upstream
) -> None:
    before = upstream.count("/auth/calculator", "Add")
    missing = f"nothing-{uuid.uuid4().hex[:8]}"
    with bridge_service.client("globex") as globex:
        for path in ("Add", "openapi.json", "docs"):
            method = "POST" if path == "Add" else "GET"
            hidden = globex.request(method, f"/v1/bridge/calc-basic/{path}", json=ADD)
            absent = globex.request(method, f"/v1/bridge/{missing}/{path}", json=ADD)
            assert _not_found(hidden, "calc-basic") == _not_found(absent, missing), path
        # an Idempotency-Key changes nothing: no claim, no call
        keyed = globex.post("/v1/bridge/calc-basic/Add", json=ADD, headers={"Idempotency-Key": "k"})
        _not_found(keyed, "calc-basic")
        listed = {s["name"] for s in globex.get("/v1/bridge").json()["services"]}
        assert "calc-basic" not in listed
        assert "calc" in listed  # the services that name globex
    assert upstream.count("/auth/calculator", "Add") == before  # never sent for globex
    with bridge_service.client("acme") as acme:
        reply = acme.post("/v1/bridge/calc-basic/Add", json=ADD)
        assert reply.status_code == 200, reply.text
        assert acme.get("/v1/bridge/calc-basic/openapi.json").status_code == 200
        assert "calc-basic" in {s["name"] for s in acme.get("/v1/bridge").json()["services"]}
    assert upstream.count("/auth/calculator", "Add") == before + 1


def test_admins_name_the_tenants(bridge_service: BridgeService, upstream: Upstream) -> None:
    endpoint = f"{upstream.url}/calculator"
    with bridge_service.admin() as admin:
        # credentials are never opened to every tenant
        wildcard = admin.put(
            "/v1/admin/bridge/services/calc-t",
            json={
                "wsdl": "calculator.wsdl",
                "endpoint": endpoint,
                "tenants": ["*"],
                "auth": {"kind": "basic", "username": "alice", "password": "wonderland"},
            },
        )
        _problem(wildcard, 422, "request-invalid")
        # a record without tenants: the default tenant only (no keyed tenant may call it)
        unset = admin.put(
            "/v1/admin/bridge/services/calc-t",
            json={"wsdl": "calculator.wsdl", "endpoint": endpoint},
        )
        assert unset.status_code == 201, unset.text
        assert unset.json()["tenants"] == ["default"]
        assert unset.json()["tenants_unset"] is True
        for tenant in ("acme", "globex"):
            with bridge_service.client(tenant) as client:
                _not_found(client.post("/v1/bridge/calc-t/Add", json=ADD), "calc-t")
        named = admin.put(
            "/v1/admin/bridge/services/calc-t",
            json={"wsdl": "calculator.wsdl", "endpoint": endpoint, "tenants": ["globex"]},
        )
        assert named.status_code == 200, named.text
        assert named.json()["tenants"] == ["globex"]
        with bridge_service.client("globex") as globex:
            assert globex.post("/v1/bridge/calc-t/Add", json=ADD).status_code == 200
        with bridge_service.client("acme") as acme:
            _not_found(acme.post("/v1/bridge/calc-t/Add", json=ADD), "calc-t")
        everyone = admin.put(
            "/v1/admin/bridge/services/calc-t",
            json={"wsdl": "calculator.wsdl", "endpoint": endpoint, "tenants": ["*"]},
        )
        assert everyone.status_code == 200, everyone.text
        with bridge_service.client("acme") as acme:
            assert acme.post("/v1/bridge/calc-t/Add", json=ADD).status_code == 200
        listed = admin.get("/v1/admin/bridge/services").json()["services"]
        assert next(s for s in listed if s["name"] == "calc-t")["tenants"] == ["*"]
        assert admin.delete("/v1/admin/bridge/services/calc-t").status_code == 204


def test_cli_names_tenants_and_calls_on_behalf_of_one(tmp_path: Path, upstream: Upstream) -> None:
    data = tmp_path / "data"
    calc = str(FIXTURES / "calculator.wsdl")
    added = _mmrag(
        data, "add", "calc", calc, "--endpoint", f"{upstream.url}/auth/calculator",
        "--basic-user", "alice", "--tenant", "acme", "-t", "globex", stdin="wonderland\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "tenants: acme, globex" in added.stdout
    record = json.loads((data / "bridge" / "services.json").read_text())["services"][0]
    assert record["tenants"] == ["acme", "globex"]
    body = json.dumps(ADD)
    assert _mmrag(data, "call", "calc", "Add", body, "--tenant", "acme").returncode == 0
    refused = _mmrag(data, "call", "calc", "Add", body, "--tenant", "initech")
    assert refused.returncode == 2  # not found (exit codes: README)
    assert "no bridge service named 'calc'" in refused.stderr
    assert _mmrag(data, "call", "calc", "Add", body).returncode == 2  # not the default tenant
    wildcard = _mmrag(
        data, "add", "calc2", calc, "--basic-user", "alice", "--tenant", "*", stdin="pw\n"
    )
    assert wildcard.returncode == 2
    assert "must name its tenants" in wildcard.stderr
