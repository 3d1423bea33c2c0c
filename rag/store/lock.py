"""One process per embedded store, enforced before any store file is opened.

qdrant-edge takes its own lock only after it has opened (and sometimes created or truncated)
files in the shard: a second process that merely *tries* to open a live shard can wreck the
owner's tracker journals. So the store takes an OS lock on ``<store root>.lock`` first, and
only the holder ever opens a shard. ``flock`` is released by the kernel when the holder dies
(SIGKILL included), so a crash never leaves the store locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rag.errors import StoreLockedError


class FileLock:
    """An exclusive, non-blocking ``flock`` on one file, re-entrant within its holder; the
    holder's pid is written into the file for people to read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""
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


class StoreLock(FileLock):
    """The embedded store's lock: a refused attempt is a :class:`StoreLockedError`."""

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreLockedError` when another holder has it."""
        if self.try_acquire():
            return
        holder = self.holder()
        raise StoreLockedError(
            f"the embedded store {self.path.with_suffix('')} is open in another process"
            + (f" (pid {holder})" if holder else "")
            + " (a running `mmrag serve`?); one process owns an embedded store: send the "
            "work to it through the HTTP API, stop it, or use the server backend",
            path=str(self.path.with_suffix("")),
            pid=holder,
        )


def store_lock(root: Path) -> StoreLock:
    """The lock file of the store under ``root``: a sibling, so no shard file is touched."""
    return StoreLock(root.parent / f"{root.name}.lock")


def is_locked(root: Path) -> bool:
    """Whether another process holds the store under ``root`` (probes without keeping it)."""
    lock = store_lock(root)
    try:
        lock.acquire()
    except StoreLockedError:
        return True
    lock.release()
    return False
