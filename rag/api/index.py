"""POST /v1/index: small synchronous uploads, indexed at once, with per-file results."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, UploadFile
from pydantic import BaseModel

from indexers.report import FileStatus
from indexers.sources import UPLOAD_SCHEME
from rag.api import uploads
from rag.api.auth import Tenant
from rag.api.state import ServiceState, get_state
from rag.errors import BadInputError, PayloadTooLargeError

router = APIRouter(prefix="/v1", tags=["index"])

State = Annotated[ServiceState, Depends(get_state)]
_UNSAFE = re.compile(r"[^\w.\- ]+")


class FileIndexResult(BaseModel):
    filename: str
    source: str
    modality: str | None
    status: str
    units: int
    reason: str | None = None


class IndexResponse(BaseModel):
    results: list[FileIndexResult]
    indexed: dict[str, int]
    unchanged: dict[str, int]
    failed: int
    seconds: float


def safe_filename(name: str | None) -> str:
    """The last path component, with control and path characters removed."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    cleaned = _UNSAFE.sub("_", base).strip(" .")
    return cleaned[:200] or "upload"


@router.post(
    "/index",
    response_model=IndexResponse,
    summary="Index uploaded files now",
    description=(
        "Multipart upload of one or more files (field `files`). Each file is indexed as source "
        "`upload://<filename>` for the caller's tenant: uploading a file of the same name again "
        "replaces its units, the same bytes again is a no-op. The response lists each file's "
        "result; one bad file does not stop the others."
    ),
    responses={
        413: {"description": "An upload is over MMRAG_INDEX__MAX_UPLOAD_MB"},
        429: {"description": "Model workers saturated; retry after Retry-After seconds"},
    },
)
async def index_uploads(
    state: State,
    tenant: Tenant,
    files: Annotated[list[UploadFile], File(description="Files to index")],
) -> IndexResponse:
    return await state.model_pool.run(_index_uploads, state, tenant, files)


def _index_uploads(state: ServiceState, tenant: str, files: list[UploadFile]) -> IndexResponse:
    if not files:
        raise BadInputError("no files in the upload (multipart field `files`)")
    limit = state.settings.index.max_upload_mb << 20
    root = state.settings.data_dir / "uploads" / tenant
    uploads.sweep_stale_temp(root)
    staged: list[tuple[Path, str, str]] = []
    try:
        for upload in files:
            name = safe_filename(upload.filename)
            path = _store_upload(upload, root, limit, name)
            staged.append((path, f"{UPLOAD_SCHEME}{name}", name))
        with state.index_lock:
            indexer = state.runtime.indexer()
            report = indexer.index_files([(p, uri) for p, uri, _ in staged], tenant=tenant)
    finally:
        for upload in files:
            upload.file.close()
        # Failed, or never indexed (an error, a refused later file): no point serves them.
        with state.index_lock:
            uploads.discard_unreferenced(
                state.store,
                state.settings.store.collection_prefix,
                tenant,
                [(p, uri) for p, uri, _ in staged],
            )
    by_uri = {r.source: r for r in report.results}
    results = []
    for _path, uri, name in staged:
        result = by_uri.get(uri)
        results.append(
            FileIndexResult(
                filename=name,
                source=uri,
                modality=result.modality.value if result and result.modality else None,
                status=result.status.value if result else FileStatus.FAILED.value,
                units=result.units if result else 0,
                reason=result.reason if result else "not processed",
            )
        )
    summary: dict[str, Any] = report.to_json()
    return IndexResponse(
        results=results,
        indexed=summary["indexed"],
        unchanged=summary["unchanged"],
        failed=len(report.by_status(FileStatus.FAILED)),
        seconds=round(report.seconds, 3),
    )


def _store_upload(upload: UploadFile, root: Path, limit: int, name: str) -> Path:
    """Stream an upload to content-addressed storage (kept: search serves the original)."""
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix=uploads.TEMP_PREFIX, dir=root)
    try:
        with os.fdopen(fd, "wb") as out:
            while block := upload.file.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise PayloadTooLargeError(
                        f"{name} is larger than {limit >> 20} MB (MMRAG_INDEX__MAX_UPLOAD_MB)",
                        filename=name,
                    )
                digest.update(block)
                out.write(block)
        target = root / digest.hexdigest()[:2] / digest.hexdigest() / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp, target)
        return target
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
