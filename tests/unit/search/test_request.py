from __future__ import annotations

import pytest

from rag.errors import BadInputError
from rag.search.request import (
    SearchFilters,
    SearchRequest,
    collections_for,
    store_filter,
    validate,
)
from rag.settings import SearchSettings
from rag.store.base import Filter, MatchAny, MatchValue, Range
from rag.types import Modality

LIMITS = SearchSettings()


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SearchRequest(), "empty query"),
        (SearchRequest(text="   "), "empty query"),
        (SearchRequest(text="x" * 5000), "limit is 2000"),
        (SearchRequest(text="q", k=0), "k must be"),
        (SearchRequest(text="q", k=101), "k must be"),
        (SearchRequest(text="q", rerank_depth=-1), "rerank_depth"),
        (SearchRequest(text="q", rerank_depth=999), "rerank_depth"),
        (SearchRequest(text="q", filters=SearchFilters(modalities=())), "modalities is empty"),
        (SearchRequest(text="q", filters=SearchFilters(fields={"tenant": "other"})), "tenant"),
        (SearchRequest(text="q", filters=SearchFilters(fields={"state": "pending"})), "state"),
        (SearchRequest(text="q", filters=SearchFilters(fields={"a b": "x"})), "cannot filter"),
        (SearchRequest(text="q", filters=SearchFilters(fields={"x": [1, "a"]})), "mixes"),
        (SearchRequest(text="q", filters=SearchFilters(fields={"x": []})), "list must"),
        (SearchRequest(text="q", filters=SearchFilters(fields={"x": {"$gt": 1}})), "must be"),
        (SearchRequest(text="q", filters=SearchFilters(start_s=10, end_s=5)), "after"),
        (SearchRequest(text="q", filters=SearchFilters(start_s=-1)), ">= 0"),
    ],
)
def test_bad_requests_name_the_problem(request_: SearchRequest, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        validate(request_, LIMITS)


def test_valid_request_is_trimmed() -> None:
    assert validate(SearchRequest(text="  dogs  "), LIMITS).text == "dogs"
    assert validate(SearchRequest(image=b"x"), LIMITS).text is None


def test_store_filter_always_carries_tenant_and_liveness() -> None:
    where = store_filter("acme", SearchFilters())
    assert where.must[:2] == (MatchValue("tenant", "acme"), MatchValue("state", "live"))


def test_store_filter_fields_prefix_and_time() -> None:
    where = store_filter(
        "t",
        SearchFilters(
            source_prefix="/data/docs/",
            fields={"language": "en", "mime": ["image/png", "image/jpeg"]},
            start_s=5.0,
            end_s=20.0,
        ),
    )
    assert (
        Filter(
            should=(
                MatchValue("source_prefixes", "/data/docs/"),
                MatchValue("source", "/data/docs/"),
            )
        )
        in where.must
    )
    assert MatchValue("language", "en") in where.must
    assert MatchAny("mime", ("image/png", "image/jpeg")) in where.must
    assert Range("locator.start_s", lte=20.0) in where.must
    assert Range("locator.end_s", gte=5.0) in where.must


def test_upload_prefix_is_kept() -> None:
    where = store_filter("t", SearchFilters(source_prefix="upload://"))
    assert MatchValue("source_prefixes", "upload://") in where.must


def test_time_range_limits_search_to_speech() -> None:
    assert collections_for(SearchFilters(start_s=1.0)) == (Modality.AUDIO,)
    assert collections_for(SearchFilters(modalities=(Modality.TEXT,), end_s=3.0)) == ()
    assert collections_for(SearchFilters()) == tuple(Modality)
