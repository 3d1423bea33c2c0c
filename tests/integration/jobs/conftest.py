"""Real parts for job tests: Redis on 127.0.0.1:6379 (database 13, a key prefix per test),
separate `mmrag worker` / `mmrag serve` processes, the bundled models, shared test media.

Subprocesses run ``python -m rag.cli.main`` with this checkout first on PYTHONPATH, so they
run the code under test rather than whatever `mmrag` script is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from indexers.pipeline import Indexer
from rag.models import ModelRegistry
from rag.settings import JobsSettings, Settings
from rag.store.edge import EmbeddedStore
from tests.conftest import MODEL_CACHE, REPO_ROOT

REDIS_URL = "redis://127.0.0.1:6379/13"
TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="session")
def jobs_corpus(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """Eight files of every modality, small enough for CPU: four photos, two spoken
    sentences, two text documents."""
    root = tmp_path_factory.mktemp("jobs-corpus")
    images = sorted((shared_data / "image_caption/coco2017_subset/images/val2017").glob("*.jpg"))
    for image in images[20:24]:
        shutil.copy(image, root / image.name)
    speech = shared_data / "audio/ljspeech_coqui_tts/wavs"
    for name in ("LJ001-0002.mp3", "LJ001-0007.mp3"):
        shutil.copy(speech / name, root / name)
    for name in ("printing.md", "traffic-signs.txt"):
        shutil.copy(REPO_ROOT / "samples/text" / name, root / name)
    return root


@dataclass(frozen=True)
class Reference:
    """What plain `mmrag index` writes for a corpus: every point id, and its summary."""

    ids: frozenset[str]
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def reference(
    jobs_corpus: Path, models: ModelRegistry, tmp_path_factory: pytest.TempPathFactory
) -> Reference:
    data = tmp_path_factory.mktemp("reference")
    settings = Settings(_env_file=None, data_dir=data, cache_dir=MODEL_CACHE)  # type: ignore[call-arg]
    store = EmbeddedStore(data / "qdrant")
    report = Indexer(settings, models, store).index_paths([jobs_corpus])
    ids, states = store_points(store)
    store.close()
    assert report.ok
    assert states == {"live"}
    return Reference(frozenset(ids), report.to_json())


def store_points(store: EmbeddedStore, prefix: str = "mmrag") -> tuple[list[str], set[str]]:
    """Every point id in the three collections (a list: a duplicate would show), and the
    set of unit states seen. The engine's own count must agree with the scroll."""
    ids: list[str] = []
    states: set[str] = set()
    counted = 0
    for modality in ("text", "image", "audio"):
        name = f"{prefix}_{modality}"
        if not store.collection_exists(name):
            continue
        offset = None
        while True:
            points, offset = store.scroll(name, limit=256, offset=offset)
            ids += [p.id for p in points]
            states |= {p.payload["state"] for p in points}
            if offset is None:
                break
        counted += store.count(name)
    assert counted == len(ids)
    return ids, states


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"mmrag-it-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def base_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MMRAG_") and key != "PYTHONPATH"
    }
    env |= {
        "PYTHONPATH": str(REPO_ROOT),
        "MMRAG_DATA_DIR": str(data_dir),
        "MMRAG_CACHE_DIR": str(MODEL_CACHE),
        "MMRAG_API__WARMUP": "[]",
        "MMRAG_LOG_LEVEL": "INFO",
    }
    return env | extra


def redis_env(data_dir: Path, prefix: str, **extra: str) -> dict[str, str]:
    return base_env(
        data_dir,
        MMRAG_JOBS__BROKER_URL=REDIS_URL,
        MMRAG_JOBS__KEY_PREFIX=prefix,
        MMRAG_JOBS__BATCH_FILES="2",
        # short, so a SIGKILLed worker's batch comes back within seconds
        MMRAG_JOBS__VISIBILITY_TIMEOUT_S="6",
        # a dead runner's lease lapses well before its batch comes back
        MMRAG_JOBS__LEASE_S="3",
        **extra,
    )


def settings_from(env: dict[str, str]) -> Settings:
    """The settings the subprocesses see, for this process's own ledger reads."""
    jobs: dict[str, Any] = {}
    for key, value in env.items():
        if key.startswith("MMRAG_JOBS__"):
            name = key.removeprefix("MMRAG_JOBS__").lower()
            jobs[name] = json.loads(value) if name == "source_roots" else value
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(env["MMRAG_DATA_DIR"]),
        cache_dir=MODEL_CACHE,
        jobs=JobsSettings.model_validate(jobs),
    )


@dataclass
class Process:
    """A `python -m rag.cli.main ...` child with its output in a log file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rag.cli.main", *self.args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, text: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.args[0]} exited:\n{self.output()[-4000:]}")
            time.sleep(0.2)
        raise AssertionError(f"{self.args[0]} never printed {text!r}:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM (a warm shutdown) and wait; SIGKILL if it hangs."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode


@pytest.fixture
def processes() -> Iterator[Callable[..., Process]]:
    """Start processes; whatever is still running at the end is killed."""
    started: list[Process] = []

    def start(args: list[str], env: dict[str, str], log: Path) -> Process:
        process = Process(args, env, log).start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(base: str, process: Process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.proc is not None
        if process.proc.poll() is not None:
            raise AssertionError(f"the service exited:\n{process.output()[-4000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the service never answered:\n{process.output()[-4000:]}")


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
