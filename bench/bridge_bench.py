"""Bridge load benchmark: N concurrent clients for T seconds, through the bridge and direct.

    /work/main/.venv/bin/python -m bench.bridge_bench [--clients 8] [--seconds 20]
        [--rounds 2] [--keys] [--baseline] [--out .mmrag/bench/bridge.json]

Everything runs on loopback, in this run: the spyne SOAP server of the tests
(``tests/fixtures/bridge/soap_server.py``, its own process) serves the calculator service of
the corpus WSDL ``calculator.wsdl``; ``mmrag serve`` (its own process, uvicorn) bridges it as
the service ``calc``. Each phase runs ``--clients`` client threads for ``--seconds``:

- ``direct zeep``: each thread has its own ``zeep`` client (loaded through the translator's
  resolving transport) calling ``Add`` on the upstream: zeep builds, sends and parses;
- ``bridge``: each thread has its own ``httpx.Client`` posting the JSON request to
  ``POST /v1/bridge/calc/Add``: the bridge validates, builds the envelope with its own
  serializer, sends, translates;
- ``bridge + Idempotency-Key`` (``--keys``): the same with a fresh key per request (one
  embedded-store claim and completion per call);
- ``GET /healthz`` (``--baseline``): the same HTTP hop into ``mmrag serve`` without the
  bridge, i.e. what uvicorn and the app's middleware cost per request.

Phases alternate for ``--rounds`` rounds so drift on a shared machine hits them alike. Every
response is checked (status 200 and the right sum); anything else is an error. The overhead
ratio is direct throughput over bridge throughput (and bridge p50 over direct p50): what the
bridge costs compared with calling the upstream with zeep directly, on the same machine, in
the same minute. CPU milliseconds per request of each process (upstream, bridge, this
client process) come from /proc and ``os.times`` around each phase: they say where the cost
goes even when other work shares the machine. Bounded: at most 64 clients, 120 s per phase,
loopback only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "bridge"
SERVER = FIXTURES / "soap_server.py"
WSDL = FIXTURES / "calculator.wsdl"
BINDING = "{http://tempuri.org/}CalculatorSoap"


@dataclass
class Phase:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds

    def merge(self, other: Phase) -> None:
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:5]
        self.seconds += other.seconds
        for name, seconds in other.cpu_s.items():
            self.cpu_s[name] = self.cpu_s.get(name, 0.0) + seconds

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies_ms)
        return {
            "requests": len(values),
            "errors": self.errors,
            "throughput_rps": round(len(values) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(_percentile(values, 50), 2),
            "p99_ms": round(_percentile(values, 99), 2),
            "mean_ms": round(statistics.fmean(values), 2) if values else 0.0,
            "cpu_ms_per_request": {
                name: round(seconds * 1000 / len(values), 2) if values else 0.0
                for name, seconds in self.cpu_s.items()
            },
            "error_samples": self.error_samples,
        }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    index = min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))
    return values[index]


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process (``None``: this process, all threads)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def healthz(base: str) -> Callable[[], Callable[[int], None]]:
    """The same HTTP hop without the bridge: what uvicorn and the app's middleware cost."""

    def make() -> Callable[[int], None]:
        client = httpx.Client(base_url=base, timeout=30, trust_env=False)

        def call(packed: int) -> None:
            if client.get("/healthz").status_code != 200:
                raise ValueError("healthz failed")

        return call

    return make


def _run_clients(
    name: str, clients: int, seconds: float, make_call: Callable[[], Callable[[int], None]]
) -> Phase:
    """``clients`` threads, each with its own ``make_call()``, calling until the deadline."""
    phase = Phase(name)
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(seed: int) -> None:
        call = make_call()
        rng = random.Random(seed)
        local = Phase(name)
        start.wait()
        while time.perf_counter() < deadline[0]:
            a, b = rng.randint(-1000, 1000), rng.randint(-1000, 1000)
            began = time.perf_counter()
            try:
                call(a * 100_000 + b)
            except Exception as exc:  # every failure counts as an error
                local.errors += 1
                if len(local.error_samples) < 3:
                    local.error_samples.append(f"{type(exc).__name__}: {exc}"[:200])
            else:
                local.latencies_ms.append((time.perf_counter() - began) * 1000)
        with lock:
            phase.merge(local)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - began
    return phase


def _operands(packed: int) -> tuple[int, int]:
    a, b = divmod(packed, 100_000)
    if b > 50_000:
        a, b = a + 1, b - 100_000
    return a, b


