"""The service registry: a read-only config file plus a file of registered services.

``<data_dir>/bridge/services.json`` holds what ``mmrag bridge add`` and the admin API
registered. Every write replaces the file atomically (temporary file, fsync, ``os.replace``)
under a lock, so a reader (another process included) sees the old or the new registry, never
half of one. The optional config file (JSON or TOML, ``{"services": [...]}``) is read too;
a registered service of the same name wins. Readers pick up changes made by another process
on their next lookup (one ``stat`` per lookup).
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag.errors import BadInputError, ConfigError, NotFoundError
from translators.bridge.spec import ServiceSpec

__all__ = ["ServiceRegistry"]

FORMAT = "mmrag.bridge.services/1"


class ServiceRegistry:
    def __init__(self, path: Path, config_file: Path | None = None) -> None:
        self.path = path
        self.config_file = config_file
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._services: dict[str, ServiceSpec] = {}
        self._configured: dict[str, ServiceSpec] = (
            _read_file(config_file, "the bridge config file") if config_file else {}
        )

    # -- reading -------------------------------------------------------------------------
    def all(self) -> dict[str, ServiceSpec]:
        with self._lock:
            self._refresh()
            return {**self._configured, **self._services}

    def get(self, name: str) -> ServiceSpec:
        spec = self.all().get(name)
        if spec is None:
            raise NotFoundError(f"no bridge service named {name!r}", service=name)
        return spec

    def source(self, name: str) -> str:
        """Where a service is defined: ``registry`` or ``config``."""
        with self._lock:
            self._refresh()
            return "registry" if name in self._services else "config"

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._services = None, {}
            return
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if stamp != self._stamp:
            self._services = _read_file(self.path, "the bridge registry")
            self._stamp = stamp

    # -- writing -------------------------------------------------------------------------
    def put(self, spec: ServiceSpec) -> bool:
        """Register or replace ``spec``; True when it replaced a registered service."""
        with self._lock:
            self._refresh()
            replaced = spec.name in self._services
            services = {**self._services, spec.name: spec}
            self._write(services)
            return replaced

    def remove(self, name: str) -> None:
        with self._lock:
            self._refresh()
            if name not in self._services:
                if name in self._configured:
                    raise BadInputError(
                        f"{name!r} comes from the config file {self.config_file}; edit it there",
                        service=name,
                    )
                raise NotFoundError(f"no bridge service named {name!r}", service=name)
            services = {k: v for k, v in self._services.items() if k != name}
            self._write(services)

    def _write(self, services: dict[str, ServiceSpec]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "format": FORMAT,
            "services": [services[name].stored() for name in sorted(services)],
        }
        data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        # 0600: the file may hold upstream passwords.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)
        self._services = dict(services)
        stat = self.path.stat()
        self._stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _read_file(path: Path, what: str) -> dict[str, ServiceSpec]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    try:
        document = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid: {exc}") from exc
    entries = document.get("services", []) if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{what} {path} must hold {{'services': [...]}}")
    services: dict[str, ServiceSpec] = {}
    for index, entry in enumerate(entries):
        try:
            spec = ServiceSpec.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(f"{what} {path}, service #{index + 1}: {_first(exc)}") from exc
        if spec.wsdl and not _is_url(spec.wsdl) and not Path(spec.wsdl).is_absolute():
            # Relative WSDL paths in a config file are relative to that file.
            spec = spec.model_copy(update={"wsdl": str((path.parent / spec.wsdl).resolve())})
        services[spec.name] = spec
    return services


def _first(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', '')}"


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
