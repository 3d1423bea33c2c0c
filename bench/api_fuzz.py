"""Fuzz the HTTP API with malformed requests: every route of the OpenAPI document, plus
hand-written hostile cases. The target is 0 answers of 5xx and 0 connection errors.

    .venv/bin/python -m bench.api_fuzz [--url http://127.0.0.1:8000] [--seed 0]
        [--api-key KEY] [--out .mmrag/bench/fuzz.json]

Without ``--url`` it starts ``mmrag serve`` on a free loopback port with an empty data dir
(real models, loaded on first use). Cases come from the service's own ``/openapi.json``: for
each operation, hostile path parameters, query parameters of the wrong type, and bodies that
are empty, truncated, nested 5,000 deep, hold lone surrogates, invalid UTF-8, huge numbers,
wrong types for each declared property, the wrong content type or a broken multipart; then
hostile headers (Range, Content-Length, X-Request-ID, Idempotency-Key) and an XML bomb. All
requests share one keep-alive client: a connection error is counted, and then the client
reconnects. The suite also runs as a test (tests/unit/test_api_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEEP = b"[" * 5000 + b"]" * 5000
HOSTILE_SEGMENTS = [
    "..",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%00",
    "a%00b",
    "%ED%A0%80",  # an encoded lone surrogate
    "%FF%FE",  # invalid UTF-8
    "x" * 5000,
    "00000000-0000-0000-0000-000000000000",
    "%F0%9F%98%80",
    "-1",
    "1e309",
]
HOSTILE_QUERY_VALUES = ["", "abc", "-1", "1e309", "99999999999999999999", "%00", "%ED%A0%80"]
BAD_JSON_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{",
    b'{"a": 1,}',
    b"\xff\xfe\xfd",
    DEEP,
    b'{"x": ' + DEEP + b"}",
    b'{"text": "\\ud800"}',
    b'{"text": "\\udfff\\ud800"}',
    b'"\\ud800"',
    b"1e999999",
    b'{"k": 1e999999}',
    b'{"__proto__": {"admin": true}}',
    b'{"text": "' + b"\\u0000" * 100 + b'"}',
    b'{"a": "' + b"x" * 200_000 + b'"}',
]
WRONG_VALUES: list[Any] = [None, True, -1, 10**30, 1.5e308, "", "\x00", [], {}, "x" * 10_000]
XML_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<lolz>&lol3;</lolz>"
)


# uvicorn's httptools parser answers bytes that are not HTTP (control characters in a header)
# itself, with this text/plain 400, before the app sees the request (h11 lets them through).
PROTOCOL_REJECTION = "Invalid HTTP request received."


@dataclass
class Case:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    label: str = ""
    params: dict[str, str] | None = None


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    connection_errors: list[str] = field(default_factory=list)
    not_problem_json: list[str] = field(default_factory=list)
    cases: int = 0
    protocol_rejections: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "5xx": len(self.server_errors),
            "connection_errors": len(self.connection_errors),
            "non_problem_4xx": len(self.not_problem_json),
            "protocol_rejections": self.protocol_rejections,
            "server_error_cases": self.server_errors[:50],
            "connection_error_cases": self.connection_errors[:50],
            "non_problem_cases": self.not_problem_json[:50],
        }


def _fill(path: str, value: str) -> str:
    out = []
    for part in path.split("/"):
        out.append(value if part.startswith("{") and part.endswith("}") else part)
    return "/".join(out)


def _sane(path: str) -> str:
    names = {"{service}": "none", "{operation}": "op", "{name}": "fuzz", "{job_id}": "nojob"}
    for key, value in names.items():
        path = path.replace(key, value)
    return _fill(path, "00000000-0000-0000-0000-000000000000")


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema


def openapi_cases(document: dict[str, Any], rng: random.Random) -> Iterator[Case]:
    for template, item in document["paths"].items():
        for method, operation in item.items():
            method = method.upper()
            if method not in ("GET", "POST", "PUT", "DELETE", "PATCH"):
                continue
            if "{" in template:
                for value in HOSTILE_SEGMENTS:
                    yield Case(method, _fill(template, value), label="path param")
            path = _sane(template)
            for param in operation.get("parameters", []):
                if param.get("in") != "query":
                    continue
                for value in HOSTILE_QUERY_VALUES:
                    yield Case(method, path, params={param["name"]: value}, label="query")
            body = operation.get("requestBody")
            if not body:
                continue
            for content_type, media in body.get("content", {}).items():
                if content_type == "application/json":
                    for raw in BAD_JSON_BODIES:
                        yield Case(method, path, {"content-type": content_type}, raw, label="json")
                    schema = _resolve(document, media.get("schema", {}))
                    for name in schema.get("properties", {}):
                        value = rng.choice(WRONG_VALUES)
                        raw = json.dumps({name: value}).encode()
                        yield Case(method, path, {"content-type": content_type}, raw, "prop")
                elif content_type.startswith("multipart/"):
                    for raw, header in (
                        (b"garbage", content_type),
                        (
                            b"--x\r\nContent-Disposition: form-data\r\n\r\n",
                            content_type + "; boundary=x",
                        ),
                        (b"--x\r\n" + b"A" * 70_000, content_type + "; boundary=x"),
                        (b"", content_type + "; boundary=" + "b" * 300),
                    ):
                        yield Case(method, path, {"content-type": header}, raw, label="multipart")
                else:
                    for raw in (b"", b"<a>", b"\xff\xfe<x/>", XML_BOMB, b"<a>" * 5000):
                        yield Case(method, path, {"content-type": content_type}, raw, "xml")
            yield Case(
                method, path, {"content-type": "application/x-nonsense"}, b"\x00\x01", "ctype"
            )
            yield Case(
                method, path, {"content-type": "application/json; charset=utf-7"}, b"{}", "charset"
            )


def hostile_cases() -> Iterator[Case]:
    media = "/v1/media/00000000-0000-0000-0000-000000000000"
    for value in ("bytes=zz", "bytes=9-1", "bytes=-", "items=0-1", "bytes=" + "0-1," * 500):
        yield Case("GET", media, {"range": value}, label="range")
    yield Case("GET", "/healthz", {"x-request-id": "\x7f" * 10}, label="request id")
    yield Case("GET", "/healthz", {"x-request-id": "x" * 5000}, label="request id")
    yield Case("GET", "/v1/bridge", {"x-api-key": "\x01\x02"}, label="api key")
    yield Case("GET", "/v1/bridge", {"authorization": "Bearer " + "a" * 8000}, label="bearer")
    yield Case(
        "POST", "/v1/bridge/none/op",
        {"content-type": "application/json", "idempotency-key": "k" * 5000}, b"{}", "idem",
    )  # fmt: skip
    yield Case("POST", "/v1/translate", {"content-type": "text/xml"}, XML_BOMB, "xml bomb")
    yield Case("POST", "/v1/translate?wsdl=../../etc/passwd", {"content-type": "text/xml"}, b"<a/>")
    yield Case("GET", "/v1/translate/schema?wsdl=/etc/passwd&operation=x", label="wsdl path")
    yield Case("GET", "/v1/jobs?limit=0&state=nonsense", label="query")
    yield Case("GET", "/static/..%2f..%2fpyproject.toml", label="traversal")
    yield Case("GET", "/docs-assets/..%2f..%2fpyproject.toml", label="traversal")
    yield Case("TRACE", "/v1/search", label="method")
    yield Case("POST", "/healthz", {"content-type": "application/json"}, DEEP, label="method")


def run(
    url: str,
    *,
    api_key: str | None = None,
    admin_key: str | None = None,
    seed: int = 0,
    timeout: float = 60,
) -> Outcome:
    rng = random.Random(seed)
    headers = {"X-API-Key": api_key} if api_key else {}
    if admin_key:  # so the admin routes parse their bodies instead of answering 401
        headers["X-Admin-Key"] = admin_key
    outcome = Outcome()
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        document = client.get("/openapi.json").raise_for_status().json()
        for case in [*openapi_cases(document, rng), *hostile_cases()]:
            outcome.cases += 1
            label = f"{case.method} {case.path[:80]} [{case.label}]"
            try:
                response = client.request(
                    case.method, case.path, headers=case.headers, content=case.body,
                    params=case.params,
                )  # fmt: skip
            except httpx.LocalProtocolError:
                outcome.statuses[0] += 1  # the client refused to send it: nothing to count
                continue
            except httpx.TransportError as exc:
                outcome.connection_errors.append(f"{label}: {type(exc).__name__}")
                continue
            outcome.statuses[response.status_code] += 1
            if response.status_code >= 500:
                outcome.server_errors.append(
                    f"{label}: {response.status_code} {response.text[:200]}"
                )
            elif response.text == PROTOCOL_REJECTION:
                outcome.protocol_rejections += 1  # the HTTP parser's own answer, not the app's
            elif response.status_code >= 400 and "json" not in response.headers.get(
                "content-type", ""
            ):
                outcome.not_problem_json.append(f"{label}: {response.status_code}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="A running service (default: start mmrag serve)")
    parser.add_argument("--api-key")
    parser.add_argument("--admin-key", help="MMRAG_BRIDGE__ADMIN_KEY of the service")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(".mmrag/bench/fuzz.json"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.url:
        outcome = run(args.url, api_key=args.api_key, admin_key=args.admin_key, seed=args.seed)
    else:
        from bench.api_load import served

        with served({"MMRAG_BRIDGE__ADMIN_KEY": "fuzz-admin"}) as (url, _pid):
            outcome = run(url, admin_key="fuzz-admin", seed=args.seed)
    result = outcome.to_json() | {"seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if not outcome.server_errors and not outcome.connection_errors else 1


if __name__ == "__main__":
    sys.exit(main())