def direct_zeep(upstream: str) -> Callable[[], Callable[[int], None]]:
    from translators.wsdl.zeep_support import zeep_client

    def make() -> Callable[[int], None]:
        client = zeep_client(WSDL)
        service = client.create_service(BINDING, f"{upstream}/calculator")

        def call(packed: int) -> None:
            a, b = _operands(packed)
            result = service.Add(intA=a, intB=b)
            if result != a + b:
                raise ValueError(f"{a}+{b} gave {result}")

        return call

    return make


def through_bridge(base: str, *, keys: bool) -> Callable[[], Callable[[int], None]]:
    def make() -> Callable[[int], None]:
        client = httpx.Client(base_url=base, timeout=30, trust_env=False)

        def call(packed: int) -> None:
            a, b = _operands(packed)
            headers = {"Idempotency-Key": uuid.uuid4().hex} if keys else {}
            response = client.post(
                "/v1/bridge/calc/Add", json={"Add": {"intA": a, "intB": b}}, headers=headers
            )
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}: {response.text[:120]}")
            result = response.json()["AddResponse"]["AddResult"]
            if result != a + b:
                raise ValueError(f"{a}+{b} gave {result}")

        return call

    return make


def _start(
    argv: list[str], env: dict[str, str], ready: Callable[[str], bool]
) -> tuple[subprocess.Popen[str], str]:
    """Start a child process; returns it and its line that said it is ready."""
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(f"{argv[1]} exited with {process.returncode}")
        if ready(line):
            threading.Thread(target=process.stdout.read, daemon=True).start()  # drain
            return process, line
    process.kill()
    raise RuntimeError(f"{argv[1]} did not start")


