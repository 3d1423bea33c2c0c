"""The indexing pipeline: files -> units -> vectors -> aligned collections.

- Unchanged sources (same bytes, same model versions, fully written) are skipped without
  calling any model; changed ones replace all of their old units.
- Units are embedded and written in batches across files (``MMRAG_INDEX__BATCH_UNITS``).
- Points are written ``pending`` and flipped ``live`` once the whole source is in, then the
  source's stale points are deleted: an interrupted run leaves nothing half-indexed visible.
- One bad file is reported and rolled back; the rest of the batch goes on.
- A rollback deletes only what this run wrote and never made live: a unit already live
  under the same id (same source, bytes, unit and versions, so the same content) is left as
  it is rather than rewritten ``pending``, and the delete is filtered on this run's token
  and on ``pending``. Two runs of one source (a redelivered job batch) can then never
  delete each other's live points.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexers import identity
from indexers.audio import HeardClip
from indexers.clips import ClipBatch
from indexers.discovery import Discovered, discover
from indexers.report import (
    FileResult,
    FileStatus,
    IndexReport,
    NullListener,
    ProgressListener,
    UnitListener,
    WriteListener,
)
from indexers.sources import SourceFile, check_tenant, read_source
from indexers.units import UnitDraft, units_for
from rag.errors import MmragError, StoreError
from rag.langid import UNDETERMINED, detect
from rag.lexical import LexicalEncoder
from rag.media.errors import ExtractionError
from rag.media.thumbnails import thumbnail_name, write_thumbnail
from rag.models import ModelRegistry
from rag.models.ports import ImageTextEncoder, Vectors
from rag.settings import ModelKind, Settings
from rag.store.base import Filter, HasId, MatchValue, PointRecord, VectorStore
from rag.store.collections import (
    CLIP_VECTOR,
    MULTI_VECTOR,
    SPARSE_VECTOR,
    TEXT_VECTOR,
    Field,
    collection_name,
    collection_spec,
    rerank_context,
)
from rag.types import Modality, UnitState

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

# The payload field naming the indexer run that wrote a point (see the module docstring).
RUN_FIELD = "run"

MODELS_BY_MODALITY: dict[Modality, tuple[ModelKind, ...]] = {
    Modality.TEXT: ("text", "multilingual", "clip"),
    Modality.IMAGE: ("clip", "text", "multilingual", "ocr"),
    Modality.AUDIO: ("whisper", "text", "multilingual", "clip"),
}


# How audio becomes units beyond the model: a short clip that VAD empties is transcribed
# again without it; a clip without words is still a unit (indexers.audio, indexers.units).
TRANSCRIPT_RECIPE = "vad-retry-ns0.6+alt-max3w"


@dataclass(eq=False)  # identity: runs are tracked in lists and dicts by object
class _SourceRun:
    source: SourceFile
    tenant: str
    collection: str
    models: dict[str, str]
    models_key: str
    written: list[str] = field(default_factory=list)  # every unit id of the source so far
    pending: list[str] = field(default_factory=list)  # those this run wrote (not live before)
    next_index: int = 0
    buffered: int = 0
    exhausted: bool = False
    failed: str | None = None
    warnings: list[str] = field(default_factory=list)


class Indexer:
    """Indexes files into the store. Not thread-safe: one run at a time per instance."""

    def __init__(
        self,
        settings: Settings,
        models: ModelRegistry,
        store: VectorStore,
        *,
        listener: ProgressListener | None = None,
    ) -> None:
        self.settings = settings
        self.models = models
        self.store = store
        self.listener: ProgressListener = listener or NullListener()
        self.lexical = LexicalEncoder()
        self._ensured: set[str] = set()
        self._buffer: list[tuple[_SourceRun, UnitDraft, int]] = []
        self._active: list[_SourceRun] = []
        self._touched: set[str] = set()
        self._report = IndexReport()
        # Marks the points this instance writes: its rollback deletes no one else's.
        self.run_token = uuid.uuid4().hex

    # -- public API ------------------------------------------------------------------------
    def index_paths(
        self,
        paths: Sequence[Path],
        *,
        tenant: str = "default",
        recursive: bool = True,
        dry_run: bool = False,
    ) -> IndexReport:
        check_tenant(tenant)
        found = [(d, None) for d in discover(paths, recursive=recursive)]
        self.listener.run_started(len(found))
        return self._run(found, tenant, dry_run)

    def index_files(
        self, files: Sequence[tuple[Path, str]], *, tenant: str = "default"
    ) -> IndexReport:
        """Index files under chosen source identities (uploads use ``upload://name``)."""
        check_tenant(tenant)
        from indexers.discovery import modality_for

        found: list[tuple[Discovered, str | None]] = []
        for path, uri in files:
            modality = modality_for(uri)
            if modality is None:
                suffix = Path(uri).suffix.lower() or "(no extension)"
                reason = f"unsupported file type {suffix}"
                found.append((Discovered(path, None, reason, explicit=True), uri))
            else:
                found.append((Discovered(path, modality, explicit=True), uri))
        self.listener.run_started(len(found))
        return self._run(found, tenant, dry_run=False)

    def delete_sources(self, targets: Sequence[str], *, tenant: str = "default") -> int:
        """Delete every point of the named sources (a path, a folder, or upload://name)."""
        check_tenant(tenant)
        deleted = 0
        for target in targets:
            where = self._target_filter(target, tenant)
            for modality in Modality:
                name = self._collection(modality)
                if not self.store.collection_exists(name):
                    continue
                count = self.store.count(name, where)
                if count:
                    self.store.delete_where(name, where)
                    deleted += count
        return deleted

    # -- the run ---------------------------------------------------------------------------
    def _run(
        self, found: Iterable[tuple[Discovered, str | None]], tenant: str, dry_run: bool
    ) -> IndexReport:
        started = time.perf_counter()
        self._report = IndexReport(dry_run=dry_run)
        self._touched = set()
        try:
            self._each(found, tenant, dry_run)
            self._flush()
            self._finalize_ready()
            for name in sorted(self._touched):
                self.store.optimize(name)
        finally:
            self._abort_unfinished()
        self._report.seconds = time.perf_counter() - started
        return self._report

    def _each(
        self, found: Iterable[tuple[Discovered, str | None]], tenant: str, dry_run: bool
    ) -> None:
        """Every file in order; images are decoded and OCR'd on a pool of
        ``MMRAG_MODELS__OCR__WORKERS`` threads, up to that many ahead of the one being
        embedded and written (model batches and store writes stay on this thread); short
        recordings are collected and transcribed together where that pays
        (``indexers.clips``)."""
        ocr = self.settings.models.ocr
        workers = ocr.workers if ocr.enabled and not dry_run else 1
        clips: ClipBatch[_SourceRun] = ClipBatch(self.models, self.settings)
        pending: deque[tuple[_SourceRun, Future[list[UnitDraft]]]] = deque()
        with contextlib.ExitStack() as stack:
            pool = (
                stack.enter_context(ThreadPoolExecutor(workers, thread_name_prefix="mmrag-ocr"))
                if workers > 1
                else None
            )
            try:
                for item, uri in found:
                    self.listener.file_discovered(str(item.path))
                    run = self._prepare(item, uri, tenant, dry_run)
                    if run is None:
                        continue
                    modality = run.source.modality
                    if modality is Modality.IMAGE and pool is not None:
                        self._consume_clips(clips)
                        units = functools.partial(self._read_units, run.source)
                        pending.append((run, pool.submit(units)))
                        if len(pending) >= workers:
                            self._consume(*pending.popleft())
                        continue
                    while pending:
                        self._consume(*pending.popleft())
                    if modality is Modality.AUDIO and clips.offer(run, run.source.path):
                        if clips.full:
                            self._consume_clips(clips)
                        continue
                    self._consume_clips(clips)
                    self._consume(run, None)
                while pending:
                    self._consume(*pending.popleft())
                self._consume_clips(clips)
            finally:
                for _, future in pending:
                    future.cancel()

    def _consume_clips(self, clips: ClipBatch[_SourceRun]) -> None:
        if len(clips):
            for run, heard in clips.drain():
                self._consume(run, None, heard=heard, ahead=True)

    def _read_units(self, source: SourceFile) -> list[UnitDraft]:
        return list(units_for(source, self.models, self.settings.index))

    def _prepare(
        self, item: Discovered, uri: str | None, tenant: str, dry_run: bool
    ) -> _SourceRun | None:
        """The source's run if its units are to be read, else None (reported already)."""
        if item.error is not None or item.modality is None:
            unsupported = (item.error or "").startswith("unsupported file type")
            status = FileStatus.SKIPPED if unsupported and not item.explicit else FileStatus.FAILED
            self._result(FileResult(str(item.path), None, status, reason=item.error, source=uri))
            return None
        try:
            source = read_source(
                item.path, item.modality, uri=uri, max_bytes=self.settings.index.max_file_mb << 20
            )
        except ExtractionError as exc:
            self._result(
                FileResult(
                    str(item.path), item.modality, FileStatus.FAILED, reason=exc.detail, source=uri
                )
            )
            return None
        run = self._new_run(source, tenant)
        if self._unchanged(run):
            self._result(self._file_result(run, FileStatus.UNCHANGED))
            return None
        if dry_run:
            self._result(self._file_result(run, FileStatus.INDEXED))
            return None
        return run

    def _consume(
        self,
        run: _SourceRun,
        read: Future[list[UnitDraft]] | None,
        *,
        heard: HeardClip | None = None,
        ahead: bool = False,
    ) -> None:
        """Buffer the run's units (read here, or by the image pool into ``read``; ``heard``:
        an audio source's first pass, shared with other short recordings; ``ahead``: the
        source was read ahead of the files consumed since it was discovered)."""
        source = run.source
        if (read is not None or ahead) and isinstance(self.listener, WriteListener):
            # Read ahead: the listener heard of it up to ``workers`` files ago; a stop or a
            # cancel since then still stops the run before this file writes anything.
            self.listener.file_writing(str(source.path))
        self._active.append(run)
        try:
            units = (
                read.result()
                if read is not None
                else units_for(source, self.models, self.settings.index, heard=heard)
            )
            for unit in units:
                if unit.warning:
                    run.warnings.append(unit.warning)
                self._buffer.append((run, unit, run.next_index))
                run.next_index += 1
                run.buffered += 1
                if isinstance(self.listener, UnitListener):
                    self.listener.unit_read(source.modality)
                if len(self._buffer) >= self.settings.index.batch_units:
                    self._flush()
                if run.failed:
                    break
            run.exhausted = True
        except StoreError:
            raise
        except MmragError as exc:
            self._fail(run, exc.detail)
        except Exception as exc:
            logger.exception("indexing %s failed", source.path)
            self._fail(run, f"{type(exc).__name__}: {exc}")
        self._finalize_ready()

    def _new_run(self, source: SourceFile, tenant: str) -> _SourceRun:
        kinds = MODELS_BY_MODALITY[source.modality]
        models: dict[str, str] = {kind: self._model_version(kind) for kind in kinds}
        models["lexical"] = self.lexical.version
        return _SourceRun(
            source, tenant, self._collection(source.modality), models, identity.versions_key(models)
        )

    def _model_version(self, kind: ModelKind) -> str:
        if kind == "ocr" and not self.settings.models.ocr.enabled:
            return "disabled"
        if kind == "multilingual" and not self.settings.models.multilingual.enabled:
            return "disabled"
        if kind == "whisper":
            # How a transcript is made is part of what the units hold: a change re-indexes.
            spec = self.settings.models.whisper
            return f"{self.models.version(kind)}+{TRANSCRIPT_RECIPE}+alt{spec.alternatives}"
        return self.models.version(kind)

    def _unchanged(self, run: _SourceRun) -> bool:
        """Same bytes, same models, every unit live: nothing to do (and no model called)."""
        if not self.store.collection_exists(run.collection):
            return False
        where = self._source_filter(run.tenant, run.source.uri)
        hits, _ = self.store.scroll(run.collection, where, limit=1)
        if not hits:
            return False
        payload = hits[0].payload
        if (
            payload.get(Field.SOURCE_SHA256) != run.source.sha256
            or payload.get("models_key") != run.models_key
            or payload.get(Field.STATE) != UnitState.LIVE
        ):
            return False
        expected = payload.get(Field.UNIT_COUNT)
        return isinstance(expected, int) and self.store.count(run.collection, where) == expected

    # -- batching ----------------------------------------------------------------------------
    def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        batch = [entry for entry in batch if not entry[0].failed]
        if not batch:
            return
        try:
            points = self._embed(batch)
        except Exception:
            logger.warning("a batch failed to embed; retrying file by file", exc_info=True)
            points = []
            for run in dict.fromkeys(entry[0] for entry in batch):
                mine = [entry for entry in batch if entry[0] is run]
                try:
                    points += self._embed(mine)
                except Exception as exc:  # noqa: BLE001
                    self._fail(run, f"embedding failed: {type(exc).__name__}: {exc}")
        if points:
            self._ensure_collections()
        by_collection: dict[str, list[PointRecord]] = {}
        for run, point in points:
            if not run.failed:
                by_collection.setdefault(run.collection, []).append(point)
        fresh: set[str] = set()
        for name, records in by_collection.items():
            live = self._live_ids(name, [r.id for r in records])
            new = [r for r in records if r.id not in live]
            if new:
                self.store.upsert(name, new)
                fresh.update(r.id for r in new)
            self._touched.add(name)
        for run, point in points:
            if not run.failed:
                run.written.append(point.id)
                if point.id in fresh:
                    run.pending.append(point.id)
                run.buffered -= 1
        counts: dict[Modality, int] = {}
        for run, _ in points:
            counts[run.source.modality] = counts.get(run.source.modality, 0) + 1
        for modality, count in counts.items():
            self.listener.units_written(modality, count)

    def _embed(
        self, batch: list[tuple[_SourceRun, UnitDraft, int]]
    ) -> list[tuple[_SourceRun, PointRecord]]:
        units = [unit for _, unit, _ in batch]
        words = [f"{u.text} {u.search_extra}".strip() for u in units]
        with_text = [i for i, w in enumerate(words) if w]
        images = [i for i, u in enumerate(units) if u.image is not None]
        clip_texts = [i for i in with_text if units[i].image is None]
        vectors: list[dict[str, Any]] = [{} for _ in units]
        if with_text:
            # The rerank stage's richer contexts go through the same batch: each is stored
            # with its unit, so reranking it is a dot product (rerank_context_rows).
            contexts = rerank_context_rows(batch, with_text)
            encoded = self.models.text().encode(
                [words[i] for i in with_text] + [text for _, text in contexts]
            )
            for row, i in enumerate(with_text):
                vectors[i][TEXT_VECTOR] = encoded[row]
            for row, (i, _) in enumerate(contexts, start=len(with_text)):
                units[i].extra[Field.RERANK_TEXT] = encoded[row].astype(float).tolist()
            multilingual = self.models.multilingual()
            if multilingual is not None:
                encoded = multilingual.encode([words[i] for i in with_text])
                for row, i in enumerate(with_text):
                    vectors[i][MULTI_VECTOR] = encoded[row]
        clip = self.models.clip() if images or clip_texts else None
        if clip is not None and images:
            pictures = [image for i in images if (image := units[i].image) is not None]
            encoded_images = encode_images_for_rerank(clip, pictures)
            for i, (vector, rerank_vector) in zip(images, encoded_images, strict=True):
                vectors[i][CLIP_VECTOR] = vector
                units[i].extra[Field.RERANK_CLIP] = rerank_vector
            for i in images:
                run, _, index = batch[i]
                image = units[i].image
                if image is not None:
                    name = thumbnail_name(run.source.sha256, index)
                    write_thumbnail(self.settings.data_dir, name, image)
                    units[i].extra[Field.THUMBNAIL] = name
        if clip is not None and clip_texts:
            encoded = clip.encode_texts([words[i] for i in clip_texts])
            for row, i in enumerate(clip_texts):
                vectors[i][CLIP_VECTOR] = encoded[row]
        langs = [detect(u.text) if u.text.strip() else UNDETERMINED for u in units]
        for i in with_text:
            sparse = self.lexical.document(words[i], langs[i])
            if sparse is not None:
                vectors[i][SPARSE_VECTOR] = sparse
        now = datetime.now(UTC).isoformat(timespec="seconds")
        out = []
        for (run, unit, index), named, lang in zip(batch, vectors, langs, strict=True):
            out.append((run, self._point(run, unit, index, named, now, lang)))
        return out

    def _point(
        self,
        run: _SourceRun,
        unit: UnitDraft,
        index: int,
        vectors: dict[str, Any],
        now: str,
        lang: str = UNDETERMINED,
    ) -> PointRecord:
        source = run.source
        key = unit.locator.key()
        payload: dict[str, Any] = {
            Field.TENANT: run.tenant,
            Field.MODALITY: source.modality.value,
            Field.SOURCE: source.uri,
            Field.SOURCE_NAME: source.name,
            Field.SOURCE_PREFIXES: source.prefixes,
            Field.SOURCE_SHA256: source.sha256,
            "path": str(source.path),
            Field.MIME: source.mime,
            Field.UNIT: key,
            Field.UNIT_INDEX: index,
            Field.LOCATOR: unit.locator.to_payload(),
            Field.TEXT: unit.text,
            Field.LANG: lang,
            Field.INDEXED_AT: now,
            Field.MODELS: run.models,
            "models_key": run.models_key,
            RUN_FIELD: self.run_token,
            Field.STATE: UnitState.PENDING.value,
        }
        payload.update(unit.extra)
        pid = identity.point_id(
            tenant=run.tenant,
            source=source.uri,
            sha256=source.sha256,
            unit=key,
            versions=run.models_key,
        )
        return PointRecord(pid, vectors, payload)

    # -- completion ----------------------------------------------------------------------------
    def _finalize_ready(self) -> None:
        for run in list(self._active):
            if run.failed or not run.exhausted or run.buffered:
                continue
            self._active.remove(run)
            if not run.written:
                self._result(self._file_result(run, FileStatus.FAILED, reason="no units produced"))
                continue
            # Live first, then drop the stale units: search never sees the source missing.
            self.store.set_payload(
                run.collection,
                run.written,
                {Field.STATE: UnitState.LIVE.value, Field.UNIT_COUNT: len(run.written)},
            )
            stale = Filter(
                must=self._source_filter(run.tenant, run.source.uri).must,
                must_not=(HasId(tuple(run.written)),),
            )
            self.store.delete_where(run.collection, stale)
            self._result(
                self._file_result(
                    run, FileStatus.INDEXED, units=len(run.written), warnings=run.warnings
                )
            )

    def _fail(self, run: _SourceRun, reason: str) -> None:
        if run.failed:
            return
        run.failed = reason
        self._buffer = [entry for entry in self._buffer if entry[0] is not run]
        if run.pending:
            mine = Filter(
                must=(
                    HasId(tuple(run.pending)),
                    MatchValue(Field.STATE, UnitState.PENDING.value),
                    MatchValue(RUN_FIELD, self.run_token),
                )
            )
            self.store.delete_where(run.collection, mine)
        if run in self._active:
            self._active.remove(run)
        self._result(self._file_result(run, FileStatus.FAILED, reason=reason))

    def _abort_unfinished(self) -> None:
        """After an exception mid-run: roll back what the unfinished sources wrote."""
        for run in list(self._active):
            try:
                self._fail(run, "interrupted")
            except MmragError:
                logger.exception("could not roll back %s", run.source.uri)
        self._buffer = []

    # -- helpers -----------------------------------------------------------------------------
    def _live_ids(self, name: str, ids: Sequence[str]) -> set[str]:
        """Which of these ids are live already: their content is the same by construction
        (the id covers source, bytes, unit and versions), so they are not rewritten."""
        found = self.store.retrieve(name, ids)
        return {p.id for p in found if p.payload.get(Field.STATE) == UnitState.LIVE}

    def _ensure_collections(self) -> None:
        names = [self._collection(m) for m in Modality]
        if all(name in self._ensured for name in names):
            return
        multilingual = self.models.multilingual()
        spec = collection_spec(
            text_dim=self.models.text().dim,
            clip_dim=self.models.clip().dim,
            multi_dim=multilingual.dim if multilingual is not None else None,
        )
        for name in names:
            self.store.ensure_collection(name, spec)
            self._ensured.add(name)

    def _collection(self, modality: Modality) -> str:
        return collection_name(self.settings.store.collection_prefix, modality)

    @staticmethod
    def _source_filter(tenant: str, uri: str) -> Filter:
        return Filter(must=(MatchValue(Field.TENANT, tenant), MatchValue(Field.SOURCE, uri)))

    @staticmethod
    def _target_filter(target: str, tenant: str) -> Filter:
        from indexers.sources import UPLOAD_SCHEME, source_uri

        if target.startswith(UPLOAD_SCHEME):
            if target == UPLOAD_SCHEME:
                return Filter(
                    must=(
                        MatchValue(Field.TENANT, tenant),
                        MatchValue(Field.SOURCE_PREFIXES, UPLOAD_SCHEME),
                    )
                )
            return Filter(must=(MatchValue(Field.TENANT, tenant), MatchValue(Field.SOURCE, target)))
        path = Path(target)
        uri = source_uri(path)
        if path.is_dir():
            prefix = uri.rstrip("/") + "/"
            return Filter(
                must=(MatchValue(Field.TENANT, tenant), MatchValue(Field.SOURCE_PREFIXES, prefix))
            )
        return Filter(must=(MatchValue(Field.TENANT, tenant), MatchValue(Field.SOURCE, uri)))

    def _file_result(
        self,
        run: _SourceRun,
        status: FileStatus,
        *,
        units: int = 0,
        reason: str | None = None,
        warnings: Sequence[str] = (),
    ) -> FileResult:
        return FileResult(
            str(run.source.path),
            run.source.modality,
            status,
            units,
            reason,
            run.source.uri,
            tuple(dict.fromkeys(warnings)),
        )

    def _result(self, result: FileResult) -> None:
        self._report.results.append(result)
        self.listener.file_finished(result)


def rerank_context_rows(
    batch: Sequence[tuple[_SourceRun, UnitDraft, int]], rows: Sequence[int]
) -> list[tuple[int, str]]:
    """The rows whose rerank context (``rerank_context``, the string reranking builds from
    the payload) differs from the embedded text, with that context: only these need a
    vector of their own (``Field.RERANK_TEXT``), the rest reuse the first-stage score."""
    out: list[tuple[int, str]] = []
    for i in rows:
        run, unit, _ = batch[i]
        text = rerank_context(run.source.modality.value, {**unit.extra, Field.TEXT: unit.text})
        if text.strip() and text != unit.text:
            out.append((i, text))
    return out


def encode_images_for_rerank(
    clip: ImageTextEncoder, images: Sequence[Image.Image]
) -> list[tuple[Vectors, list[float]]]:
    """Each image's CLIP vector, and the rerank stage's view of it (the vector averaged with
    the mirrored image's, normalised), in one batch: reranking then needs no decoding of the
    original at query time."""
    from PIL import ImageOps

    encoded = clip.encode_images([*images, *(ImageOps.mirror(image) for image in images)])
    n = len(images)
    merged = encoded[:n] + encoded[n:]
    merged /= np.maximum(np.linalg.norm(merged, axis=1, keepdims=True), 1e-12)
    return [(encoded[row], merged[row].astype(float).tolist()) for row in range(n)]
