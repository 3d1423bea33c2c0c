"""Who runs jobs against a data dir: one process at a time, held by an OS file lock.

An embedded store can be opened by one process only, and the local executor assumes that a
batch it finds ``running`` belongs to a runner that died. Both need the same guarantee: at
most one job runner per data dir. ``flock`` gives it, and the kernel drops the lock when the
holder dies (SIGKILL included), so a crash never leaves the data dir locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class OwnerLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another runner holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: who holds it
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> int | None:
        """The pid written by the last holder (informational; may be stale)."""
        try:
            return int(self.path.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None


def owner_lock(data_dir: Path) -> OwnerLock:
    return OwnerLock(data_dir / "jobs-runner.lock")
