"""A bridged reply that does not follow its WSDL: translated with its deviations declared
(``X-Translation-Deviations``, counted in ``/metrics``), or refused on request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.settings import Settings
from tests.conftest import MODEL_CACHE
from tests.integration.bridge.conftest import FIXTURES, KEYS, BridgeService, serve

REPLY = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>'
    b'<AddResponse xmlns="http://tempuri.org/" build="7"><AddResult xsi:nil="true"/>'
    b"</AddResponse></soap:Body></soap:Envelope>"
)


class _Sloppy(BaseHTTPRequestHandler):
    """Answers every POST with a reply that breaks the calculator WSDL twice."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def sloppy_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sloppy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/calculator"
    finally:
        server.shutdown()
        server.server_close()


def _settings(tmp: Path, endpoint: str, on_mismatch: str) -> Settings:
    config = tmp / "bridge.json"
    wsdl = str(FIXTURES / "calculator.wsdl")
    config.write_text(
        json.dumps(
            {"services": [{"name": "sloppy", "wsdl": wsdl, "endpoint": endpoint, "tenants": ["*"]}]}
        )
    )
    fields: dict[str, Any] = {
        "data_dir": tmp / "data",
        "cache_dir": MODEL_CACHE,
        "api": {"warmup": [], "keys": KEYS},
        "translator": {"wsdl_dir": FIXTURES, "on_mismatch": on_mismatch},
        "bridge": {"config_file": config},
    }
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def bridge(
    tmp_path_factory: pytest.TempPathFactory, sloppy_upstream: str
) -> Iterator[BridgeService]:
    yield from serve(_settings(tmp_path_factory.mktemp("dev"), sloppy_upstream, "declare"))


def test_a_sloppy_reply_is_translated_with_its_deviations(bridge: BridgeService) -> None:
    with bridge.client() as client:
        response = client.post("/v1/bridge/sloppy/Add", json={"Add": {"intA": 1, "intB": 2}})
        assert response.status_code == 200, response.text
        assert response.json() == {"AddResponse": {"@build": "7", "AddResult": None}}
        assert response.headers["X-Translation-Deviations"] == (
            "2; attribute=/AddResponse/@build, nil=/AddResponse/AddResult"
        )
        assert "~widened~" in response.headers["X-Translation-Schema"]
        metrics = client.get("/metrics").text
    assert 'mmrag_translation_deviations_total{kind="nil"} 1.0' in metrics
    assert 'mmrag_translation_deviations_total{kind="attribute"} 1.0' in metrics


def test_refusal_stays_a_choice(
    tmp_path_factory: pytest.TempPathFactory, sloppy_upstream: str
) -> None:
    settings = _settings(tmp_path_factory.mktemp("strict"), sloppy_upstream, "error")
    for service in serve(settings):
        with service.client() as client:
            response = client.post("/v1/bridge/sloppy/Add", json={"Add": {"intA": 1, "intB": 2}})
        assert response.status_code == 502, response.text
        assert "X-Translation-Deviations" not in response.headers
