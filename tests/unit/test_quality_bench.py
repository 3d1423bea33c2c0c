"""bench.quality_bench's pure parts: the plain baselines' evaluation and the collections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.quality_bench import TEXT, bm25_rankings, collection, metrics
from eval.dataset import CorpusItem, Dataset, QueryItem
from rag.types import Modality

HAVE_XQUAD = (TEXT / "xquad" / "de").is_dir() and (TEXT / "xquad" / "ru").is_dir()


def _dataset() -> Dataset:
    texts = ["the relevant passage", "cats and dogs", "weather report", "stock prices"]
    corpus = [CorpusItem(id=f"d{i}", modality=Modality.TEXT, text=t) for i, t in enumerate(texts)]
    queries = [QueryItem(id="q0", modality=Modality.TEXT, text="zzz unknown words")]
    return Dataset("t", Path("."), corpus, queries, qrels={"q0": {"d0": 1}})


def test_a_lexical_run_lists_only_passages_sharing_a_term() -> None:
    dataset = _dataset()
    docs = [c.text or "" for c in dataset.corpus]
    scores = bm25_rankings(docs, ["zzz unknown words"])
    assert not scores.any()
    ids = [c.id for c in dataset.corpus]
    # Every passage scores 0: listed anyway, corpus order "finds" the first passage.
    assert metrics(dataset, scores, ids)["ndcg@10"] == 1.0
    # Listed as an engine would, nothing is found.
    assert metrics(dataset, scores, ids, matches_only=True)["ndcg@10"] == 0.0


def test_matches_only_keeps_the_order_of_the_matches() -> None:
    dataset = _dataset()
    scores = np.array([[0.5, 2.0, 0.0, 0.0]], dtype=np.float32)
    ids = [c.id for c in dataset.corpus]
    found = metrics(dataset, scores, ids, matches_only=True)
    assert found["recall@10"] == 1.0
    assert 0.0 < found["ndcg@10"] < 1.0  # the relevant passage is second


@pytest.mark.skipif(not HAVE_XQUAD, reason="../shared/data XQuAD not present")
def test_cross_lingual_collection_asks_in_one_language_over_the_other(tmp_path: Path) -> None:
    dataset = collection("de-ru", tmp_path, docs=30, queries=5)
    german = collection("de", tmp_path / "de", docs=30, queries=5)
    russian = collection("ru", tmp_path / "ru", docs=30, queries=5)
    assert [q.text for q in dataset.judged_queries] == [q.text for q in german.judged_queries]
    assert [c.text for c in dataset.corpus] == [c.text for c in russian.corpus]
    assert dataset.qrels == russian.qrels


def test_full_pipeline_is_compared_query_by_query_with_the_best_plain_tool() -> None:
    from bench.quality_bench import against_best_plain

    row = {
        "bm25": {"ndcg@10": 0.5, "per_query": [1.0, 0.0, 0.5, 0.5]},
        "minilm": {"ndcg@10": 0.625, "per_query": [1.0, 0.5, 0.5, 0.5]},
        "usem3": {"ndcg@10": 0.25, "per_query": [0.0, 0.5, 0.5, 0.0]},
        "mmrag": {"full": {"ndcg@10": 0.5, "per_query": [1.0, 0.5, 0.0, 0.5]}},
    }
    result = against_best_plain(row)
    assert result["best_plain"] == "minilm"
    assert result["difference"] == pytest.approx(-0.125)
    assert (result["queries_better"], result["queries_worse"]) == (0, 1)
    assert 0.0 < result["p_value"] <= 1.0  # one query of four: far from significant


def test_metrics_keep_each_querys_ndcg_in_query_order() -> None:
    dataset = _dataset()
    scores = np.array([[0.5, 2.0, 0.0, 0.0]], dtype=np.float32)
    found = metrics(dataset, scores, [c.id for c in dataset.corpus])
    assert found["per_query"] == [pytest.approx(found["ndcg@10"], abs=1e-3)]


def test_equal_scores_rank_by_document_id_not_corpus_order() -> None:
    """The subsets put judged passages first: a tie must not favour them by position."""
    texts = ["the relevant passage", "cats and dogs", "weather report"]
    corpus = [
        CorpusItem(id=name, modality=Modality.TEXT, text=t)
        for name, t in zip(("z-relevant", "a-other", "m-other"), texts, strict=True)
    ]
    query = QueryItem(id="q0", modality=Modality.TEXT, text="x")
    dataset = Dataset("t", Path("."), corpus, [query], qrels={"q0": {"z-relevant": 1}})
    tied = np.array([[1.0, 1.0, 1.0]], dtype=np.float32)
    found = metrics(dataset, tied, [c.id for c in corpus])
    assert found["ndcg@10"] == pytest.approx(0.5)  # third of three, not first


def test_plain_words_keep_their_combining_marks() -> None:
    """Python's \\w leaves out Devanagari vowel signs: a Hindi word must stay one word."""
    from bench.quality_bench import tokens

    assert tokens("हिन्दी भाषा में") == ["हिन्दी", "भाषा", "में"]
    assert tokens("Hello, world 42") == ["hello", "world", "42"]
    assert tokens("北京大学") == ["北京", "京大", "大学"]


