from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from rag.settings import ClipSettings, Settings
from tests.conftest import REPO_ROOT


def _env_names(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_env_example_documents_every_setting() -> None:
    text = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*(MMRAG_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
    expected = _env_names(Settings, "MMRAG_")
    assert documented == expected, {
        "undocumented": sorted(expected - documented),
        "unknown": sorted(documented - expected),
    }


def test_env_example_explains_each_setting() -> None:
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#?\s*MMRAG_[A-Z0-9_]+=", line):
            previous = lines[i - 1]
            assert previous.startswith("#"), f"{line!r} has no comment above it"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MMRAG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MMRAG_MODELS__WHISPER__MODEL", "base")
    monkeypatch.setenv("MMRAG_MODELS__CLIP__BATCH_SIZE", "8")
    monkeypatch.setenv("MMRAG_API__WARMUP", '["text", "clip"]')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.data_dir == tmp_path
    assert settings.models.whisper.model == "base"
    assert settings.models.clip.batch_size == 8
    assert settings.api.warmup == ("text", "clip")
    assert settings.models_cache_dir == tmp_path / "cache" / "models"


def test_invalid_values_are_rejected_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_MODELS__DEVICE", "tpu")
    with pytest.raises(ValidationError, match="device"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_secret_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_MODELS__LLM__API_KEY", "sk-very-secret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "sk-very-secret" not in repr(settings)
    assert settings.models.llm.api_key is not None
    assert settings.models.llm.api_key.get_secret_value() == "sk-very-secret"


def test_model_sections_are_hashable_for_per_process_caching() -> None:
    assert hash(ClipSettings()) == hash(ClipSettings())
    with pytest.raises(ValidationError):
        ClipSettings(arch="ViT-B-32", unknown_field=1)  # type: ignore[call-arg]
