"""The eval gate on a tiny real dataset: the unchanged pipeline passes (and is deterministic),
a degraded pipeline or a better baseline is caught as a significant regression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval import converters, devsets
from eval.compare import CompareInputError
from eval.runner import RunConfig
from rag.cli.main import app
from rag.search.pipeline import SearchOptions
from rag.settings import Settings
from rerankers.calibration import CLIP_TEXT

pytestmark = pytest.mark.slow

TINY = devsets.DevSet(
    "msmarco-tiny",
    "10 MS MARCO queries, 5 judged passages each + 30 distractors",
    lambda shared, out: converters.msmarco(
        shared, out, limit_queries=10, docs_per_query=5, distractors=30, name="msmarco-tiny"
    ),
)


@pytest.fixture(scope="module")
def baseline(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path, session_settings: Settings
) -> Path:
    folder = tmp_path_factory.mktemp("baseline")
    devsets.run_dev_sets(shared_data, folder, settings=session_settings, sets=[TINY])
    return folder


def test_unchanged_pipeline_passes_and_is_deterministic(
    baseline: Path, tmp_path: Path, shared_data: Path, session_settings: Settings
) -> None:
    summary, result = devsets.gate(
        shared_data, tmp_path, settings=session_settings, baselines=baseline, candidates=[TINY]
    )
    assert [c.verdict for c in result.comparisons] == ["same"]
    assert not result.regressions
    assert summary["datasets"][0]["queries"] == 10
    before = json.loads((baseline / "msmarco-tiny.json").read_text())["runs"][0]
    after = json.loads((tmp_path / "msmarco-tiny.json").read_text())["runs"][0]
    assert before["per_query"] == after["per_query"]  # a fresh index, the same numbers


def test_degraded_pipeline_is_a_regression(
    baseline: Path,
    tmp_path: Path,
    shared_data: Path,
    session_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The "full" config silently reduced to the (random-weight) CLIP text signal alone.
    broken = RunConfig("full", SearchOptions(signals=(CLIP_TEXT,)), 0)
    monkeypatch.setattr("eval.runner.FULL", broken)
    _, result = devsets.gate(
        shared_data, tmp_path, settings=session_settings, baselines=baseline, candidates=[TINY]
    )
    [comparison] = result.comparisons
    assert comparison.verdict == "regression"
    assert comparison.delta < 0
    assert comparison.p_value < 0.05
    # the CLI on the same files says so with exit code 1, and 0 the other way round
    runner = CliRunner()
    worse = runner.invoke(app, ["eval", "compare", str(baseline), str(tmp_path)])
    assert worse.exit_code == 1, worse.output
    better = runner.invoke(app, ["eval", "compare", str(tmp_path), str(baseline)])
    assert better.exit_code == 0, better.output


def test_other_material_than_the_baseline_is_not_compared(
    baseline: Path, tmp_path: Path, shared_data: Path, session_settings: Settings
) -> None:
    edited = tmp_path / "baselines"
    edited.mkdir()
    document = json.loads((baseline / "msmarco-tiny.json").read_text())
    document["fingerprint"] = "0" * 16
    (edited / "msmarco-tiny.json").write_text(json.dumps(document))
    with pytest.raises(CompareInputError, match="refresh the baselines"):
        devsets.gate(
            shared_data,
            tmp_path / "work",
            settings=session_settings,
            baselines=edited,
            candidates=[TINY],
        )
