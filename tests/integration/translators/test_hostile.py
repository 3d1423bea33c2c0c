"""Hostile and bad input, through the service, the real HTTP app and the CLI.

Each payload must give a clear 4xx (or CLI exit 3) without reading a file, without any
outbound connection (a loopback HTTP server records every request it gets; a secret file
must never show up) and quickly (bounded work: nothing is expanded)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rag.api import create_app
from rag.api.problems import PROBLEM_JSON
from rag.cli.main import app as cli
from rag.errors import MmragError
from rag.models import ModelRegistry
from rag.models.fakes import FakeLLM
from rag.settings import ApiSettings, Settings, TranslatorSettings, get_settings
from tests.conftest import REPO_ROOT
from translators.service import TranslatorService, WsdlRef

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "translators"
MAX_MESSAGE = 256 * 1024
SECRET = "mmrag-secret-7f3a"


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []  # noqa: RUF012 - shared by the test server's handler instances

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = f'<!ENTITY leak "{SECRET}">'.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@dataclass
class Bait:
    url: str
    secret_file: Path
    hits: list[str]


@pytest.fixture(scope="module")
def bait(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bait]:
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text(SECRET)
    _Recorder.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Bait(f"http://127.0.0.1:{server.server_port}", secret, _Recorder.hits)
    server.shutdown()
    server.server_close()


def payloads(bait: Bait) -> dict[str, tuple[bytes, int, str]]:
    """name -> (body, HTTP status, problem code)."""
    quadratic_entity = "q" * 50_000
    order = (FIXTURES / "order_response.xml").read_bytes()
    return {
        "xxe-file": (
            f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{bait.secret_file}">]>'
            "<r>&x;</r>".encode(),
            400,
            "xml-rejected",
        ),
        "xxe-url": (
            f'<!DOCTYPE r [<!ENTITY x SYSTEM "{bait.url}/xxe">]><r>&x;</r>'.encode(),
            400,
            "xml-rejected",
        ),
        "parameter-entity": (
            f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{bait.url}/pe"> %p;]><r>&leak;</r>'.encode(),
            400,
            "xml-rejected",
        ),
        "billion-laughs": (
            (
                '<!DOCTYPE l [<!ENTITY a "lol">'
                + "".join(
                    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
                )
                + "]><l>&j;</l>"
            ).encode(),
            400,
            "xml-rejected",
        ),
        "quadratic-blowup": (
            (
                f'<!DOCTYPE q [<!ENTITY e "{quadratic_entity}">]><q>' + "&e;" * 2000 + "</q>"
            ).encode(),
            400,
            "xml-rejected",
        ),
        "external-dtd": (
            f'<!DOCTYPE r SYSTEM "{bait.url}/ext.dtd"><r/>'.encode(),
            400,
            "xml-rejected",
        ),
        "xinclude-file": (
            f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{bait.secret_file}"'
            ' parse="text"/></r>'.encode(),
            400,
            "xml-rejected",
        ),
        "xinclude-url": (
            f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{bait.url}/xi"/>'
            "</r>".encode(),
            400,
            "xml-rejected",
        ),
        "deep-10000": (b"<a>" * 10_000 + b"</a>" * 10_000, 400, "xml-rejected"),
        "oversize": (b"<r>" + b"x" * (MAX_MESSAGE + 1) + b"</r>", 413, "payload-too-large"),
        "malformed": (b"<r><a></r>", 400, "xml-malformed"),
        "undefined-entity": (b"<r>&secret;</r>", 400, "xml-rejected"),
        "wrong-encoding-utf16": (
            b'<?xml version="1.0" encoding="UTF-16"?><r>x</r>',
            400,
            "xml-malformed",
        ),
        "unknown-encoding": (b'<?xml version="1.0" encoding="x-mmrag"?><r/>', 400, "xml-malformed"),
        "invalid-utf8": (
            b'<?xml version="1.0" encoding="UTF-8"?><r>\xc3\x28</r>',
            400,
            "xml-malformed",
        ),
        "wrong-operation": (
            order.replace(b"GetOrderResponse", b"ListNamesResponse"),
            400,
            "message-mismatch",
        ),
    }


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("hostile"),
        api=ApiSettings(warmup=()),
        translator=TranslatorSettings(wsdl_dir=FIXTURES, max_message_bytes=MAX_MESSAGE),
    )


def _wsdl_for(name: str) -> str | None:
    return "constructs.wsdl" if name == "wrong-operation" else None


def test_service_refuses_each_payload(settings: Settings, bait: Bait) -> None:
    service = TranslatorService(settings)
    for name, (body, _, code) in payloads(bait).items():
        wsdl = _wsdl_for(name)
        started = time.perf_counter()
        with pytest.raises(MmragError) as info:
            service.translate(body, WsdlRef(path=FIXTURES / wsdl) if wsdl else None)
        assert info.value.code == code, name
        assert time.perf_counter() - started < 2.0, f"{name} took too long"
        assert SECRET not in info.value.detail, name
    assert bait.hits == []


def test_http_app_answers_problems(settings: Settings, bait: Bait) -> None:
    models = ModelRegistry(settings, loaders={"llm": lambda _: FakeLLM([])})
    with TestClient(create_app(settings, models=models)) as client:
        for name, (body, status, code) in payloads(bait).items():
            wsdl = _wsdl_for(name)
            url = "/v1/translate" + (f"?wsdl={wsdl}" if wsdl else "")
            response = client.post(url, content=body, headers={"Content-Type": "application/xml"})
            assert response.status_code == status, (name, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON, name
            assert response.json()["type"] == f"urn:mmrag:problem:{code}", name
            assert SECRET not in response.text, name
        metrics = client.get("/metrics").text
        assert 'mmrag_translations_total{mode="deterministic",outcome="rejected"}' in metrics
    assert bait.hits == []


def test_cli_exits_3_with_errors_on_stderr(
    settings: Settings, bait: Bait, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMRAG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MMRAG_TRANSLATOR__MAX_MESSAGE_BYTES", str(MAX_MESSAGE))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        for name, (body, _, code) in payloads(bait).items():
            path = tmp_path / f"{name}.xml"
            path.write_bytes(body)
            args = ["translate", str(path), "--json"]
            wsdl = _wsdl_for(name)
            if wsdl:
                args += ["--wsdl", str(FIXTURES / wsdl)]
            result = runner.invoke(cli, args)
            assert result.exit_code == 2, (name, result.output)  # bad input
            assert result.stdout == "", name
            assert code in result.stderr, name
            assert SECRET not in result.output, name
    finally:
        get_settings.cache_clear()
    assert bait.hits == []


def test_hostile_wsdls_fetch_nothing(settings: Settings, bait: Bait, tmp_path: Path) -> None:
    service = TranslatorService(settings)
    xs = "http://www.w3.org/2001/XMLSchema"
    remote_import = tmp_path / "remote.wsdl"
    remote_import.write_text(
        f'<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" targetNamespace="urn:x">'
        f'<import namespace="urn:y" location="{bait.url}/remote.wsdl"/><types>'
        f'<xs:schema xmlns:xs="{xs}" targetNamespace="urn:x"><xs:import namespace="urn:z" '
        f'schemaLocation="{bait.url}/z.xsd"/><xs:include schemaLocation="{bait.secret_file}"/>'
        "</xs:schema></types></definitions>"
    )
    loaded = service.load(WsdlRef(path=remote_import)).loaded
    assert any("not on the allowlist" in p.detail for p in loaded.problems)
    dtd_wsdl = tmp_path / "dtd.wsdl"
    dtd_wsdl.write_text(f'<!DOCTYPE d SYSTEM "{bait.url}/d.dtd"><definitions/>')
    with pytest.raises(MmragError, match="DTD"):
        service.load(WsdlRef(path=dtd_wsdl))
    upload = WsdlRef(uploads={"a.wsdl": remote_import.read_bytes()}, entry="a.wsdl")
    uploaded = service.load(upload).loaded
    assert any("not among the uploaded documents" in p.detail for p in uploaded.problems)
    assert bait.hits == []
