"""eval.metrics against hand-computed values and an independent pure-python reference."""

from __future__ import annotations

import math
import random

import pytest

from eval.metrics import CURVE_K, METRICS, curve, evaluate, latency, mean

# ranking x, a, c, b (no ties); relevant: a (grade 1), b (grade 2); c judged non-relevant
QRELS = {"q": {"a": 1, "b": 2, "c": 0}}
RUN = {"q": {"x": 4.0, "a": 3.0, "c": 2.0, "b": 1.0}}


def ref_metrics(qrels: dict[str, int], run: dict[str, float]) -> dict[str, float]:
    """trec_eval's definitions, written out: linear gains for nDCG, ranks from 1."""
    ranked = [d for d, _ in sorted(run.items(), key=lambda kv: -kv[1])]
    relevant = {d for d, g in qrels.items() if g > 0}
    out = {}
    for k in CURVE_K:
        out[f"recall@{k}"] = len(relevant & set(ranked[:k])) / len(relevant)
    out["mrr@10"] = next((1 / rank for rank, d in enumerate(ranked[:10], 1) if d in relevant), 0.0)
    dcg = sum(qrels.get(d, 0) / math.log2(rank + 1) for rank, d in enumerate(ranked[:10], 1))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, 1))
    out["ndcg@10"] = dcg / idcg
    hits, precisions = 0, []
    for rank, d in enumerate(ranked, 1):
        if d in relevant:
            hits += 1
            precisions.append(hits / rank)
    out["map"] = sum(precisions) / len(relevant)
    return out


def test_hand_computed_example() -> None:
    m = evaluate(QRELS, RUN)["q"]
    assert m["recall@1"] == 0.0
    assert m["recall@2"] == 0.5  # a at rank 2
    assert m["recall@3"] == 0.5
    assert m["recall@5"] == 1.0  # b at rank 4
    assert m["mrr@10"] == 0.5
    # DCG = 1/log2(3) + 2/log2(5); IDCG = 2/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3) + 2 / math.log2(5)) / (2 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx(expected)
    assert m["map"] == pytest.approx((1 / 2 + 2 / 4) / 2)


def test_every_metric_is_reported() -> None:
    m = evaluate(QRELS, RUN)["q"]
    assert set(m) == set(METRICS)
    assert {f"recall@{k}" for k in CURVE_K} <= set(METRICS)
    assert METRICS[:6] == ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "map")


def test_mrr_counts_only_the_top_ten() -> None:
    run = {"q": {f"n{i}": 100.0 - i for i in range(10)} | {"a": 1.0}}
    m = evaluate({"q": {"a": 1}}, run)["q"]
    assert m["mrr@10"] == 0.0
    assert m["recall@10"] == 0.0
    assert m["recall@20"] == 1.0
    assert m["map"] == pytest.approx(1 / 11)


def test_unanswered_and_unjudged_queries() -> None:
    out = evaluate({"q1": {"a": 1}, "q2": {"b": 1}, "q3": {}}, {"q1": {"a": 1.0}})
    assert set(out) == {"q1", "q2"}  # q3 has no judgements
    assert all(v == 0.0 for v in out["q2"].values())  # no results scores 0
    assert out["q1"]["ndcg@10"] == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_matches_an_independent_reference(seed: int) -> None:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(150)]
    qrels = {d: rng.choice([1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 12))}
    qrels |= {d: 0 for d in rng.sample(docs, 5) if d not in qrels}
    scores = rng.sample(range(100_000), 120)  # distinct: no tie-breaking questions
    run = {d: float(s) for d, s in zip(rng.sample(docs, 120), scores, strict=True)}
    got = evaluate({"q": qrels}, {"q": run})["q"]
    for name, value in ref_metrics(qrels, run).items():
        assert got[name] == pytest.approx(value), name


def test_mean_and_curve() -> None:
    per_query = {
        "q1": dict.fromkeys(METRICS, 1.0),
        "q2": dict.fromkeys(METRICS, 0.0),
    }
    assert mean(per_query)["ndcg@10"] == 0.5
    assert mean(per_query, ["q1"])["recall@100"] == 1.0
    assert mean({}, []) == dict.fromkeys(METRICS, 0.0)
    assert curve(mean(per_query)) == {str(k): 0.5 for k in CURVE_K}


def test_latency() -> None:
    assert latency([]) == {"p50_ms": None, "p95_ms": None, "n": 0}
    out = latency([float(i) for i in range(1, 101)])
    assert out["n"] == 100
    assert out["p50_ms"] == 50.5
    assert out["p95_ms"] == pytest.approx(95.05)
