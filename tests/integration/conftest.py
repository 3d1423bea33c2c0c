"""Integration fixtures: the real bundled models, loaded once per test run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.models import ModelRegistry
from rag.settings import Settings, get_settings
from tests.conftest import MODEL_CACHE, SHARED_DATA


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("mmrag-data")
    return Settings(_env_file=None, data_dir=data_dir, cache_dir=MODEL_CACHE)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def models(session_settings: Settings) -> ModelRegistry:
    """One registry for the whole run; loaders are cached per process, so every other
    registry built with the same model settings shares these weights."""
    return ModelRegistry(session_settings)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test material not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, session_settings: Settings) -> Iterator[None]:
    """Point the CLI (which reads settings from the environment) at the test dirs."""
    monkeypatch.setenv("MMRAG_DATA_DIR", str(session_settings.data_dir))
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(MODEL_CACHE))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
