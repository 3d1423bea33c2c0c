"""bench.reliability's report: floor counts, weight shares and rank correlation per signal."""

from __future__ import annotations

import pytest

from bench.reliability import signal_report


def test_a_weight_that_follows_quality_correlates_and_a_flat_one_reads_none() -> None:
    weights = [
        {"text": 0.1, "bm25": 1.0},
        {"text": 0.5, "bm25": 1.0},
        {"text": 0.9, "bm25": 1.0},
    ]
    alone = {"text": [0.2, 0.5, 0.9], "bm25": [1.0, 0.0, 0.5]}
    report = signal_report(weights, alone, floor=0.1)
    assert report["text"]["spearman(weight, own ndcg)"] == pytest.approx(1.0)
    assert report["text"]["queries at floor"] == 1
    assert report["text"]["ndcg@10 alone"] == pytest.approx(0.533, abs=1e-3)
    assert report["text"]["mean weight share"] == pytest.approx(
        (0.1 / 1.1 + 0.5 / 1.5 + 0.9 / 1.9) / 3, abs=1e-3
    )
    # a constant weight predicts nothing: no correlation is reported
    assert report["bm25"]["spearman(weight, own ndcg)"] is None


def test_a_signal_missing_from_a_querys_weights_counts_as_weight_zero() -> None:
    report = signal_report([{"bm25": 1.0}, {"text": 0.4, "bm25": 0.4}], {"text": [0.0, 1.0]}, 0.1)
    assert report["text"]["queries at floor"] == 1
    assert report["text"]["spearman(weight, own ndcg)"] == pytest.approx(1.0)
