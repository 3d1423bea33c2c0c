"""eval.gap: the sub-datasets the modality-gap check searches (no models needed)."""

from __future__ import annotations

from pathlib import Path

from eval.dataset import CorpusItem, Dataset, QueryItem
from eval.gap import select_queries, single_modality
from rag.types import Modality


def _dataset(tmp_path: Path) -> Dataset:
    corpus = [
        CorpusItem("p1", Modality.TEXT, text="a passage"),
        CorpusItem("a1", Modality.AUDIO, file=tmp_path / "a1.wav"),
        CorpusItem("i1", Modality.IMAGE, file=tmp_path / "i1.jpg"),
    ]
    queries = [
        QueryItem("qt1", Modality.TEXT, text="passage"),
        QueryItem("qt2", Modality.TEXT, text="passage again"),
        QueryItem("qa", Modality.TEXT, text="speech"),
        QueryItem("qi", Modality.IMAGE, file=tmp_path / "i1.jpg"),
        QueryItem("unjudged", Modality.TEXT, text="x"),
    ]
    qrels = {
        "qt1": {"p1": 1, "a1": 0},
        "qt2": {"p1": 2},
        "qa": {"a1": 1},
        "qi": {"p1": 1},
    }
    return Dataset("mix", tmp_path, corpus, queries, qrels)


def test_select_queries_per_direction(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    assert [q.id for q in select_queries(data, 1).queries] == ["qt1", "qa", "qi"]
    assert [q.id for q in select_queries(data, None).queries] == ["qt1", "qt2", "qa", "qi"]


def test_single_modality_keeps_target_only(tmp_path: Path) -> None:
    data = _dataset(tmp_path)
    sub = single_modality(data, "text->text")
    assert sub.name == "mix-only-text"
    assert [c.id for c in sub.corpus] == ["p1"]
    assert [q.id for q in sub.queries] == ["qt1", "qt2"]
    assert sub.qrels == {"qt1": {"p1": 1}, "qt2": {"p1": 2}}  # a1 dropped
    audio = single_modality(data, "text->audio")
    assert [c.id for c in audio.corpus] == ["a1"]
    assert [q.id for q in audio.queries] == ["qa"]
