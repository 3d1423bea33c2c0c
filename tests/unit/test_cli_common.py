"""The CLI frame: one error -> exit-code table, and defaults taken from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from rag.cli import common
from rag.cli.main import app
from rag.errors import (
    BadInputError,
    ConfigError,
    ConflictError,
    MappingError,
    MmragError,
    ModelUnavailableError,
    NotFoundError,
    OverloadedError,
    SoapClientFaultError,
    SoapFaultError,
    StoreLockedError,
    UpstreamTimeoutError,
    UpstreamUnreachableError,
    XmlRejectedError,
)
from rag.media.errors import ExtractionError
from rag.runtime import Runtime
from rag.settings import get_settings


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadInputError("x"), 2),
        (ExtractionError("corrupt"), 2),
        (XmlRejectedError("dtd", reason="dtd"), 2),
        (NotFoundError("no such job"), 2),
        (MappingError("bad rule"), 6),  # a BadInputError, but more specific
        (SoapFaultError("down", fault_code="Server", reason="down"), 4),
        (SoapClientFaultError("refused", fault_code="Client", reason="no"), 4),
        (UpstreamTimeoutError("slow"), 5),
        (UpstreamUnreachableError("gone"), 5),
        (OverloadedError("full"), 5),
        (ConfigError("bad setting"), 3),
        (ModelUnavailableError("no weights", model="text"), 3),
        (StoreLockedError("held"), 3),
        (ConflictError("running"), 3),
        (MmragError("anything"), 3),
    ],
)
def test_exit_codes_follow_the_error_tree(error: MmragError, code: int) -> None:
    assert common.exit_code_for(error) == code


def test_every_code_in_the_table_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for code in {*common.EXIT_FOR_ERROR.values(), common.EXIT_FAILED, 130}:
        assert f"| {code} |" in readme, code


def test_fail_names_the_error_and_its_fields(capsys: pytest.CaptureFixture[str]) -> None:
    error = BadInputError("the request fails its schema")
    error.extra["errors"] = [{"path": "/Add/intA", "reason": "required"}]
    exit_ = common.fail(error)
    assert isinstance(exit_, typer.Exit)
    assert exit_.exit_code == 2
    err = capsys.readouterr().err
    assert "error (bad-input): the request fails its schema" in err
    assert "/Add/intA: required" in err


@pytest.fixture
def captured_search(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[Any]]:
    """``mmrag search`` with the searcher replaced by one that records the request."""
    monkeypatch.setenv("MMRAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MMRAG_SEARCH__DEFAULT_K", "7")
    get_settings.cache_clear()
    requests: list[Any] = []

    def searcher(self: Runtime, calibration: Any = None) -> Any:
        def search(request: Any, *, tenant: str) -> Any:
            requests.append(request)
            return SimpleNamespace(results=[], timings_ms={"total": 1.0})

        return SimpleNamespace(search=search)

    monkeypatch.setattr(Runtime, "searcher", searcher)
    yield requests
    get_settings.cache_clear()


def test_search_k_defaults_to_the_setting_like_the_api(captured_search: list[Any]) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["search", "printing press", "--json"]).exit_code == 0
    assert runner.invoke(app, ["search", "printing press", "-k", "3", "--json"]).exit_code == 0
    assert [r.k for r in captured_search] == [7, 3]
