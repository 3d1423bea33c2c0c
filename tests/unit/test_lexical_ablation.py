"""bench.lexical_ablation's scoring: the engine's IDF over the documents, merged vectors."""

from __future__ import annotations

import math

import pytest

from bench.lexical_ablation import _merge, scores


def idf(df: int, n: int = 3) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def test_scores_weight_each_shared_term_by_its_idf() -> None:
    docs = [{1: 1.0, 2: 1.0}, {2: 1.0}, {3: 2.0}]
    got = scores(docs, [{1: 1.0, 2: 1.0}])
    assert got[0, 0] == pytest.approx(idf(1) + idf(2))
    assert got[0, 1] == pytest.approx(idf(2))
    assert got[0, 2] == 0.0


def test_merged_documents_add_weights_and_queries_keep_one() -> None:
    assert _merge({1: 1.0, 2: 0.5}, {2: 0.5, 3: 1.0}, add=True) == {1: 1.0, 2: 1.0, 3: 1.0}
    assert _merge({1: 1.0}, {1: 1.0, 3: 1.0}, add=False) == {1: 1.0, 3: 1.0}


def test_the_ablations_mmrag_row_is_the_services_encoder_and_switches_change_it() -> None:
    from bench.lexical_ablation import _model, _vectors
    from rag.lexical import LexicalEncoder

    text = "Ποια τραγούδησε τον εθνικό ύμνο;"
    service = LexicalEncoder().document(text, "el")
    assert service is not None
    same = _vectors(_model("el", stem=True, stop=True, avg_len=None), [text], "el", query=False)
    assert same[0] == pytest.approx(dict(zip(service.indices, service.values, strict=True)))
    unstemmed = _vectors(
        _model("el", stem=False, stop=True, avg_len=None), [text], "el", query=False
    )
    assert set(unstemmed[0]) != set(same[0])
