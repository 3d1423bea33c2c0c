"""The HTTP surface (POST /v1/translate) and the CLI (mmrag translate, mapping ...)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rag.api import create_app
from rag.api.problems import PROBLEM_JSON
from rag.cli.main import app as cli
from rag.models import ModelRegistry
from rag.models.fakes import FakeLLM
from rag.settings import get_settings
from tests.conftest import SettingsFactory

ORDER = "order_response.xml"


@pytest.fixture
def client(make_settings: SettingsFactory, fixtures: Path) -> Iterator[TestClient]:
    settings = make_settings(
        api={"warmup": [], "keys": {"acme": KEY}},
        translator={"wsdl_dir": fixtures, "max_message_bytes": 64 * 1024},
    )
    models = ModelRegistry(settings, loaders={"llm": lambda _: FakeLLM(lambda _: "")})
    app = create_app(settings, models=models)
    with TestClient(app, headers={"X-API-Key": KEY}) as test_client:
        yield test_client


KEY = "key-acme-translate"


def test_translate_needs_the_tenant_key(client: TestClient) -> None:
    """Like every data route: no key or a wrong one is a 401 before the body is parsed."""
    bare = TestClient(client.app)  # the same running app, without the default key
    hostile = ("<r " + " ".join(f'a{i}="v"' for i in range(5000)) + "/>").encode()
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer no"}):
        for method, url, body in (
            ("POST", "/v1/translate", hostile),
            ("GET", "/v1/translate/schema?wsdl=constructs.wsdl&operation=GetOrder", None),
        ):
            response = bare.request(
                method, url, content=body, headers={"Content-Type": "text/xml", **headers}
            )
            assert response.status_code == 401, (url, headers, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON
    bearer = bare.post(
        "/v1/translate",
        content=b"<a>1</a>",
        headers={"Content-Type": "text/xml", "Authorization": f"Bearer {KEY}"},
    )
    assert bearer.status_code == 200, bearer.text


def metric(client: TestClient, line_start: str) -> float:
    text = client.get("/metrics").text
    values = [
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start)
    ]
    return sum(values)


def test_translate_raw_xml_with_a_named_wsdl(client: TestClient, fixtures: Path) -> None:
    response = client.post(
        "/v1/translate?wsdl=constructs.wsdl",
        content=(fixtures / ORDER).read_bytes(),
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["operation"] == "GetOrder"
    assert response.headers["X-Translation-Schema"] == body["schema"]
    assert '"#text":19.90' in response.text  # exact decimal on the wire
    assert metric(client, 'mmrag_translations_total{mode="typed",outcome="ok"}') == 1


def test_schema_endpoint(client: TestClient) -> None:
    response = client.get("/v1/translate/schema?wsdl=constructs.wsdl&operation=GetOrder")
    assert response.status_code == 200
    assert response.json()["$id"].endswith("GetOrder:output")


def test_upload_form_with_target_schema(client: TestClient, fixtures: Path) -> None:
    target = {
        "type": "object",
        "properties": {"status": {"type": "string"}},
        "required": ["status"],
    }
    response = client.post(
        "/v1/translate",
        files={
            "message": ("m.xml", (fixtures / ORDER).read_bytes(), "text/xml"),
            "wsdl": ("constructs.wsdl", (fixtures / "constructs.wsdl").read_bytes(), "text/xml"),
        },
        data={"target_schema": json.dumps(target)},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"status": "shipped"}
    assert response.headers["X-Translation-Fallback"] == "mapping_similarity"
    assert metric(client, 'mmrag_translation_fallbacks_total{kind="mapping_similarity"}') == 1


def test_schemaless_without_wsdl(client: TestClient) -> None:
    response = client.post("/v1/translate", content=b"<a x='1'><b>t</b><b>u</b></a>")
    assert response.status_code == 200
    assert response.json()["data"] == {"a": {"@x": "1", "b": ["t", "u"]}}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>', 400, "xml-rejected"),
        (b"<r><unclosed></r>", 400, "xml-malformed"),
        (b"<a>" * 300 + b"</a>" * 300, 400, "xml-rejected"),
        (b"<r>" + b"x" * (70 * 1024) + b"</r>", 413, "payload-too-large"),
    ],
)
def test_hostile_bodies_are_problems(
    client: TestClient, body: bytes, status: int, code: str
) -> None:
    response = client.post(
        "/v1/translate", content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == f"urn:mmrag:problem:{code}"


def test_wrong_media_type_and_unknown_wsdl(client: TestClient) -> None:
    assert (
        client.post(
            "/v1/translate", content=b"{}", headers={"Content-Type": "application/json"}
        ).status_code
        == 415
    )
    missing = client.post(
        "/v1/translate?wsdl=../../etc/passwd", content=b"<r/>", headers={"Content-Type": "text/xml"}
    )
    assert missing.status_code == 404


def test_mismatch_and_fault(client: TestClient, fixtures: Path) -> None:
    bogus = (fixtures / ORDER).read_bytes().replace(b"<o:status>", b"<o:bogus/><o:status>")
    # The default policy (declare) translates it, the unknown element listed as a deviation.
    declared = client.post(
        "/v1/translate?wsdl=constructs.wsdl", content=bogus, headers={"Content-Type": "text/xml"}
    )
    assert declared.status_code == 200
    assert declared.headers["X-Translation-Deviations"].startswith("1; unknown_element=/")
    body = declared.json()
    assert body["schema"] == declared.headers["X-Translation-Schema"] != body["base_schema"]
    assert [d["kind"] for d in body["deviations"]] == ["unknown_element"]
    assert metric(client, 'mmrag_translation_deviations_total{kind="unknown_element"}') == 1
    assert metric(client, 'mmrag_translations_total{mode="typed",outcome="deviations"}') == 1
    response = client.post(
        "/v1/translate?wsdl=constructs.wsdl&on_mismatch=error",
        content=bogus,
        headers={"Content-Type": "text/xml"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:mmrag:problem:message-mismatch"
    fallback = client.post(
        "/v1/translate?wsdl=constructs.wsdl&on_mismatch=schemaless",
        content=bogus,
        headers={"Content-Type": "text/xml"},
    )
    assert fallback.status_code == 200
    assert fallback.headers["X-Translation-Fallback"] == "schemaless"
    fault = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault>'
        b"<e:Code><e:Value>e:Sender</e:Value></e:Code><e:Reason><e:Text xml:lang='en'>bad</e:Text>"
        b"</e:Reason><e:Detail><code>7</code></e:Detail></e:Fault></e:Body></e:Envelope>"
    )
    response = client.post(
        "/v1/translate", content=fault, headers={"Content-Type": "application/soap+xml"}
    )
    assert response.status_code == 502
    assert response.json()["fault"] == {
        "code": "e:Sender",
        "subcodes": [],
        "reason": "bad",
        "actor": None,
        "detail": {"code": "7"},
        "soap_version": "1.2",
    }


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("MMRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MMRAG_MODELS__LLM__BACKEND", "openai")  # unreachable: the LLM fails fast
    monkeypatch.setenv("MMRAG_MODELS__LLM__BASE_URL", "http://127.0.0.1:9/v1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_cli_translate(fixtures: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["translate", str(fixtures / ORDER), "--wsdl", str(fixtures / "constructs.wsdl"), "--json"],
    )
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["operation"] == "GetOrder"
    plain = runner.invoke(cli, ["translate", str(fixtures / ORDER)])
    assert plain.exit_code == 0
    assert "GetOrderResponse" in plain.stdout


@pytest.mark.usefixtures("cli_env")
def test_cli_errors_go_to_stderr_with_exit_codes(tmp_path: Path, fixtures: Path) -> None:
    runner = CliRunner()
    hostile = tmp_path / "x.xml"
    hostile.write_bytes(b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    result = runner.invoke(cli, ["translate", str(hostile), "--json"])
    assert result.exit_code == 2  # bad input (rag.cli.common)
    assert result.stdout == ""
    assert "xml-rejected" in result.stderr
    fault = tmp_path / "f.xml"
    fault.write_bytes(
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        b"<faultcode>s:Server</faultcode><faultstring>down</faultstring></s:Fault></s:Body></s:Envelope>"
    )
    result = runner.invoke(cli, ["translate", str(fault)])
    assert result.exit_code == 4
    assert '"reason": "down"' in result.stderr


@pytest.mark.usefixtures("cli_env")
def test_cli_mapping_propose_show_and_test(tmp_path: Path, fixtures: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "target.json"
    target.write_text(
        json.dumps(
            {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
        )
    )
    wsdl = str(fixtures / "constructs.wsdl")
    proposed = runner.invoke(
        cli,
        [
            "mapping",
            "propose",
            str(fixtures / ORDER),
            "--wsdl",
            wsdl,
            "--target-schema",
            str(target),
        ],
    )
    assert proposed.exit_code == 0, proposed.output
    outcome = json.loads(proposed.stdout)
    assert outcome["valid_on_samples"] is True
    assert outcome["fallbacks"][0]["kind"] == "mapping_similarity"  # the LLM is unreachable
    shown = runner.invoke(cli, ["mapping", "show", outcome["key"]])
    assert json.loads(shown.stdout)["rules"] == [
        {
            "target": "status",
            "op": "rename",
            "source": "GetOrderResponse/order/status",
            "origin": "similarity",
        }
    ]
    edited = json.loads(Path(outcome["file"]).read_text())
    edited["rules"] = [{"target": "status", "op": "constant", "value": "done"}]
    edited_path = tmp_path / "edited.json"
    edited_path.write_text(json.dumps(edited))
    tested = runner.invoke(
        cli, ["mapping", "test", str(edited_path), str(fixtures / ORDER), "--wsdl", wsdl, "--save"]
    )
    assert tested.exit_code == 0, tested.output
    assert json.loads(tested.stdout)["saved_version"] == 2
