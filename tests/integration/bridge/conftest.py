"""Real SOAP servers on loopback and the real app behind uvicorn, for the bridge tests.

``upstream``: the spyne servers of ``tests/fixtures/bridge/soap_server.py`` in their own
process (one per test session). ``bridge_service``: mmrag's FastAPI app served by uvicorn on
a loopback port in a thread, with a config file registering one service per failure mode;
tests call it over real HTTP with httpx.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from rag.api import create_app
from rag.models import ModelRegistry
from rag.models.fakes import FakeLLM
from rag.settings import Settings
from tests.conftest import MODEL_CACHE, REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "bridge"
SERVER = FIXTURES / "soap_server.py"
KEYS = {"acme": "key-acme", "globex": "key-globex"}
ADMIN_KEY = "admin-secret-4711"
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Upstream:
    url: str
    process: subprocess.Popen[str]

    def calls(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{self.url}/_calls", timeout=5).json()
        return counts

    def count(self, path: str, operation: str) -> int:
        return self.calls().get(f"{path} {operation}", 0)


def start_upstream() -> Upstream:
    """The spyne servers in a child process; returns once they accept connections."""
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the SOAP server did not start: {line}{process.stdout.read()}")
    return Upstream(line.split()[-1], process)


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = start_upstream()
    try:
        yield server
    finally:
        stop(server.process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def services(upstream_url: str) -> list[dict[str, Any]]:
    """One registered service per behaviour under test (the config file's content)."""
    calc = str(FIXTURES / "calculator.wsdl")
    refused = f"http://127.0.0.1:{free_port()}/calculator"  # nothing listens there

    def at(path: str) -> str:
        return f"{upstream_url}{path}"

    return [
        service | {"tenants": service.get("tenants", list(KEYS))}
        for service in _services(calc, refused, at)
    ]


def _services(calc: str, refused: str, at: Callable[[str], str]) -> list[dict[str, Any]]:
    return [
        {"name": "calc", "wsdl": calc, "endpoint": at("/calculator"), "idempotent": ["Add"]},
        {"name": "numbers", "wsdl": "number_conversion.wsdl", "endpoint": at("/numbers")},
        {
            "name": "calc-slow",
            "wsdl": calc,
            "endpoint": at("/slow/2000/calculator"),
            "timeout_s": 0.4,
            "retries": 1,
            "idempotent": ["Add"],
        },
        {
            "name": "calc-flaky",
            "wsdl": calc,
            "endpoint": at("/flaky/1/calculator"),
            "idempotent": ["Add", "Subtract"],
        },
        {"name": "calc-drop", "wsdl": calc, "endpoint": at("/drop/calculator")},
        {"name": "calc-refused", "wsdl": calc, "endpoint": refused, "idempotent": ["Add"]},
        {"name": "calc-garbage", "wsdl": calc, "endpoint": at("/garbage/calculator")},
        {
            "name": "calc-narrow",
            "wsdl": calc,
            "endpoint": at("/slow/1500/calculator"),
            "max_concurrency": 1,
        },
        {
            "name": "calc-basic",
            "wsdl": calc,
            "endpoint": at("/auth/calculator"),
            "auth": {"kind": "basic", "username": "alice", "password": "wonderland"},
            "tenants": ["acme"],  # alice's credentials are acme's: globex may not use them
        },
        {
            "name": "calc-basic-wrong",
            "wsdl": calc,
            "endpoint": at("/auth/calculator"),
            "auth": {"kind": "basic", "username": "alice", "password": "guess"},
        },
        {
            "name": "calc-wsse",
            "wsdl": calc,
            "endpoint": at("/wsse/calculator"),
            "auth": {"kind": "wsse", "username": "alice", "password": "wonderland"},
        },
        {
            "name": "calc-wsse-wrong",
            "wsdl": calc,
            "endpoint": at("/wsse/calculator"),
            "auth": {"kind": "wsse", "username": "alice", "password": "guess"},
        },
    ]


@dataclass
class BridgeService:
    url: str
    settings: Settings
    app: Any

    def client(self, tenant: str = "acme", **headers: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"X-API-Key": KEYS[tenant], **headers}, timeout=30
        )

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-Admin-Key": ADMIN_KEY}, timeout=30)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own handlers
        pass


def serve(settings: Settings) -> Iterator[BridgeService]:
    """The real app on a loopback port (uvicorn in a thread) until the generator closes."""
    models = ModelRegistry(settings, loaders={"llm": lambda _: FakeLLM(lambda _: "")})
    app = create_app(settings, models=models)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = _Server(config)
    thread = threading.Thread(target=server.run, name="bridge-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield BridgeService(f"http://127.0.0.1:{port}", settings, app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def bridge_settings(tmp: Path, upstream: Upstream, **bridge: Any) -> Settings:
    config = tmp / "bridge.json"
    config.write_text(json.dumps({"services": services(upstream.url)}))
    values: dict[str, Any] = {
        "config_file": config,
        "admin_key": ADMIN_KEY,
        "queue_timeout_s": 0.3,
        "backoff_s": 0.05,
    }
    values.update(bridge)
    fields: dict[str, Any] = {
        "data_dir": tmp / "data",
        "cache_dir": MODEL_CACHE,
        "api": {"warmup": [], "keys": KEYS},
        "translator": {"wsdl_dir": FIXTURES, "remote_allowlist": [f"{upstream.url}/"]},
        "bridge": values,
    }
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


# The config file names number_conversion.wsdl relative to itself: keep a copy beside it.
def _copy_wsdls(tmp: Path) -> None:
    for name in ("number_conversion.wsdl",):
        (tmp / name).write_bytes((FIXTURES / name).read_bytes())


@pytest.fixture(scope="module")
def bridge_service(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[BridgeService]:
    tmp = tmp_path_factory.mktemp("bridge")
    _copy_wsdls(tmp)
    yield from serve(bridge_settings(tmp, upstream))


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    prefix = f"mmrag-test:bridge:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture(scope="module")
def redis_bridge_service(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream, redis_prefix: str
) -> Iterator[BridgeService]:
    tmp = tmp_path_factory.mktemp("bridge-redis")
    _copy_wsdls(tmp)
    yield from serve(bridge_settings(tmp, upstream, redis_url=REDIS_URL, redis_prefix=redis_prefix))


Call = Callable[..., httpx.Response]