def test_stage_names_are_the_stage_configs() -> None:
    from bench.quality_bench import STAGES, stage_configs

    assert tuple(c.name for c in stage_configs()) == STAGES


def test_every_ablation_changes_real_fusion_params_and_none_is_the_default() -> None:
    """Each ablation row is the full pipeline with FusionParams changed: a misspelt field
    would fail the run after an hour of indexing, and a change equal to the default would
    measure nothing."""
    from dataclasses import replace

    from bench.quality_bench import ABLATIONS, STAGES
    from rerankers.fusion import FusionParams

    default = FusionParams()
    names = [name for name, _ in ABLATIONS.values()]
    assert len(set(names)) == len(names)
    assert not set(ABLATIONS) & set(STAGES)
    for _, changes in ABLATIONS.values():
        assert replace(default, **changes) != default


def test_stages_must_include_the_full_pipeline() -> None:
    from bench.quality_bench import main

    with pytest.raises(SystemExit):
        main(["--stages", "sparse"])


@pytest.mark.skipif(not HAVE_XQUAD, reason="../shared/data XQuAD not present")
def test_a_whole_collection_is_every_passage_and_every_judged_question(tmp_path: Path) -> None:
    from eval.dataset import load_dataset

    shared = load_dataset(TEXT / "xquad" / "de")
    whole = collection("de", tmp_path, None, None)
    assert {c.id for c in whole.corpus} == {c.id for c in shared.corpus}
    assert [q.id for q in whole.judged_queries] == [q.id for q in shared.judged_queries]
    cut = collection("de", tmp_path / "cut", 40, 5)
    assert len(cut.judged_queries) == 5
    assert len(cut.corpus) == 40


@pytest.mark.skipif(
    not (TEXT / "agentset_beir_subsets" / "msmarco").is_dir(), reason="MS MARCO not present"
)
def test_whole_ms_marco_is_the_shared_subset_as_is(tmp_path: Path) -> None:
    source = TEXT / "agentset_beir_subsets" / "msmarco" / "corpus.jsonl"
    whole = collection("msmarco", tmp_path, None, None)
    lines = source.read_text(encoding="utf-8").split("\n")
    assert len(whole.corpus) == sum(1 for line in lines if line.strip())


def test_an_unreadable_encoding_cache_is_ignored_and_saves_replace_it_whole(
    tmp_path: Path,
) -> None:
    """A run stopped while saving must not break the next one: the cache is read if it can
    be, written to a side file and moved into place."""
    from bench.quality_bench import CachedEncoder

    class Inner:
        dim, version = 2, "v"

        def encode(self, texts: list[str]) -> np.ndarray:
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    (tmp_path / "enc.npz").write_bytes(b"half a zip")
    encoder = CachedEncoder(Inner(), tmp_path, "enc")
    assert encoder.memory == {}
    assert encoder.encode(["abc"]).tolist() == [[3.0, 1.0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.npz"]
    assert CachedEncoder(Inner(), tmp_path, "enc").memory.keys() == encoder.memory.keys()
