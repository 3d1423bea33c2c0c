"""What happens to uploaded files on disk: kept while a point of the index serves them,
deleted otherwise.

``POST /v1/index`` stores each upload content-addressed
(``<data>/uploads/<tenant>/<sha[:2]>/<sha>/<name>``) because ``/v1/media`` serves the
original. An upload that fails to index, or that was never indexed (the request stopped on
an error or a later file was refused), has no point to serve it and is deleted, unless an
earlier upload of the same name and bytes is indexed (the same file on disk). Temporary
files that a killed process left mid-upload are swept on the next upload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

from indexers.discovery import modality_for
from rag.store import Filter, MatchValue, VectorStore
from rag.store.collections import Field, collection_name

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".upload-"
# A temporary upload file older than this belongs to a request that died.
STALE_TEMP_S = 3600.0


def referenced(store: VectorStore, prefix: str, tenant: str, uri: str, sha256: str) -> bool:
    """Whether any point (live or pending) of the index still refers to this stored file."""
    modality = modality_for(uri)
    if modality is None:
        return False
    name = collection_name(prefix, modality)
    if not store.collection_exists(name):
        return False
    where = Filter(
        must=(
            MatchValue(Field.TENANT, tenant),
            MatchValue(Field.SOURCE, uri),
            MatchValue(Field.SOURCE_SHA256, sha256),
        )
    )
    return store.count(name, where) > 0


def discard_unreferenced(
    store: VectorStore, prefix: str, tenant: str, staged: Iterable[tuple[Path, str]]
) -> list[Path]:
    """Delete each staged ``(path, uri)`` no point refers to; returns what was deleted.

    Staged paths end in ``<sha256>/<name>``: the folder names the bytes."""
    deleted = []
    for path, uri in staged:
        try:
            if referenced(store, prefix, tenant, uri, path.parent.name):
                continue
        except Exception:  # the store is failing: keep the file rather than guess
            logger.warning("could not check upload %s; kept", path, exc_info=True)
            continue
        _remove(path)
        deleted.append(path)
    return deleted


def sweep_stale_temp(root: Path, *, max_age_s: float = STALE_TEMP_S) -> int:
    """Delete temporary upload files older than ``max_age_s`` under ``root``."""
    if not root.is_dir():
        return 0
    cutoff = time.time() - max_age_s
    swept = 0
    for temp in root.glob(f"{TEMP_PREFIX}*"):
        try:
            if temp.is_file() and temp.stat().st_mtime < cutoff:
                temp.unlink()
                swept += 1
        except OSError:
            continue
    return swept


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
        for folder in (path.parent, path.parent.parent):  # <sha>/, then <sha[:2]>/
            folder.rmdir()  # only when empty
    except OSError:
        return
