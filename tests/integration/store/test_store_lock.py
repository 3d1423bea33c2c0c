"""A second process never touches the files of an embedded store another process owns.

Before the lock, a second opener failed on qdrant-edge's own lock only after it had opened
the owner's shard files, truncating ``tracker_journal.dat``; the owner's next write failed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from rag.errors import StoreLockedError
from rag.store.base import PointRecord
from rag.store.collections import collection_spec
from rag.store.edge import EmbeddedStore
from rag.store.lock import is_locked, store_lock

Snapshot = dict[str, tuple[int, int, int, str]]


def snapshot(root: Path) -> Snapshot:
    """Every file under root: size, inode, mtime and a hash of its bytes."""
    out: Snapshot = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = (st.st_size, st.st_ino, st.st_mtime_ns, digest)
    return out


def _points(n: int) -> list[PointRecord]:
    return [
        PointRecord(str(uuid.uuid4()), {"text": [1.0, 0, 0, 0], "clip": [0, 1.0, 0, 0]}, {})
        for _ in range(n)
    ]


SECOND = """
import sys
from pathlib import Path
from rag.errors import StoreLockedError
from rag.store.edge import EmbeddedStore
try:
    EmbeddedStore(Path(sys.argv[1])).info("c")
except StoreLockedError as exc:
    print("locked:", exc.detail)
    sys.exit(7)
"""


def test_second_process_fails_cleanly_and_touches_nothing(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    store = EmbeddedStore(root)
    store.ensure_collection("c", collection_spec(text_dim=4, clip_dim=4))
    store.upsert("c", _points(3))
    store.flush()
    before = snapshot(root)
    assert any(name.endswith("tracker_journal.dat") for name in before)
    second = subprocess.run(
        [sys.executable, "-c", SECOND, str(root)], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 7, second.stdout + second.stderr
    assert "open in another process" in second.stdout
    assert f"pid {os.getpid()}" in second.stdout
    assert snapshot(root) == before
    assert is_locked(root)
    # the owner keeps writing as if nothing happened
    store.upsert("c", _points(1))
    store.flush()
    assert store.info("c").points == 4
    store.close()
    assert not is_locked(root)


def test_lock_is_taken_before_any_file_is_opened(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    holder = store_lock(root)
    holder.acquire()
    try:
        store = EmbeddedStore(root)  # building it is free; the first use takes the lock
        with pytest.raises(StoreLockedError, match="open in another process"):
            store.ensure_collection("c", collection_spec(text_dim=4, clip_dim=4))
        with pytest.raises(StoreLockedError):
            store.count("c")
        assert not root.exists()  # nothing was created under the store root
    finally:
        holder.release()
    store.ensure_collection("c", collection_spec(text_dim=4, clip_dim=4))  # free again
    store.close()


def test_close_releases_and_reuse_retakes(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    store = EmbeddedStore(root)
    store.ensure_collection("c", collection_spec(text_dim=4, clip_dim=4))
    store.close()
    other = EmbeddedStore(root)  # another owner may open it now
    assert other.info("c").points == 0
    other.close()
    assert store.info("c").points == 0  # the first one takes the lock again when used
    store.close()


def test_claim_takes_the_store_up_front(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    owner = EmbeddedStore(root)
    owner.claim()
    assert is_locked(root)
    with pytest.raises(StoreLockedError):
        EmbeddedStore(root).claim()
    owner.close()
    assert not is_locked(root)
