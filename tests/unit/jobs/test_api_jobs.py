"""/v1/jobs in the embedded default: the service runs the jobs itself (fake models)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.api import create_app
from rag.api.problems import PROBLEM_JSON
from rag.store.edge import EmbeddedStore
from tests.conftest import SettingsFactory
from tests.unit.jobs.conftest import Fakes

ACME = {"X-API-Key": "acme-key"}
GLOBEX = {"X-API-Key": "globex-key"}


@pytest.fixture
def client(
    make_settings: SettingsFactory, fakes: Fakes, corpus: Path, tmp_path: Path
) -> Iterator[TestClient]:
    settings = make_settings(
        jobs={"batch_files": 3, "source_roots": [str(corpus)]},
        api={"keys": {"acme": "acme-key", "globex": "globex-key"}, "warmup": []},
    )
    store = EmbeddedStore(settings.data_dir / "qdrant")
    app = create_app(settings, models=fakes.registry(settings), store=store)
    with TestClient(app) as test_client:
        yield test_client


def _wait(client: TestClient, location: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(location, headers=headers).json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            return body
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_submit_watch_and_list(client: TestClient, corpus: Path) -> None:
    response = client.post("/v1/jobs", json={"sources": [str(corpus)]}, headers=ACME)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["tenant"] == "acme"
    assert job["progress"]["files_total"] == 8
    assert job["progress"]["batches_total"] == 3

    done = _wait(client, response.headers["Location"], ACME)
    assert done["state"] == "succeeded"
    assert done["summary"]["indexed"] == {"text": 1, "image": 5, "audio": 1}
    assert [s["path"] for s in done["summary"]["skipped"]] == [str(corpus / "readme.docx")]
    assert done["progress"]["files_done"] == 8
    assert done["progress"]["eta_s"] == 0.0

    listed = client.get("/v1/jobs", headers=ACME).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert listed[0]["files_done"] == 8
    assert client.get("/v1/jobs?state=running", headers=ACME).json()["jobs"] == []

    # the job's points are searchable by its tenant
    hits = client.post("/v1/search", json={"text": "clock towers"}, headers=ACME)
    assert hits.status_code == 200, hits.text
    assert any(r["source"].endswith("notes.txt") for r in hits.json()["results"])


def test_other_tenants_cannot_see_or_cancel_a_job(client: TestClient, corpus: Path) -> None:
    job = client.post("/v1/jobs", json={"sources": [str(corpus / "a.png")]}, headers=ACME).json()
    for response in (
        client.get(f"/v1/jobs/{job['id']}", headers=GLOBEX),
        client.delete(f"/v1/jobs/{job['id']}", headers=GLOBEX),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_JSON
    assert client.get("/v1/jobs", headers=GLOBEX).json()["jobs"] == []
    assert client.get("/v1/jobs").status_code == 401


def test_cancel(client: TestClient, corpus: Path) -> None:
    job = client.post("/v1/jobs", json={"sources": [str(corpus)]}, headers=ACME).json()
    response = client.delete(f"/v1/jobs/{job['id']}", headers=ACME)
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    done = _wait(client, f"/v1/jobs/{job['id']}", ACME)
    assert done["state"] in ("cancelled", "succeeded")  # it may have finished first
    again = client.delete(f"/v1/jobs/{job['id']}", headers=ACME)
    assert again.status_code == 202
    assert again.json()["state"] == done["state"], "cancelling a finished job changes nothing"


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        ({"sources": ["/etc"]}, 400, "outside the folders"),
        ({"sources": ["relative/path"]}, 400, "absolute"),
        ({"sources": []}, 400, "at least one source"),
        ({"sources": ["{corpus}"], "collection_prefix": "No Way"}, 400, "collection prefix"),
        ({"sources": ["{corpus}"], "tenant": "globex"}, 422, "tenant"),
        ({"paths": ["{corpus}"]}, 422, "paths"),
    ],
)
def test_bad_submissions(
    client: TestClient, corpus: Path, body: dict[str, Any], status: int, match: str
) -> None:
    body = {
        k: [s.format(corpus=corpus) for s in v] if isinstance(v, list) else v
        for k, v in body.items()
    }
    response = client.post("/v1/jobs", json=body, headers=ACME)
    assert response.status_code == status, response.text
    assert match in response.text


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/v1/jobs/nope", headers=ACME)
    assert response.status_code == 404
    assert response.json()["detail"] == "no job 'nope'"


def test_http_jobs_are_off_without_source_roots(
    make_settings: SettingsFactory, fakes: Fakes, corpus: Path
) -> None:
    settings = make_settings(api={"warmup": []})
    app = create_app(settings, models=fakes.registry(settings))
    with TestClient(app) as client:
        response = client.post("/v1/jobs", json={"sources": [str(corpus)]})
    assert response.status_code == 400
    assert "MMRAG_JOBS__SOURCE_ROOTS" in response.json()["detail"]


def test_jobs_survive_a_restart_of_the_service(
    make_settings: SettingsFactory, fakes: Fakes, corpus: Path
) -> None:
    settings = make_settings(jobs={"source_roots": [str(corpus)]}, api={"warmup": []})
    with TestClient(create_app(settings, models=fakes.registry(settings))) as client:
        job = client.post("/v1/jobs", json={"sources": [str(corpus)]}).json()
        first = _wait(client, f"/v1/jobs/{job['id']}", {})
    with TestClient(create_app(settings, models=fakes.registry(settings))) as client:
        again = client.get(f"/v1/jobs/{job['id']}").json()
    assert again["state"] == first["state"] == "succeeded"
    assert again["summary"] == first["summary"]
