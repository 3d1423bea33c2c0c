"""Rerank only moves a query's ranking as far as fusion trusted the reranking model."""

from __future__ import annotations

from rerankers.calibration import LEXICAL, MULTI_DENSE, RERANK_CLIP, RERANK_TEXT, TEXT_DENSE
from rerankers.trust import covers, relative_trust, rerank_trust


def test_a_collapsed_dense_signal_gets_no_say_in_rerank() -> None:
    weights = {TEXT_DENSE: 0.1, LEXICAL: 1.0, MULTI_DENSE: 0.7}
    trust = rerank_trust(
        RERANK_TEXT, weights, cross_encoder=False, own_reliability=1.0, covered=True
    )
    assert trust == 0.0


def test_the_most_reliable_signal_reranks_fully() -> None:
    weights = {TEXT_DENSE: 0.9, LEXICAL: 0.4}
    assert (
        rerank_trust(RERANK_TEXT, weights, cross_encoder=False, own_reliability=0.0, covered=True)
        == 1.0
    )


def test_trust_is_relative_and_monotonic() -> None:
    weights = {TEXT_DENSE: 0.5, LEXICAL: 1.0}
    middle = relative_trust(0.5, weights)
    assert 0.0 < middle < 1.0
    assert relative_trust(0.3, weights) < middle < relative_trust(0.8, weights)


def test_a_model_that_does_not_cover_the_language_never_reranks() -> None:
    weights = {TEXT_DENSE: 1.0}
    assert (
        rerank_trust(RERANK_TEXT, weights, cross_encoder=False, own_reliability=1.0, covered=False)
        == 0.0
    )
    assert not covers(("en",), "ar")
    assert covers(("en",), "und")
    assert covers((), "th")


def test_cross_encoder_is_trusted_by_the_shape_of_its_own_scores() -> None:
    trust = rerank_trust(
        RERANK_TEXT, {LEXICAL: 1.0}, cross_encoder=True, own_reliability=0.4, covered=True
    )
    assert trust == 0.4


def test_pixels_follow_the_clip_signals() -> None:
    from rerankers.calibration import CLIP_IMAGE

    weights = {CLIP_IMAGE: 1.0, TEXT_DENSE: 0.2}
    assert (
        rerank_trust(RERANK_CLIP, weights, cross_encoder=False, own_reliability=0.0, covered=True)
        == 1.0
    )
