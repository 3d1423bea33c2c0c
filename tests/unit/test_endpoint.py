"""<data dir>/serve.json: how the CLI finds the service that owns a data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rag.endpoint import (
    connect_url,
    endpoint_path,
    remove_endpoint,
    running_endpoint,
    write_endpoint,
)


def test_connect_url_turns_wildcards_into_loopback() -> None:
    assert connect_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert connect_url("::", 81) == "http://[::1]:81"
    assert connect_url("10.1.2.3", 9) == "http://10.1.2.3:9"


def test_a_live_other_process_is_found_a_dead_one_ignored(tmp_path: Path) -> None:
    assert running_endpoint(tmp_path) is None
    write_endpoint(tmp_path, "http://127.0.0.1:1")
    assert running_endpoint(tmp_path) is None  # this process wrote it: not "another service"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        endpoint_path(tmp_path).write_text(json.dumps({"url": "http://x:2", "pid": sleeper.pid}))
        found = running_endpoint(tmp_path)
        assert found is not None
        assert found.url == "http://x:2"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert running_endpoint(tmp_path) is None  # a killed service's file is stale
    endpoint_path(tmp_path).write_text("{not json")
    assert running_endpoint(tmp_path) is None


def test_only_the_writer_removes_it(tmp_path: Path) -> None:
    endpoint_path(tmp_path).write_text(json.dumps({"url": "u", "pid": os.getpid() + 1}))
    remove_endpoint(tmp_path)
    assert endpoint_path(tmp_path).exists()  # a newer service's file stays
    write_endpoint(tmp_path, "u")
    remove_endpoint(tmp_path)
    assert not endpoint_path(tmp_path).exists()
