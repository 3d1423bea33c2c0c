"""Where a running ``mmrag serve`` listens, recorded in its data dir.

The service that owns an embedded store writes ``<data dir>/serve.json`` (its URL and pid)
once the store is open and removes it when it stops; the CLI reads it to send its work to
that service instead of opening the store itself (which the store lock would refuse). A file
left behind by a killed service names a dead pid and is ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ENDPOINT_FILE = "serve.json"


@dataclass(frozen=True)
class Endpoint:
    url: str
    pid: int


def endpoint_path(data_dir: Path) -> Path:
    return data_dir / ENDPOINT_FILE


def connect_url(host: str, port: int) -> str:
    """The URL a local client uses for a bind address (a wildcard bind answers on loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (a client address, not a bind)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def write_endpoint(data_dir: Path, url: str) -> None:
    path = endpoint_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    tmp.replace(path)  # atomic: a reader sees the old file or the new one


def remove_endpoint(data_dir: Path) -> None:
    """Remove the file if this process wrote it (a newer service may have replaced it)."""
    found = _read(endpoint_path(data_dir))
    if found is not None and found.pid == os.getpid():
        endpoint_path(data_dir).unlink(missing_ok=True)


def running_endpoint(data_dir: Path) -> Endpoint | None:
    """The service that owns this data dir, if one is running."""
    found = _read(endpoint_path(data_dir))
    if found is None or found.pid == os.getpid() or not _alive(found.pid):
        return None
    return found


def _read(path: Path) -> Endpoint | None:
    try:
        data = json.loads(path.read_text())
        return Endpoint(url=str(data["url"]), pid=int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
