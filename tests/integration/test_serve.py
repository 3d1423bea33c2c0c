"""`mmrag serve` as a real process over real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import MODEL_CACHE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_readyz(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "MMRAG_DATA_DIR": str(tmp_path / "data"),
        "MMRAG_CACHE_DIR": str(MODEL_CACHE),
        "MMRAG_API__WARMUP": '["text"]',
    }
    mmrag = Path(sys.executable).with_name("mmrag")
    proc = subprocess.Popen(
        [str(mmrag), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert ready is not None, "the service never answered"
        assert ready.status_code == 200, ready.text
        assert ready.json()["models"]["text"]["state"] == "loaded"
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'mmrag_model_loaded{kind="text"} 1.0' in metrics
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "mmrag"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status reports it.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "shutting down" in output
    assert f"mmrag serving on http://127.0.0.1:{port}" in output
