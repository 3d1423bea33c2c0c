"""run_batch, the plain function behind every runner: fake models, the real embedded store,
the SQLite ledger, and real process deaths (forked children killed with SIGKILL)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from indexers.pipeline import Indexer
from indexers.report import FileStatus
from rag.errors import StoreError
from rag.jobs import JobContext, JobRequest, JobService, JobState, lifecycle, run_batch
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.model import BatchState, JobRecord
from rag.jobs.runner import BatchOutcome
from rag.jobs.service import LocalDispatcher
from rag.jobs.view import describe
from rag.settings import Settings
from rag.store import Filter, MatchValue, PointRecord, VectorStore
from rag.store.edge import EmbeddedStore
from tests.media import png_bytes
from tests.unit.jobs.conftest import Fakes


def _submit(ctx: JobContext, *sources: Path, **request: Any) -> str:
    service = JobService(ctx.settings, ctx.ledger, LocalDispatcher(ctx.settings))
    job = service.submit(JobRequest(tuple(str(s) for s in sources), **request), tenant="default")
    return job.id


def _run_all(ctx: JobContext, job_id: str) -> JobState:
    for _ in range(100):
        job = ctx.ledger.load(job_id)
        assert job is not None
        index = lifecycle.next_runnable(job)
        if index is None:
            return job.state
        run_batch(ctx, job_id, index)
    raise AssertionError("the job did not finish")


def _points(store: VectorStore, prefix: str = "mmrag") -> dict[str, dict[str, Any]]:
    """Every point of every collection, by id."""
    out: dict[str, dict[str, Any]] = {}
    for modality in ("text", "image", "audio"):
        name = f"{prefix}_{modality}"
        if store.collection_exists(name):
            points, _ = store.scroll(name, limit=10_000)
            out |= {p.id: p.payload for p in points}
    return out


def _sources(points: dict[str, dict[str, Any]], state: str = "live") -> set[str]:
    return {Path(p["source"]).name for p in points.values() if p["state"] == state}


def test_a_job_writes_exactly_the_points_of_mmrag_index(
    context: JobContext, corpus: Path, fakes: Fakes, tmp_path: Path
) -> None:
    job_id = _submit(context, corpus)
    assert _run_all(context, job_id) is JobState.SUCCEEDED

    reference = EmbeddedStore(tmp_path / "reference")
    expected = Indexer(context.settings, fakes.registry(context.settings), reference).index_paths(
        [corpus]
    )
    assert _points(context.store).keys() == _points(reference).keys()
    reference.close()

    job = context.ledger.load(job_id)
    assert job is not None
    view = describe(job, context.ledger)
    summary = dict(view.summary or {})
    reference_summary = expected.to_json()
    assert summary.pop("seconds") >= 0
    reference_summary.pop("seconds")
    assert summary == reference_summary
    assert view.progress.files_done == view.progress.files_total == 8
    assert view.progress.batches_done == 3
    assert view.progress.units_written == summary["units"]


def test_a_bad_file_fails_alone(context: JobContext, corpus: Path) -> None:
    (corpus / "broken.png").write_bytes(png_bytes()[:50])
    job_id = _submit(context, corpus)
    assert _run_all(context, job_id) is JobState.FAILED
    results = context.ledger.results(job_id)
    failed = {Path(p).name: r.reason for p, r in results.items() if r.status is FileStatus.FAILED}
    assert list(failed) == ["broken.png"]
    assert "truncated" in (failed["broken.png"] or "")
    assert _sources(_points(context.store)) == {
        "a.png", "b.png", "c.png", "d.png", "e.png", "notes.txt", "talk.wav"
    }  # fmt: skip


def test_a_repeated_delivery_changes_nothing(context: JobContext, corpus: Path) -> None:
    job_id = _submit(context, corpus / "a.png")
    assert run_batch(context, job_id, 0).outcome is BatchOutcome.DONE
    before = _points(context.store)
    assert run_batch(context, job_id, 0).outcome is BatchOutcome.SKIPPED
    assert _points(context.store) == before


def test_a_collection_prefix_per_job(context: JobContext, corpus: Path) -> None:
    job_id = _submit(context, corpus / "a.png", collection_prefix="staging")
    assert _run_all(context, job_id) is JobState.SUCCEEDED
    assert _sources(_points(context.store, "staging")) == {"a.png"}
    assert not context.store.collection_exists("mmrag_image")


# -- cancellation and shutdown ---------------------------------------------------------------
def test_cancel_stops_at_the_next_file_and_keeps_what_is_done(
    make_settings: Callable[..., Settings],
    fakes: Fakes,
    store: EmbeddedStore,
    sqlite_ledger: SqliteLedger,
    corpus: Path,
) -> None:
    # one unit per write, so each file is complete (live) before the next one starts; one
    # OCR worker, so no image is read ahead (see jobs_settings)
    settings = make_settings(
        jobs={"batch_files": 3}, index={"batch_units": 1}, models={"ocr": {"workers": 1}}
    )
    ctx = JobContext(settings, fakes.registry(settings), store, sqlite_ledger)
    job_id = _submit(ctx, corpus)
    service = JobService(settings, sqlite_ledger, LocalDispatcher(settings))

    def cancel() -> None:
        service.cancel(job_id)

    fakes.on_image("b.png", cancel)

    report = run_batch(ctx, job_id, 0)
    assert report.outcome is BatchOutcome.CANCELLED
    assert fakes.ocr.seen[-1] == (10, 250, 10), "c.png was never started"
    assert _sources(_points(store)) == {"a.png", "b.png"}
    assert _sources(_points(store), "pending") == set()
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.state is JobState.CANCELLED
    assert [b.state for b in job.batches] == [BatchState.CANCELLED] * 3
    summary = describe(job, sqlite_ledger).summary
    assert summary is not None
    assert summary["indexed"]["image"] == 2
    assert run_batch(ctx, job_id, 1).outcome is BatchOutcome.SKIPPED


def test_shutdown_hands_the_batch_back_without_blame(
    context: JobContext, corpus: Path, fakes: Fakes
) -> None:
    job_id = _submit(context, corpus)
    fakes.on_image("b.png", context.stopping.set)
    report = run_batch(context, job_id, 0)
    assert report.outcome is BatchOutcome.RELEASED
    job = context.ledger.load(job_id)
    assert job is not None
    assert job.batches[0].state is BatchState.PENDING
    assert _points(context.store) == {}, "a and b were buffered, not finished: rolled back"

    context.stopping.clear()
    fakes.ocr.hooks.clear()
    assert _run_all(context, job_id) is JobState.SUCCEEDED
    job = context.ledger.load(job_id)
    assert job is not None
    assert job.batches[0].crashes == {}
    assert job.batches[0].attempts == 2


# -- store failures: retried, then reported ---------------------------------------------------
class FlakyStore(EmbeddedStore):
    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def upsert(self, name: str, points: Sequence[PointRecord]) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("disk full")
        super().upsert(name, points)


def test_a_store_failure_is_retried(
    jobs_settings: Settings, fakes: Fakes, sqlite_ledger: SqliteLedger, corpus: Path, tmp_path: Path
) -> None:
    store = FlakyStore(tmp_path / "flaky", failures=1)
    ctx = JobContext(jobs_settings, fakes.registry(jobs_settings), store, sqlite_ledger)
    job_id = _submit(ctx, corpus / "a.png")
    report = run_batch(ctx, job_id, 0)
    assert report.outcome is BatchOutcome.RETRY
    assert report.error == "disk full"
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.batches[0].state is BatchState.PENDING
    assert sqlite_ledger.results(job_id) == {}, "a rollback is not a verdict on the file"
    assert run_batch(ctx, job_id, 0).outcome is BatchOutcome.DONE
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.state is JobState.SUCCEEDED
    assert job.batches[0].crashes == {}
    store.close()


def test_a_store_failure_on_the_last_attempt_fails_the_files(
    make_settings: Callable[..., Settings],
    fakes: Fakes,
    sqlite_ledger: SqliteLedger,
    corpus: Path,
    tmp_path: Path,
) -> None:
    settings = make_settings(jobs={"max_attempts": 2})
    store = FlakyStore(tmp_path / "flaky", failures=99)
    ctx = JobContext(settings, fakes.registry(settings), store, sqlite_ledger)
    job_id = _submit(ctx, corpus / "a.png", corpus / "b.png")
    assert run_batch(ctx, job_id, 0).outcome is BatchOutcome.RETRY
    assert run_batch(ctx, job_id, 0).outcome is BatchOutcome.DONE
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.state is JobState.FAILED
    reasons = {r.reason for r in sqlite_ledger.results(job_id).values()}
    assert reasons == {"not indexed: disk full"}
    store.close()


def test_a_batch_delivered_too_often_fails_its_files(
    make_settings: Callable[..., Settings],
    fakes: Fakes,
    store: EmbeddedStore,
    sqlite_ledger: SqliteLedger,
    corpus: Path,
) -> None:
    settings = make_settings(jobs={"max_attempts": 1})
    ctx = JobContext(settings, fakes.registry(settings), store, sqlite_ledger)
    job_id = _submit(ctx, corpus / "a.png")
    # a delivery that began and never finished (its runner died before any file)
    sqlite_ledger.update(
        job_id,
        lambda j: lifecycle.begin_batch(j, 0, owner="x:1", inflight=(), now=1.0, max_attempts=1),
    )
    assert run_batch(ctx, job_id, 0).outcome is BatchOutcome.DONE
    (result,) = sqlite_ledger.results(job_id).values()
    assert result.status is FileStatus.FAILED
    assert "delivered 1 times" in (result.reason or "")
    assert _points(store) == {}


# -- a file that kills its runner: real SIGKILLs in forked children -----------------------------
class KillingStore(EmbeddedStore):
    """Dies (SIGKILL) when a chosen source is about to turn live: its points are written,
    still pending, exactly as a worker killed mid-file leaves them."""

    def __init__(self, root: Path, victim: str) -> None:
        super().__init__(root)
        self.victim = victim

    def set_payload(self, name: str, ids: Sequence[str], payload: Any) -> None:
        sources = {Path(p.payload["source"]).name for p in self.retrieve(name, ids)}
        if self.victim in sources:
            os.kill(os.getpid(), signal.SIGKILL)
        super().set_payload(name, ids, payload)


class KillingAfterLiveStore(EmbeddedStore):
    """Dies right after a chosen source turned live, before its result can be recorded."""

    def __init__(self, root: Path, victim: str) -> None:
        super().__init__(root)
        self.victim = victim

    def delete_where(self, name: str, where: Filter) -> None:
        if any(
            isinstance(c, MatchValue) and c.key == "source" and str(c.value).endswith(self.victim)
            for c in where.must
        ):
            os.kill(os.getpid(), signal.SIGKILL)
        super().delete_where(name, where)


def _deliver_in_child(
    settings: Settings,
    fakes: Fakes,
    job_id: str,
    victim: str,
    store_class: type[EmbeddedStore] = KillingStore,
) -> int | None:
    def child() -> None:
        store = store_class(settings.data_dir / "qdrant", victim)  # type: ignore[call-arg]
        ledger = SqliteLedger(settings.data_dir / "jobs.sqlite3")
        ctx = JobContext(settings, fakes.registry(settings), store, ledger, owner="child")
        run_batch(ctx, job_id, 0, exclusive=True)  # the runner before it is known dead
        store.close()

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(60)
    return process.exitcode


def test_a_poison_file_that_kills_its_worker_fails_alone(
    jobs_settings: Settings, fakes: Fakes, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    settings = jobs_settings  # poison after 2 deaths; batch 0 is a.png, b.png, c.png
    ctx_store_path = settings.data_dir / "qdrant"
    ctx = JobContext(
        settings, fakes.registry(settings), EmbeddedStore(ctx_store_path), sqlite_ledger
    )
    job_id = _submit(ctx, corpus)

    # delivery 1, batched: a turns live, then the process dies turning b live (b, c pending)
    assert _deliver_in_child(settings, fakes, job_id, "b.png") == -signal.SIGKILL
    assert sqlite_ledger.inflight(job_id, 0) == {str(corpus / "b.png"), str(corpus / "c.png")}
    # delivery 2, file by file: b alone kills it again
    assert _deliver_in_child(settings, fakes, job_id, "b.png") == -signal.SIGKILL
    assert sqlite_ledger.inflight(job_id, 0) == {str(corpus / "b.png")}
    # delivery 3: b is poison, the rest completes
    report = run_batch(ctx, job_id, 0, exclusive=True)
    assert report.outcome is BatchOutcome.DONE
    assert report.attempt == 3
    assert _run_all(ctx, job_id) is JobState.FAILED

    results = {Path(p).name: r for p, r in sqlite_ledger.results(job_id).items()}
    assert results["b.png"].status is FileStatus.FAILED
    assert "poison" in (results["b.png"].reason or "")
    assert results["a.png"].status is FileStatus.INDEXED, "indexed by delivery 1, still indexed"
    assert results["c.png"].status is FileStatus.INDEXED
    points = _points(ctx.store)
    assert _sources(points) == {"a.png", "c.png", "d.png", "e.png", "notes.txt", "talk.wav"}
    assert _sources(points, "pending") == set(), "the poison file's pending points are gone"
    image_ids = ctx.store.count("mmrag_image", Filter(must=(MatchValue("state", "live"),)))
    assert image_ids == 4 == ctx.store.count("mmrag_image")
    job = sqlite_ledger.load(job_id)
    assert job is not None
    assert job.batches[0].crashes == {str(corpus / "b.png"): 2, str(corpus / "c.png"): 1}
    ctx.store.close()


def test_a_file_that_turned_live_just_before_the_death_is_still_indexed(
    jobs_settings: Settings, fakes: Fakes, sqlite_ledger: SqliteLedger, corpus: Path
) -> None:
    store = EmbeddedStore(jobs_settings.data_dir / "qdrant")
    ctx = JobContext(jobs_settings, fakes.registry(jobs_settings), store, sqlite_ledger)
    job_id = _submit(ctx, corpus / "a.png", corpus / "b.png")
    code = _deliver_in_child(jobs_settings, fakes, job_id, "b.png", KillingAfterLiveStore)
    assert code == -signal.SIGKILL
    assert str(corpus / "b.png") not in sqlite_ledger.results(job_id), "b's result was lost"
    assert _sources(_points(store)) == {"a.png", "b.png"}, "but b is live"

    assert run_batch(ctx, job_id, 0, exclusive=True).outcome is BatchOutcome.DONE
    results = {Path(p).name: r for p, r in sqlite_ledger.results(job_id).items()}
    assert results["b.png"].status is FileStatus.INDEXED, "indexed by this job, not unchanged"
    assert results["b.png"].units == 1
    job = sqlite_ledger.load(job_id)
    assert job is not None
    summary = describe(job, sqlite_ledger).summary
    assert summary is not None
    assert summary["indexed"]["image"] == 2
    assert summary["unchanged"]["image"] == 0
    store.close()


def test_a_poison_file_indexed_earlier_keeps_its_result(
    context: JobContext, corpus: Path, fakes: Fakes
) -> None:
    job_id = _submit(context, corpus / "a.png", corpus / "b.png")
    assert run_batch(context, job_id, 0).outcome is BatchOutcome.DONE
    a = str(corpus / "a.png")
    # as if a later delivery had died twice with a alone in progress (re-verifying it)

    def reopen(job: JobRecord) -> None:
        job.batches[0].state, job.state, job.finished_at = (
            BatchState.RUNNING,
            JobState.RUNNING,
            None,
        )

    context.ledger.update(job_id, reopen)
    for _ in range(2):
        context.ledger.update(
            job_id,
            lambda j: lifecycle.begin_batch(
                j, 0, owner="x:1", inflight={a}, now=1.0, max_attempts=9
            ),
        )
    fakes.ocr.seen.clear()
    assert run_batch(context, job_id, 0).outcome is BatchOutcome.DONE
    assert (250, 10, 10) not in fakes.ocr.seen, "a is not gone back to"
    result = context.ledger.results(job_id)[a]
    assert result.status is FileStatus.INDEXED
    assert _sources(_points(context.store)) == {"a.png", "b.png"}


def test_progress_while_running(context: JobContext, corpus: Path) -> None:
    job_id = _submit(context, corpus)
    run_batch(context, job_id, 0)
    job = context.ledger.load(job_id)
    assert job is not None
    view = describe(job, context.ledger, now=(job.started_at or 0) + 2.0)
    assert view.state is JobState.RUNNING
    assert view.summary is None
    p = view.progress
    assert (p.files_done, p.files_total) == (4, 8)  # 3 + the skipped readme.docx
    assert p.files_in_progress == 0
    context.ledger.set_inflight(job_id, 1, {str(corpus / "d.png"), str(corpus / "e.png")})
    context.ledger.update(
        job_id,
        lambda j: lifecycle.begin_batch(j, 1, owner="x:1", inflight=(), now=1.0, max_attempts=5),
    )
    job = context.ledger.load(job_id)
    assert job is not None
    assert describe(job, context.ledger).progress.files_in_progress == 2
    assert p.files_per_s == pytest.approx(1.5)
    assert p.eta_s == pytest.approx(4 / 1.5, abs=0.1)
    assert time.time() >= (job.started_at or 0)
