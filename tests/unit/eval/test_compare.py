"""eval.compare: the paired test and the gate's verdicts on synthetic per-query data."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from eval.compare import (
    CompareInputError,
    compare_runs,
    load_runs,
    paired_p_value,
)
from rag.cli.main import app

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "map")


def run_file(
    scores: dict[str, float],
    *,
    dataset: str = "toy",
    config: str = "full",
    directions: dict[str, str] | None = None,
    clip_random: bool = False,
) -> dict[str, Any]:
    per_query = {q: dict.fromkeys(METRICS, s) for q, s in scores.items()}
    run: dict[str, Any] = {
        "dataset": dataset,
        "config": config,
        "meta": {"clip_random": clip_random},
        "per_query": per_query,
    }
    if directions is not None:
        run["query_directions"] = directions
    return {"dataset": dataset, "runs": [run]}


def scores(n: int, seed: int, shift: float = 0.0, noise: float = 0.0) -> dict[str, float]:
    rng = random.Random(seed)
    base = random.Random(0)
    out = {}
    for i in range(n):
        value = base.uniform(0.2, 0.8) + shift + rng.uniform(-noise, noise)
        out[f"q{i}"] = min(1.0, max(0.0, value))
    return out


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_identical_runs_are_not_a_regression() -> None:
    data = run_file(scores(40, 1))
    result = compare_runs(data["runs"], data["runs"])
    [c] = result.comparisons
    assert c.verdict == "same"
    assert c.p_value == 1.0
    assert c.delta == 0.0
    assert not result.regressions


def test_consistent_drop_is_a_significant_regression() -> None:
    base = run_file(scores(40, 1))
    new = run_file(scores(40, 1, shift=-0.1, noise=0.02))
    result = compare_runs(base["runs"], new["runs"])
    [c] = result.comparisons
    assert c.verdict == "regression"
    assert c.p_value < 0.001
    assert c.delta < -0.05
    assert c.secondary_deltas["recall@10"] < 0


def test_consistent_gain_is_an_improvement_not_a_regression() -> None:
    base = run_file(scores(40, 1))
    new = run_file(scores(40, 1, shift=0.1, noise=0.02))
    result = compare_runs(base["runs"], new["runs"])
    assert result.comparisons[0].verdict == "improvement"
    assert not result.regressions


def test_noise_is_not_significant() -> None:
    base = run_file(scores(40, 1))
    new = run_file(scores(40, 2, noise=0.05))
    result = compare_runs(base["runs"], new["runs"])
    [c] = result.comparisons
    assert c.p_value > 0.05
    assert c.verdict == "not significant"


def test_a_single_changed_query_out_of_few_is_not_significant() -> None:
    base = {f"q{i}": 1.0 for i in range(5)}
    new = dict(base, q0=0.0)
    result = compare_runs(run_file(base)["runs"], run_file(new)["runs"])
    assert result.comparisons[0].verdict == "not significant"


def test_min_delta_tolerates_small_significant_drops() -> None:
    base = run_file(scores(60, 1))
    new = run_file(scores(60, 1, shift=-0.01, noise=0.001))
    strict = compare_runs(base["runs"], new["runs"])
    tolerant = compare_runs(base["runs"], new["runs"], min_delta=0.02)
    assert strict.comparisons[0].verdict == "regression"
    assert tolerant.comparisons[0].verdict == "within tolerance"
    assert not tolerant.regressions


def test_exact_small_sample_p_value() -> None:
    # 6 queries all worse by the same amount: of the 2^6 sign patterns only the all-minus
    # and all-plus ones are as extreme, so the exact two-sided p-value is 2/64.
    assert paired_p_value([0.5] * 6, [0.4] * 6) == pytest.approx(2 / 64)


def test_p_value_is_reproducible() -> None:
    base, new = list(scores(200, 1).values()), list(scores(200, 3, noise=0.1).values())
    assert paired_p_value(base, new) == paired_p_value(base, new)


def test_missing_queries_compare_the_shared_ones_and_say_so() -> None:
    base = scores(30, 1)
    new = {q: s for q, s in base.items() if q not in ("q0", "q1")} | {"extra": 0.0}
    result = compare_runs(run_file(base)["runs"], run_file(new)["runs"])
    [c] = result.comparisons
    assert (c.queries, c.base_only, c.new_only) == (28, 2, 1)
    assert c.verdict == "same"


def test_directions_are_compared_separately() -> None:
    base_scores = scores(40, 1)
    directions = {q: ("text->image" if i % 2 else "text->text") for i, q in enumerate(base_scores)}
    new_scores = {
        q: (s - 0.3 if directions[q] == "text->image" else s) for q, s in base_scores.items()
    }
    result = compare_runs(
        run_file(base_scores, directions=directions, clip_random=True)["runs"],
        run_file(new_scores, directions=directions)["runs"],
    )
    verdicts = {c.direction: (c.verdict, c.clip_random) for c in result.comparisons}
    assert verdicts == {"text->image": ("regression", True), "text->text": ("same", False)}


def test_no_common_dataset_is_an_input_error() -> None:
    with pytest.raises(CompareInputError, match="no dataset/config in common"):
        compare_runs(
            run_file({"q": 1.0}, dataset="a")["runs"], run_file({"q": 1.0}, dataset="b")["runs"]
        )


def test_no_shared_queries_is_an_input_error() -> None:
    with pytest.raises(CompareInputError, match="share no query ids"):
        compare_runs(run_file({"a": 1.0})["runs"], run_file({"b": 1.0})["runs"])


def test_unknown_metric_is_an_input_error() -> None:
    data = run_file({"q": 1.0})["runs"]
    with pytest.raises(CompareInputError, match="unknown metric"):
        compare_runs(data, data, metric="p@3")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not an eval run file"),
        ('{"runs": [{"dataset": "x", "config": "y"}]}', "no 'per_query'"),
    ],
)
def test_bad_files_are_input_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CompareInputError, match=message):
        load_runs(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(CompareInputError, match="no such file"):
        load_runs(tmp_path / "nope.json")


def test_a_folder_loads_every_run_file_but_the_summary(tmp_path: Path) -> None:
    write(tmp_path / "a.json", run_file({"q": 1.0}, dataset="a"))
    write(tmp_path / "b.json", run_file({"q": 1.0}, dataset="b"))
    write(tmp_path / "summary.json", {"kind": "mmrag-eval-summary", "datasets": []})
    assert sorted(r["dataset"] for r in load_runs(tmp_path)) == ["a", "b"]


runner = CliRunner()


def test_cli_exit_codes(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", run_file(scores(40, 1)))
    worse = write(tmp_path / "worse.json", run_file(scores(40, 1, shift=-0.1, noise=0.02)))
    better = write(tmp_path / "better.json", run_file(scores(40, 1, shift=0.1, noise=0.02)))
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert runner.invoke(app, ["eval", "compare", str(base), str(base)]).exit_code == 0
    assert runner.invoke(app, ["eval", "compare", str(base), str(better)]).exit_code == 0
    result = runner.invoke(app, ["eval", "compare", str(base), str(worse), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["regressions"] == 1
    result = runner.invoke(app, ["eval", "compare", str(base), str(bad)])
    assert result.exit_code == 2
    assert "bad.json" in result.output
    assert "not an eval run file" in result.output
