"""The service registry: persistence, atomic writes, the config file, secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.errors import BadInputError, ConfigError, NotFoundError
from tests.conftest import SettingsFactory
from translators.bridge.registry import ServiceRegistry
from translators.bridge.spec import ServiceSpec


def _spec(name: str = "calc", **fields: object) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": name, "wsdl": "/srv/calc.wsdl", **fields})


def test_put_get_remove_and_a_second_reader_sees_changes(tmp_path: Path) -> None:
    path = tmp_path / "bridge" / "services.json"
    writer, reader = ServiceRegistry(path), ServiceRegistry(path)
    assert reader.all() == {}
    assert writer.put(_spec(idempotent=("Add",))) is False
    assert writer.put(_spec(endpoint="http://127.0.0.1:9/calc")) is True
    assert reader.get("calc").endpoint == "http://127.0.0.1:9/calc"  # re-read after the write
    writer.remove("calc")
    with pytest.raises(NotFoundError):
        reader.get("calc")
    with pytest.raises(NotFoundError):
        writer.remove("calc")


def test_writes_are_atomic_and_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "services.json"
    registry = ServiceRegistry(path)
    registry.put(_spec(auth={"kind": "basic", "username": "u", "password": "s3cret"}))
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        registry.put(_spec("other"))
    assert path.read_bytes() == before  # the old registry, whole
    assert [p.name for p in tmp_path.iterdir()] == ["services.json"]  # no temporary left


def test_secrets_are_stored_but_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "services.json"
    spec = _spec(auth={"kind": "wsse", "username": "alice", "password": "wonderland"})
    ServiceRegistry(path).put(spec)
    assert "wonderland" in path.read_text()
    assert "wonderland" not in json.dumps(spec.public())
    assert "wonderland" not in repr(spec)
    loaded = ServiceRegistry(path).get("calc")
    assert loaded.auth is not None
    assert loaded.auth.password.get_secret_value() == "wonderland"


def test_config_file_services_and_precedence(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "bridge.toml"
    config.parent.mkdir()
    config.write_text(
        '[[services]]\nname = "calc"\nwsdl = "calc.wsdl"\nidempotent = ["Add"]\n'
        '[[services]]\nname = "numbers"\nwsdl = "/abs/numbers.wsdl"\n'
    )
    registry = ServiceRegistry(tmp_path / "services.json", config)
    assert registry.get("calc").wsdl == str(config.parent / "calc.wsdl")  # relative to the file
    assert registry.source("numbers") == "config"
    with pytest.raises(BadInputError, match="config file"):
        registry.remove("numbers")
    registry.put(_spec("numbers", wsdl="/other.wsdl"))
    assert registry.get("numbers").wsdl == "/other.wsdl"  # the registered one wins
    assert registry.source("numbers") == "registry"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{", "not valid"),
        ('{"services": {}}', "must hold"),
        ('{"services": [{"name": "Bad Name", "wsdl": "x"}]}', "service #1: name"),
    ],
)
def test_a_bad_config_file_is_a_config_error(tmp_path: Path, content: str, match: str) -> None:
    config = tmp_path / "bridge.json"
    config.write_text(content)
    with pytest.raises(ConfigError, match=match):
        ServiceRegistry(tmp_path / "services.json", config)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "../etc"},
        {"endpoint": "ftp://host/x"},
        {"timeout_s": 0},
        {"auth": {"kind": "digest", "username": "u", "password": "p"}},
        {"unknown": 1},
    ],
)
def test_invalid_specs_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ServiceSpec.model_validate({"name": "calc", "wsdl": "x.wsdl", **fields})


def test_tenants_of_a_service() -> None:
    from rag.api.auth import DEFAULT_TENANT as API_DEFAULT
    from translators.bridge.spec import DEFAULT_TENANT

    assert DEFAULT_TENANT == API_DEFAULT  # a request without API keys is that tenant
    unset = ServiceSpec(name="s", wsdl="x.wsdl")
    assert unset.allows("default")
    assert not unset.allows("acme")
    assert unset.public()["tenants"] == ["default"]
    assert "tenants" not in unset.stored()  # an old record stays as it was written
    named = ServiceSpec(name="s", wsdl="x.wsdl", tenants=("acme", " acme", "globex"))
    assert named.tenants == ("acme", "globex")
    assert named.allows("globex")
    assert not named.allows("default")
    assert ServiceSpec(name="s", wsdl="x.wsdl", tenants=("*",)).allows("anyone")
    auth = {"kind": "basic", "username": "u", "password": "p"}
    with pytest.raises(ValidationError, match="must name its tenants"):
        ServiceSpec.model_validate({"name": "s", "wsdl": "x", "auth": auth, "tenants": ["*"]})
    with pytest.raises(ValidationError, match="at least one tenant"):
        ServiceSpec(name="s", wsdl="x.wsdl", tenants=())


def test_records_without_tenants_are_named_at_start_up(
    make_settings: SettingsFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With API keys set, a record naming no tenants answers only the default tenant: the
    bridge says so at start-up, and a keyed tenant is told the service does not exist."""
    import asyncio
    import logging

    from translators.bridge import Bridge

    settings = make_settings(api={"keys": {"acme": "k"}})
    bridge = Bridge(settings)
    bridge.registry.put(_spec("old"))
    bridge.registry.put(_spec("new", tenants=["acme"]))
    with caplog.at_level(logging.WARNING, logger="translators.bridge.bridge"):
        asyncio.run(bridge.start())
        asyncio.run(bridge.aclose())
    warned = [r.getMessage() for r in caplog.records]
    assert any("bridge service old names no tenants" in m for m in warned)
    assert not any("service new" in m for m in warned)
    assert bridge.authorize("new", "acme").name == "new"
    with pytest.raises(NotFoundError, match="no bridge service named 'old'"):
        bridge.authorize("old", "acme")
    assert set(bridge.visible("acme")) == {"new"}
    assert set(bridge.visible("default")) == {"old"}