def _wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mmrag serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError("mmrag serve did not become healthy")


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keys", action="store_true", help="add a bridge phase with keys")
    parser.add_argument(
        "--baseline", action="store_true", help="add GET /healthz on the same server"
    )
    parser.add_argument("--max-concurrency", type=int, default=16, help="bridge upstream slots")
    parser.add_argument("--out", type=Path, default=REPO / ".mmrag" / "bench" / "bridge.json")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 64 or not 0 < args.seconds <= 120 or not 1 <= args.rounds <= 5:
        parser.error("bounded: 1..64 clients, 0..120 s per phase, 1..5 rounds")
    logging.basicConfig(level=logging.WARNING)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    upstream, line = _start(
        [sys.executable, str(SERVER), "--port", "0"], env, lambda line: "listening on" in line
    )
    tmp = Path(tempfile.mkdtemp(prefix="mmrag-bridge-bench-"))
    try:
        upstream_url = line.split()[-1]
        config = tmp / "bridge.json"
        endpoint = f"{upstream_url}/calculator"
        config.write_text(
            json.dumps({"services": [{"name": "calc", "wsdl": str(WSDL), "endpoint": endpoint}]})
        )
        port = _free_port()
        serve_env = {
            **env,
            "MMRAG_DATA_DIR": str(tmp / "data"),
            "MMRAG_API__WARMUP": "[]",
            "MMRAG_LOG_LEVEL": "WARNING",
            "MMRAG_BRIDGE__CONFIG_FILE": str(config),
            "MMRAG_BRIDGE__MAX_CONCURRENCY": str(args.max_concurrency),
        }
        bridge = subprocess.Popen(
            [sys.executable, "-m", "rag.cli.main", "serve", "--port", str(port)],
            env=serve_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, bridge)
            work = bridge_work(upstream_url)
            pids = {"upstream": upstream.pid, "bridge": bridge.pid, "clients": None}
            results = _measure(args, upstream_url, base, pids)
        finally:
            _stop(bridge)
    finally:
        _stop(upstream)
        shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "phases": results,
    }
    direct, bridged = results["direct zeep"], results["bridge"]
    report["bridge_work_per_call"] = work
    report["overhead"] = {
        "throughput_ratio": round(direct["throughput_rps"] / bridged["throughput_rps"], 2)
        if bridged["throughput_rps"]
        else None,
        "p50_ratio": round(bridged["p50_ms"] / direct["p50_ms"], 2) if direct["p50_ms"] else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    _print(report)
    return 1 if any(p["errors"] for p in results.values()) else 0


def _measure(
    args: argparse.Namespace, upstream: str, base: str, pids: dict[str, int | None]
) -> dict[str, Any]:
    # Warm up both paths (WSDL loads, connection pools) outside the measured windows.
    for make in (direct_zeep(upstream), through_bridge(base, keys=False)):
        call = make()
        for i in range(20):
            call(i)
    phases: dict[str, Phase] = {}
    plan: list[tuple[str, Callable[[], Callable[[int], None]]]] = [
        ("direct zeep", direct_zeep(upstream)),
        ("bridge", through_bridge(base, keys=False)),
    ]
    if args.keys:
        plan.append(("bridge + Idempotency-Key", through_bridge(base, keys=True)))
    if args.baseline:
        plan.append(("GET /healthz (hop only)", healthz(base)))
    for round_index in range(args.rounds):
        order = plan if round_index % 2 == 0 else list(reversed(plan))
        for name, make in order:
            before = {process: cpu_seconds(pid) for process, pid in pids.items()}
            phase = _run_clients(name, args.clients, args.seconds, make)
            phase.cpu_s = {p: cpu_seconds(pid) - before[p] for p, pid in pids.items()}
            print(f"round {round_index + 1}: {name}: {phase.summary()['throughput_rps']} req/s",
                  file=sys.stderr, flush=True)  # fmt: skip
            phases.setdefault(name, Phase(name)).merge(phase)
    return {name: phase.summary() for name, phase in phases.items()}


def bridge_work(upstream: str, repeat: int = 2000) -> dict[str, float]:
    """Microseconds per call of the bridge's own SOAP/JSON work, in this process: schema
    validation, the serializer building the envelope, translating a real reply (captured
    once), and the CPU the upstream client (:class:`Upstream`, httpx) spends per keep-alive
    POST to the live upstream (this process's CPU time only, the upstream's excluded)."""
    import asyncio

    from rag.runtime import Runtime
    from rag.settings import Settings
    from translators.bridge import ServiceSpec
    from translators.bridge.upstream import UpstreamReply

    with tempfile.TemporaryDirectory() as tmp:
        bridge = Runtime(Settings(_env_file=None, data_dir=Path(tmp))).bridge()  # type: ignore[call-arg]
        spec = ServiceSpec(name="calc", wsdl=str(WSDL), endpoint=f"{upstream}/calculator")
        loaded = bridge.load_sync(spec)
        bridge.translator.pinned[loaded.compiled.name] = loaded.compiled
        bound = loaded.operation("Add")
        data = {"Add": {"intA": 2, "intB": 3}}
        request = loaded.build(bound, data)
        response = httpx.post(bound.address, content=request.body, headers=request.headers)
        reply = UpstreamReply(200, response.headers["content-type"], response.content, 1, 0.0)
        timings: dict[str, float] = {}
        steps: dict[str, Callable[[], object]] = {
            "validate_us": lambda: loaded.validate(bound, data),
            "build_us": lambda: loaded.build(bound, data),
            "translate_us": lambda: bridge._translate(loaded, bound, reply),
        }
        for name, step in steps.items():
            began = time.perf_counter()
            for _ in range(repeat):
                step()
            timings[name] = round((time.perf_counter() - began) / repeat * 1e6, 1)

        async def posts(count: int) -> float:
            upstream_client = bridge._upstream(spec)
            for _ in range(20):  # warm the pool
                await upstream_client.post(bound.address, request, idempotent=False)
            began = time.process_time()
            for _ in range(count):
                await upstream_client.post(bound.address, request, idempotent=False)
            spent = time.process_time() - began
            await bridge.aclose()
            return spent

        timings["upstream_post_cpu_us"] = round(asyncio.run(posts(300)) / 300 * 1e6, 1)
    return timings


def _print(report: dict[str, Any]) -> None:
    print(f"\n{report['clients']} clients x {report['seconds_per_phase']} s x "
          f"{report['rounds']} round(s), loopback")  # fmt: skip
    print(f"{'path':<26}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
          "   CPU ms/request: upstream, bridge, clients")  # fmt: skip
    for name, phase in report["phases"].items():
        cpu = phase["cpu_ms_per_request"]
        print(
            f"{name:<26}{phase['requests']:>9}{phase['throughput_rps']:>8}"
            f"{phase['p50_ms']:>8}{phase['p99_ms']:>8}{phase['errors']:>7}"
            f"   {cpu['upstream']}, {cpu['bridge']}, {cpu['clients']}"
        )
    work = report["bridge_work_per_call"]
    print(f"bridge SOAP/JSON work per call (in-process): validate {work['validate_us']} us, "
          f"build {work['build_us']} us, translate {work['translate_us']} us, "
          f"upstream client CPU per POST {work['upstream_post_cpu_us']} us")  # fmt: skip
    overhead = report["overhead"]
    print(f"overhead: direct/bridge throughput {overhead['throughput_ratio']}x, "
          f"bridge/direct p50 {overhead['p50_ratio']}x")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
