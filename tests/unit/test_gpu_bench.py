"""bench.gpu_bench's pure parts (the bench itself runs in CI: .ci/run, `--quick`)."""

from __future__ import annotations

from bench.gpu_bench import QUICK, Result, _with_cross_encoder, render
from rag.settings import Settings


def test_ratio_is_mmrag_over_plain_and_absent_without_a_baseline() -> None:
    assert Result("text", "passages/s", 8, 30.0, 20.0).ratio == 1.5
    assert Result("rerank", "ms per query", 8, 12.0, None).ratio is None
    assert Result("speech", "audio s/s", 0, None, None).ratio is None


def test_render_shows_na_for_cpu_memory_and_every_note() -> None:
    table = render([Result("images", "images/s", 4, 2.0, 4.0, notes=["RANDOM CLIP weights"])])
    assert "0.50" in table
    assert "n/a/n/a" in table
    assert "images: RANDOM CLIP weights" in table


def test_cross_encoder_variant_changes_only_the_reranker_model() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    variant = _with_cross_encoder(settings, "/tmp/ce")
    assert variant.models.reranker.model == "/tmp/ce"
    assert variant.models.text == settings.models.text
    assert settings.models.reranker.model is None


def test_quick_sizes_are_small() -> None:
    assert QUICK.rerank_text + QUICK.rerank_image <= 100
    assert QUICK.texts <= 256
    assert QUICK.images <= 32
