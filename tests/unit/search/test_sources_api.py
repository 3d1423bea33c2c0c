"""/v1/sources (list, delete, export) and search pagination / cut-off over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rag.api import create_app
from tests.conftest import SettingsFactory
from tests.unit.search.test_search_pipeline import TOPICS, fake_registry

KEYS = {"acme": "key-acme", "globex": "key-globex"}


@pytest.fixture
def client(make_settings: SettingsFactory) -> Iterator[TestClient]:
    settings = make_settings(api={"warmup": [], "keys": KEYS})
    with TestClient(create_app(settings, models=fake_registry(settings))) as c:
        yield c


def _as(tenant: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[tenant]}


def _upload(client: TestClient, tenant: str, files: dict[str, str]) -> None:
    parts = [("files", (name, text.encode(), "text/plain")) for name, text in files.items()]
    response = client.post("/v1/index", files=parts, headers=_as(tenant))
    assert response.status_code == 200, response.text
    assert response.json()["failed"] == 0


def test_list_paginate_export_delete_per_tenant(client: TestClient) -> None:
    _upload(client, "acme", TOPICS)
    _upload(client, "globex", {"secret.txt": "Globex only: the launch codes are here."})

    listed = client.get("/v1/sources", headers=_as("acme")).json()
    assert listed["total"] == len(TOPICS)
    assert [s["source"] for s in listed["sources"]] == sorted(f"upload://{n}" for n in TOPICS)
    row = listed["sources"][0]
    assert row["modality"] == "text"
    assert row["units"] >= 1
    assert len(row["sha256"]) == 64
    assert row["indexed_at"]

    first = client.get("/v1/sources?limit=3", headers=_as("acme")).json()
    assert len(first["sources"]) == 3
    assert first["next_offset"] == 3
    rest = client.get(f"/v1/sources?limit=3&offset={first['next_offset']}", headers=_as("acme"))
    assert len(rest.json()["sources"]) == len(TOPICS) - 3
    assert rest.json()["next_offset"] is None
    assert client.get("/v1/sources?limit=0", headers=_as("acme")).status_code in (400, 422)

    export = client.get("/v1/sources/export?vectors=true", headers=_as("acme"))
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in export.text.splitlines()]
    assert sum(r["units"] for r in listed["sources"]) == len(records)
    assert {r["payload"]["tenant"] for r in records} == {"acme"}
    assert "launch codes" not in export.text
    assert set(records[0]["vectors"]) >= {"text", "clip", "bm25"}
    assert set(records[0]["vectors"]["bm25"]) == {"indices", "values"}

    # the other tenant cannot see or delete acme's sources
    gone = client.delete("/v1/sources?source=upload://trains.txt", headers=_as("globex"))
    assert gone.json() == {"deleted": 0}
    assert client.get("/v1/sources", headers=_as("globex")).json()["total"] == 1

    deleted = client.delete("/v1/sources?source=upload://trains.txt", headers=_as("acme"))
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] >= 1
    after = [s["source"] for s in client.get("/v1/sources", headers=_as("acme")).json()["sources"]]
    assert "upload://trains.txt" not in after
    assert len(after) == len(TOPICS) - 1

    everything = client.delete("/v1/sources?prefix=upload://", headers=_as("acme"))
    assert everything.json()["deleted"] >= len(TOPICS) - 1
    assert client.get("/v1/sources", headers=_as("acme")).json()["total"] == 0
    assert client.get("/v1/sources", headers=_as("globex")).json()["total"] == 1


@pytest.mark.parametrize(
    "query",
    ["", "?source=a&prefix=b/", "?prefix=no-slash"],
)
def test_delete_needs_exactly_one_target(client: TestClient, query: str) -> None:
    response = client.delete(f"/v1/sources{query}", headers=_as("acme"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


def test_search_offset_and_min_score(client: TestClient) -> None:
    _upload(client, "acme", TOPICS)

    def search(**body: object) -> list[dict[str, object]]:
        response = client.post(
            "/v1/search", json={"text": "train station", **body}, headers=_as("acme")
        )
        assert response.status_code == 200, response.text
        results: list[dict[str, object]] = response.json()["results"]
        return results

    whole = search(k=4, rerank_depth=0)
    assert len(whole) == 4
    assert [h["id"] for h in search(k=2, offset=2, rerank_depth=0)] == [h["id"] for h in whole[2:]]
    assert search(k=4, offset=100, rerank_depth=0) == []
    top = float(whole[0]["score"])  # type: ignore[arg-type]
    cut = search(k=4, rerank_depth=0, min_score=top)
    assert [h["id"] for h in cut] == [whole[0]["id"]]
    for bad in ({"offset": -1}, {"min_score": 2}):
        response = client.post("/v1/search", json={"text": "x", **bad}, headers=_as("acme"))
        assert response.status_code == 400, response.text
