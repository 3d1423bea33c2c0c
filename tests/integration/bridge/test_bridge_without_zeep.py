"""A corpus WSDL that zeep cannot load, registered and called through the bridge.

``soap4r/test/wsdl/document/array/double.wsdl`` types a part with an element name where a
type belongs (``type="tns:ArrayOfComplex"``); zeep refuses the whole WSDL, mmrag's compiler
reads it (that one element accepts any content, with a finding). The upstream is a small
loopback SOAP server that checks each request (method, SOAPAction, content type, a
well-formed envelope whose body element is the operation's) and echoes the body back as the
operation's response element, so the translated reply must equal the JSON that was sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from rag.settings import Settings
from tests.conftest import SettingsFactory
from translators.bridge import Bridge, ServiceSpec

WSDL = "wsdl_soap/soap4r/test/wsdl/document/array/double.wsdl"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://tempuri.org/"
REPLIES = {"echo": "echoResponse", "echo2": "echo2Response", "ArrayOfRecord": "ArrayOfRecord"}


class _EchoHandler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        problem = self._check(body)
        if problem is not None:
            self._answer(400, problem.encode(), "text/plain")
            return
        envelope = etree.fromstring(body)
        request = envelope.find(f"{{{ENV}}}Body")[0]
        reply = etree.Element(f"{{{ENV}}}Envelope", nsmap={"soap": ENV})
        reply_body = etree.SubElement(reply, f"{{{ENV}}}Body")
        answer = etree.SubElement(reply_body, f"{{{TNS}}}{REPLIES[etree.QName(request).localname]}")
        for name, value in request.attrib.items():
            answer.set(name, value)
        answer.extend(list(request))
        self._answer(200, etree.tostring(reply, xml_declaration=True, encoding="utf-8"))

    def _check(self, body: bytes) -> str | None:
        if not self.headers.get("Content-Type", "").startswith("text/xml"):
            return "SOAP 1.1 wants text/xml"
        action = self.headers.get("SOAPAction", "")
        try:
            envelope = etree.fromstring(body)
        except etree.XMLSyntaxError as exc:
            return f"not XML: {exc}"
        if envelope.tag != f"{{{ENV}}}Envelope":
            return "not a SOAP 1.1 envelope"
        body_element = envelope.find(f"{{{ENV}}}Body")
        if body_element is None or len(body_element) != 1:
            return "the Body must hold one element"
        local = etree.QName(body_element[0]).localname
        if etree.QName(body_element[0]).namespace != TNS or local not in REPLIES:
            return f"unexpected body element {body_element[0].tag}"
        operation = "echo3" if local == "ArrayOfRecord" else local
        if action != f'"{TNS}{operation}"':
            return f"SOAPAction {action!r} does not name {operation}"
        self.seen.append({"action": action, "body": body.decode()})
        return None

    def _answer(self, status: int, body: bytes, media: str = "text/xml; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def echo_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    handler = type("Handler", (_EchoHandler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pricer", seen
    finally:
        server.shutdown()
        server.server_close()


def test_zeep_cannot_load_it(shared_data: Path) -> None:
    from translators.wsdl.zeep_support import zeep_client

    with pytest.raises(Exception, match=r"Unable to resolve type .*ArrayOfComplex"):
        zeep_client(shared_data / WSDL)


def test_bridge_calls_a_wsdl_zeep_cannot_load(
    shared_data: Path,
    make_settings: SettingsFactory,
    echo_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = echo_server
    settings: Settings = make_settings()
    bridge = Bridge(settings)
    bridge.registry.put(
        ServiceSpec(name="pricer", wsdl=str(shared_data / WSDL), endpoint=url, tenants=("acme",))
    )
    requests = {
        "echo": {"echo": {"ary": {"double": [1.5, -2, 1e3]}}},
        "echo3": {"ArrayOfRecord": {"record": [{"@a": "x", "@c": "z"}, {"@b": "y"}]}},
    }
    nil = {"echo": {"ary": None}}

    async def call_all() -> list[tuple[int, Any, dict[str, str]]]:
        out = []
        try:
            for operation, data in [*requests.items(), ("echo", nil)]:
                response = await bridge.call(
                    "pricer", operation, json.dumps(data).encode(), tenant="acme"
                )
                out.append((response.status, json.loads(response.body), response.headers))
        finally:
            await bridge.aclose()
        return out

    results = asyncio.run(call_all())
    assert [status for status, _, _ in results] == [200, 200, 200]
    echo, echo3, echo_nil = (body for _, body, _ in results)
    assert echo == {"echoResponse": {"ary": {"double": [1.5, -2.0, 1000.0]}}}
    assert echo3 == requests["echo3"]
    assert echo_nil == {"echoResponse": {"ary": None}}
    assert results[0][2]["X-Translation-Schema"].endswith("pricerSoap/echo:output")
    assert len(seen) == 3
    assert 'xsi:nil="true"' in seen[2]["body"]
