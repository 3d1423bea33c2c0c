"""Job test fixtures: fake models with per-file hooks, both ledgers, a small corpus.

Redis-backed tests use database 13 of the Redis on 127.0.0.1:6379 and a key prefix of their
own, deleted afterwards, so they never meet another test's (or another engineer's) keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from rag.jobs.ledger import JobLedger
from rag.jobs.ledger_redis import RedisLedger
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.runner import JobContext
from rag.models import ModelRegistry
from rag.models.fakes import FakeClip, FakeMultilingual, FakeOcr, FakeTextEmbedder, FakeTranscriber
from rag.settings import Settings
from rag.store.edge import EmbeddedStore
from tests.conftest import SettingsFactory
from tests.media import png_bytes, write_wav

REDIS_URL = "redis://127.0.0.1:6379/13"

# Corpus images are single-coloured: a hook recognises a file by its colour.
COLOURS = {
    "a.png": (250, 10, 10),
    "b.png": (10, 250, 10),
    "c.png": (10, 10, 250),
    "d.png": (250, 250, 10),
    "e.png": (10, 250, 250),
}


class HookedOcr(FakeOcr):
    """The OCR step runs once per image file, inside the indexer's per-file work: a hook
    here acts "while that file is in progress" (kill the process, cancel the job...)."""

    def __init__(self) -> None:
        super().__init__("STOP sign")
        self.hooks: dict[tuple[int, int, int], Callable[[], None]] = {}
        self.seen: list[tuple[int, int, int]] = []

    def text(self, image: Any) -> str:
        colour = image.convert("RGB").getpixel((0, 0))
        self.seen.append(colour)
        hook = self.hooks.get(colour)
        if hook is not None:
            hook()
        return super().text(image)


class Fakes:
    def __init__(self) -> None:
        self.text = FakeTextEmbedder()
        self.clip = FakeClip()
        self.ocr = HookedOcr()
        self.whisper = FakeTranscriber()

    def registry(self, settings: Settings) -> ModelRegistry:
        return ModelRegistry(
            settings,
            loaders={
                "text": lambda _: self.text,
                "clip": lambda _: self.clip,
                "ocr": lambda _: self.ocr,
                "whisper": lambda _: self.whisper,
                "multilingual": lambda _: FakeMultilingual(),
            },
        )

    def on_image(self, name: str, hook: Callable[[], None]) -> None:
        self.ocr.hooks[COLOURS[name]] = hook


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for name, colour in COLOURS.items():
        (root / name).write_bytes(png_bytes(color=colour))
    write_wav(root / "talk.wav", [(2, True), (1, False), (1, True)])
    (root / "notes.txt").write_text("Clock towers keep time for the town square.\n")
    (root / "readme.docx").write_bytes(b"PK\x03\x04")  # not a type mmrag indexes
    return root


@pytest.fixture
def jobs_settings(make_settings: SettingsFactory) -> Settings:
    """Small batches, so a corpus of a few files makes several of them. One OCR worker: the
    hooks act "while that file is in progress", which holds only when images are read one
    at a time (with a pool, up to ``workers`` images are discovered and read ahead, so a
    stop set during one image is noticed up to that many files later)."""
    return make_settings(jobs={"batch_files": 3}, models={"ocr": {"workers": 1}})


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"mmrag-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(params=["sqlite", "redis"])
def ledger(
    request: pytest.FixtureRequest, tmp_path: Path, redis_prefix: str
) -> Iterator[JobLedger]:
    made: JobLedger
    if request.param == "sqlite":
        made = SqliteLedger(tmp_path / "jobs.sqlite3")
    else:
        made = RedisLedger(REDIS_URL, prefix=f"{redis_prefix}:jobs")
    yield made
    made.close()


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[SqliteLedger]:
    ledger = SqliteLedger(tmp_path / "data" / "jobs.sqlite3")
    yield ledger
    ledger.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    s = EmbeddedStore(tmp_path / "data" / "qdrant")
    yield s
    s.close()


@pytest.fixture
def context(
    jobs_settings: Settings, fakes: Fakes, store: EmbeddedStore, sqlite_ledger: SqliteLedger
) -> JobContext:
    return JobContext(jobs_settings, fakes.registry(jobs_settings), store, sqlite_ledger)
