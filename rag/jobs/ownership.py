"""Who runs jobs against a data dir: one process at a time, held by an OS file lock.

An embedded store can be opened by one process only, and the local executor assumes that a
batch it finds ``running`` belongs to a runner that died. Both need the same guarantee: at
most one job runner per data dir. ``flock`` gives it, and the kernel drops the lock when the
holder dies (SIGKILL included), so a crash never leaves the data dir locked.
"""

from __future__ import annotations

from pathlib import Path

from rag.store.lock import FileLock


class OwnerLock(FileLock):
    """The job runner's lock on a data dir."""

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another runner holds it."""
        return self.try_acquire()


def owner_lock(data_dir: Path) -> OwnerLock:
    return OwnerLock(data_dir / "jobs-runner.lock")
