"""Load on `mmrag serve` over loopback: N concurrent clients for T seconds, searches mixed
with small uploads.

    .venv/bin/python -m bench.api_load [--clients 50] [--seconds 60] [--upload-every 10]
        [--health-only] [--out .mmrag/bench/load.json]

Starts ``mmrag serve`` (its own process, real models) on a free loopback port with a fresh
data dir, indexes the bundled text samples through ``POST /v1/index``, waits until a search
answers, then runs ``--clients`` asyncio clients (one keep-alive connection each) for
``--seconds``. Each client sends a text search (queries that match samples/) and every
``--upload-every``-th request a small text upload instead. Reported: requests, answers by
status, 5xx and connection errors (target 0; 429s, the model pool's backpressure, are
counted on their own), p50/p95/max latency of the answered requests (200s and 429s apart),
throughput, and the server's peak RSS (VmHWM from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
QUERIES = [
    "red octagon stop sign",
    "history of printing",
    "clock tower",
    "horses on the beach",
    "how do I search by image",
    "yield sign triangle",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def served(env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """``mmrag serve`` on a free loopback port with a fresh data dir: yields (url, pid)."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="mmrag-load-") as tmp:
        full_env = {
            **os.environ,
            "MMRAG_DATA_DIR": str(Path(tmp) / "data"),
            "MMRAG_API__WARMUP": '["text"]',
            **(env or {}),
        }
        log = open(Path(tmp) / "serve.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli.main", "serve", "--port", str(port)],
            env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"mmrag serve exited: {(Path(tmp) / 'serve.log').read_text()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                time.sleep(0.5)
            else:
                raise RuntimeError("mmrag serve never became ready")
            yield url, proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def _peak_rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _server_loop() -> str:
    """What uvicorn's "auto" picks in the server's environment (same interpreter and path)."""
    import importlib.util

    found = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m) is not None]
    return "+".join(found) if found else "asyncio+h11"


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _client(url: str, n: int, until: float, upload_every: int, stats: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        i = 0
        while time.monotonic() < until:
            i += 1
            upload = upload_every > 0 and (i + n) % upload_every == 0
            started = time.perf_counter()
            try:
                if stats["health_only"]:
                    upload = False
                    response = await client.get("/healthz")
                elif upload:
                    text = f"Load note {n}-{i}: the stop sign is a red octagon.\n".encode()
                    response = await client.post(
                        "/v1/index", files={"files": (f"note-{n}-{i % 5}.txt", text, "text/plain")}
                    )
                else:
                    query = QUERIES[(n + i) % len(QUERIES)]
                    response = await client.post("/v1/search", json={"text": query, "k": 5})
            except httpx.TransportError as exc:
                stats["connection_errors"].append(type(exc).__name__)
                continue
            seconds = time.perf_counter() - started
            kind = "upload" if upload else "search"
            stats["status"][f"{kind} {response.status_code}"] += 1
            if response.status_code == 429:
                stats["latency_429"].append(seconds)
                retry = float(response.headers.get("retry-after", "1"))
                await asyncio.sleep(min(retry, max(0.0, until - time.monotonic())))
            elif response.status_code < 400:
                stats["latency_ok"].append(seconds)
            if response.status_code >= 500:
                stats["server_errors"].append(
                    f"{kind} {response.status_code} {response.text[:160]}"
                )


async def _load(
    url: str, clients: int, seconds: float, upload_every: int, health_only: bool = False
) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "health_only": health_only,
        "status": Counter(),
        "latency_ok": [],
        "latency_429": [],
        "connection_errors": [],
        "server_errors": [],
    }
    until = time.monotonic() + seconds
    await asyncio.gather(*(_client(url, n, until, upload_every, stats) for n in range(clients)))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--upload-every", type=int, default=10)
    parser.add_argument(
        "--health-only",
        action="store_true",
        help="GET /healthz instead: what uvicorn and the middleware cost, without model work",
    )
    parser.add_argument("--out", type=Path, default=Path(".mmrag/bench/load.json"))
    args = parser.parse_args(argv)
    if not (1 <= args.clients <= 200 and 1 <= args.seconds <= 300):
        parser.error("at most 200 clients and 300 s")
    with served() as (url, pid):
        samples = sorted((REPO / "samples" / "text").iterdir())
        files = [("files", (p.name, p.read_bytes(), "text/plain")) for p in samples]
        httpx.post(f"{url}/v1/index", files=files, timeout=600).raise_for_status()
        httpx.post(f"{url}/v1/search", json={"text": "warm up"}, timeout=600).raise_for_status()
        rss_before = _peak_rss_mb(pid)
        wall = time.perf_counter()
        stats = asyncio.run(
            _load(url, args.clients, args.seconds, args.upload_every, args.health_only)
        )
        wall = time.perf_counter() - wall
        peak = _peak_rss_mb(pid)
    ok, busy = stats["latency_ok"], stats["latency_429"]
    answered = sum(stats["status"].values())
    result = {
        "clients": args.clients,
        "health_only": args.health_only,
        "server_loop": _server_loop(),
        "seconds": args.seconds,
        "upload_every": args.upload_every,
        "requests": answered + len(stats["connection_errors"]),
        "by_status": dict(sorted(stats["status"].items())),
        "5xx": len(stats["server_errors"]),
        "connection_errors": len(stats["connection_errors"]),
        "429": sum(v for k, v in stats["status"].items() if k.endswith(" 429")),
        "ok_per_s": round(len(ok) / wall, 2),
        "ok_p50_s": round(_pct(ok, 0.50), 3),
        "ok_p95_s": round(_pct(ok, 0.95), 3),
        "ok_max_s": round(max(ok, default=float("nan")), 3),
        "429_p50_s": round(_pct(busy, 0.50), 4),
        "peak_rss_mb_before_load": round(rss_before, 1),
        "peak_rss_mb": round(peak, 1),
        "server_errors": stats["server_errors"][:20],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "mean_ok_s": round(statistics.fmean(ok), 3) if ok else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if not result["5xx"] and not result["connection_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
