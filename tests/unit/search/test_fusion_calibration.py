from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rerankers.calibration import (
    DEFAULT_PARAMS,
    Calibration,
    Logistic,
    fit_logistic,
    load_calibration,
    packaged_default,
)
from rerankers.fusion import RELIABILITY_FLOOR, fuse, reliability, rrf, sigmoid


def test_reliability_is_high_when_the_best_stands_out_and_low_when_flat() -> None:
    peaked = [9.0] + [1.0 + 0.01 * i for i in range(40)]
    flat = [0.40 + 0.001 * i for i in range(40)]
    assert reliability(peaked) == 1.0
    assert reliability(flat) < 0.5
    assert reliability([0.3] * 10) == pytest.approx(0.1)
    assert reliability([5.0, 1.0]) == 1.0  # too few to judge


def test_fuse_uses_only_signals_that_score_a_candidate() -> None:
    scores = {"text": {"a": 0.9, "b": 0.1}, "bm25": {"a": 0.0}}
    fused = fuse(["a", "b"], scores, {"text": 1.0, "bm25": 1.0}, lambda s, raw: raw)
    assert fused["a"].logit == pytest.approx(0.45)
    assert fused["b"].logit == pytest.approx(0.1)
    assert set(fused["b"].contributions) == {"text"}


def test_collapsed_signal_cannot_drown_a_good_one() -> None:
    """The motivating case: dense scores bunched together, lexical clear."""
    rng = random.Random(3)
    ids = [f"d{i}" for i in range(50)]
    dense = {d: 0.40 + rng.uniform(-0.02, 0.02) for d in ids}
    dense["d7"] = 0.39  # the relevant doc is not even dense's best
    lexical = dict.fromkeys(ids, 0.5) | {"d7": 9.0}
    calib = Calibration()

    def logit(signal: str, raw: float) -> float:
        return calib.logit("text", signal, raw)

    weights = {
        "text": reliability(list(dense.values())),
        "bm25": reliability(list(lexical.values())),
    }
    adaptive = fuse(ids, {"text": dense, "bm25": lexical}, weights, logit)
    assert max(adaptive, key=lambda d: adaptive[d].logit) == "d7"
    # The fixed recipe lets dense's noisy order pull another document above it.
    fixed = rrf([sorted(ids, key=lambda d: -dense[d]), sorted(ids, key=lambda d: -lexical[d])])
    assert max(fixed, key=fixed.__getitem__) != "d7"


def test_logistic_fit_recovers_the_generating_parameters() -> None:
    rng = random.Random(0)
    true = Logistic(8.0, -4.0)
    xs = [rng.uniform(0, 1) for _ in range(4000)]
    ys = [rng.random() < true(x) for x in xs]
    fitted = fit_logistic(xs, ys)
    assert fitted.a == pytest.approx(8.0, rel=0.15)
    assert fitted.b == pytest.approx(-4.0, rel=0.15)


def test_fit_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both"):
        fit_logistic([0.1, 0.2], [True, True])


def test_calibration_round_trip_and_current_pointer(tmp_path: Path) -> None:
    assert load_calibration(tmp_path).version == packaged_default().version
    calibration = Calibration(
        params={"audio": {"text": Logistic(10.0, -5.0)}}, version="v1", source="speech"
    )
    calibration.save(tmp_path)
    loaded = load_calibration(tmp_path)
    assert loaded.version == "v1"
    assert loaded.get("audio", "text") == Logistic(10.0, -5.0)
    assert loaded.get("image", "text") == DEFAULT_PARAMS["text"]
    assert loaded.probability("audio", "text", 0.5) == pytest.approx(0.5)


def test_bad_calibration_files_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "current.json").write_text(json.dumps({"current": "calibration-x.json"}))
    (tmp_path / "calibration-x.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ConfigError, match="format"):
        load_calibration(tmp_path)


def test_sigmoid_is_stable() -> None:
    assert sigmoid(-1000.0) == 0.0
    assert sigmoid(1000.0) == 1.0
    assert sigmoid(0.0) == 0.5
    assert math.isclose(sigmoid(2.0) + sigmoid(-2.0), 1.0)


def test_reliability_reads_only_the_best_window_of_scores() -> None:
    from rerankers.fusion import FusionParams

    params = FusionParams(window=5)
    head = [9.0, 2.0, 1.9, 1.8, 1.7]
    tail = [1.0 - 0.001 * i for i in range(200)]
    # However deep the request retrieved, the same head gives the same reliability.
    assert reliability(head + tail, params) == reliability(head, params)
    assert reliability(list(reversed(head + tail)), params) == reliability(head, params)


def test_a_few_tied_matches_over_non_matches_are_a_clean_separation() -> None:
    """Six candidates share the query's word with equal scores, the rest share nothing: the
    signal separates them cleanly whatever the group's size; max-z alone would call it doubt."""
    assert reliability([4.2] * 6 + [0.0] * 14, sparse=True) == 1.0
    assert reliability([4.2] * 6 + [1.0] + [0.0] * 13, sparse=True) == 1.0
    assert reliability([4.2] * 6 + [0.0] * 14) < 0.2  # what max-z alone makes of it
    # a majority of matches: back to max-z (here nothing stands out)
    assert reliability([4.2] * 12 + [0.0] * 8, sparse=True) == RELIABILITY_FLOOR
    assert reliability([0.0] * 20, sparse=True) == RELIABILITY_FLOOR
