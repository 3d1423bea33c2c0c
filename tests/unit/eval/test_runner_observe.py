"""run_queries hands each query's response to ``observe`` from the search that ranks it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from eval.dataset import CorpusItem, Dataset, QueryItem
from eval.runner import IndexedDataset, RunConfig, run_queries
from rag.search.pipeline import Searcher, SearchOptions
from rag.search.request import SearchRequest
from rag.search.results import QueryInfo, ResultLocator, SearchHit, SearchResponse
from rag.settings import Settings
from rag.types import Modality


class _Searcher:
    """Ranks record 1 above record 0 and fails on the query 'boom'."""

    def __init__(self) -> None:
        self.requests: list[SearchRequest] = []

    def search(self, request: SearchRequest, **_: Any) -> SearchResponse:
        self.requests.append(request)
        if request.text == "boom":
            raise RuntimeError("store went away")
        hits = [
            SearchHit(
                id=f"p{record}",
                modality="text",
                score=0.9 - record / 10,
                source="corpus.jsonl",
                source_name="corpus.jsonl",
                locator=ResultLocator(record=record),
                snippet="",
                media_url="",
                explain={"weights": {"text": 1.0}} if request.explain else None,
            )
            for record in (1, 0)
        ]
        return SearchResponse(
            results=hits, query=QueryInfo(text=request.text), timings_ms={}, calibration="default"
        )


def _dataset() -> Dataset:
    corpus = [CorpusItem("d0", Modality.TEXT, "zero"), CorpusItem("d1", Modality.TEXT, "one")]
    queries = [QueryItem("q1", Modality.TEXT, "one"), QueryItem("q2", Modality.TEXT, "boom")]
    qrels = {"q1": {"d1": 1}, "q2": {"d0": 1}}
    return Dataset("tiny", Path("."), corpus, queries, qrels)


def test_observe_sees_each_answered_querys_explained_response_from_the_same_search() -> None:
    dataset = _dataset()
    indexed = IndexedDataset(Settings(), "corpus.jsonl", ["d0", "d1"], {})
    searcher = _Searcher()
    seen: dict[str, SearchResponse] = {}
    config = RunConfig("full", SearchOptions(), 30)
    result = run_queries(
        dataset,
        indexed,
        cast(Searcher, searcher),
        config,
        observe=lambda query, response: seen.__setitem__(query.id, response),
    )
    assert len(searcher.requests) == 2  # one search per query, no second pass
    assert all(r.explain for r in searcher.requests)
    assert list(seen) == ["q1"]  # the failed query is recorded, not observed
    assert seen["q1"].results[0].explain == {"weights": {"text": 1.0}}
    assert result.results[0].ranking == {"d1": 2.0, "d0": 1.0}
    assert result.results[1].error == "store went away"


def test_without_observe_requests_are_not_explained() -> None:
    searcher = _Searcher()
    run_queries(
        _dataset(),
        IndexedDataset(Settings(), "corpus.jsonl", ["d0", "d1"], {}),
        cast(Searcher, searcher),
        RunConfig("full", SearchOptions(), 30),
    )
    assert not any(r.explain for r in searcher.requests)
