"""The local executor: jobs without a broker, run by the process that owns the store.

The embedded store can be opened by one process only, so with no broker configured the
process that owns it runs the jobs: a thread in ``mmrag serve``, or the ``mmrag jobs submit``
process itself when no service runs. It takes the data dir's runner lock
(:mod:`rag.jobs.ownership`), then runs batches from the SQLite ledger one at a time, oldest
job first, with the same :func:`~rag.jobs.runner.run_batch` the Celery task calls.

Restart safety: a batch found ``running`` belonged to a runner that died (the lock admits
one runner), so it is simply begun again; the ledger charges its in-progress files a crash.
"""

from __future__ import annotations

import logging
import threading

from rag.errors import MmragError
from rag.jobs import lifecycle
from rag.jobs.ledger_sqlite import SqliteLedger
from rag.jobs.ownership import OwnerLock, owner_lock
from rag.jobs.runner import BatchOutcome, JobContext, run_batch

logger = logging.getLogger(__name__)


class LocalExecutor:
    def __init__(
        self,
        ctx: JobContext,
        ledger: SqliteLedger,
        *,
        only_job: str | None = None,
        poll_s: float = 1.0,
        retry_s: float = 5.0,
        lock: OwnerLock | None = None,
    ) -> None:
        """``only_job``: run that job's batches, then stop (the CLI's foreground run).
        ``lock``: the data dir's runner lock, when the caller took it already."""
        self.ctx = ctx
        self.ledger = ledger
        self.only_job = only_job
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.lock: OwnerLock = lock or owner_lock(ctx.settings.data_dir)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: Exception | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="mmrag-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New work was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop at the next file boundary; the batch in progress is put back, not lost."""
        self.ctx.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("the job executor did not stop within %.0f s", timeout or 0)

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            self.error = exc
            logger.exception("the job executor stopped on an error")
        finally:
            self.lock.release()

    def _loop(self) -> None:
        announced = False
        while not self.ctx.stopping.is_set():
            if not self.lock.acquire():
                if not announced:
                    logger.info(
                        "another process runs this data dir's jobs (pid %s); waiting",
                        self.lock.holder(),
                    )
                    announced = True
                self._pause(self.poll_s)
                continue
            work = self._next()
            if work is None:
                if self.only_job is not None:
                    return
                self._pause(self.poll_s)
                continue
            job_id, index = work
            try:
                # this process holds the runner lock: a batch found running is orphaned
                report = run_batch(self.ctx, job_id, index, exclusive=True)
            except MmragError as exc:
                # the ledger itself failed (disk full?): try again later, do not spin
                logger.error("job %s batch %d could not run: %s", job_id, index, exc.detail)
                self._pause(self.retry_s)
                continue
            if report.outcome is BatchOutcome.RETRY:
                self._pause(self.retry_s)

    def _next(self) -> tuple[str, int] | None:
        if self.only_job is not None:
            job = self.ledger.load(self.only_job)
            jobs = [job] if job is not None else []
        else:
            jobs = self.ledger.unfinished()
        for job in jobs:
            index = lifecycle.next_runnable(job)
            if index is not None:
                return job.id, index
        return None

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()
