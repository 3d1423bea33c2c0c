"""Planning: a job's sources (paths, globs, a manifest) -> the files to index, in batches.

Planning runs in the submitting process, before anything is queued, so a caller learns at
once how many files a job has and which sources are unusable. Files are found exactly as
``mmrag index`` finds them (:func:`indexers.discovery.discover`: sorted walk, hidden entries
skipped, symlink loops reported, a file reached twice indexed once); what it cannot use is
recorded as the job's first results, with the same statuses and reasons.

Jobs submitted over HTTP may read only under ``MMRAG_JOBS__SOURCE_ROOTS``: a named source
outside them is refused, and a file reached through a symlink that leads outside is failed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from indexers.discovery import Discovered, discover
from indexers.report import FileResult, FileStatus
from rag.errors import BadInputError

_GLOB_CHARS = frozenset("*?[")
MAX_MANIFEST_BYTES = 64 << 20


@dataclass
class Plan:
    files: list[str] = field(default_factory=list)  # absolute paths, in discovery order
    outcomes: list[FileResult] = field(default_factory=list)  # final already: failed/skipped

    def batches(self, size: int) -> list[list[str]]:
        return [self.files[i : i + size] for i in range(0, len(self.files), size)]


def plan_sources(
    sources: Sequence[str],
    *,
    manifest: str | None = None,
    recursive: bool = True,
    roots: Sequence[Path] | None = None,
    base: Path | None = None,
) -> Plan:
    """``roots=None``: any path (the operator's CLI); a sequence: only paths under those.
    Relative paths resolve against ``base`` (default: the working directory)."""
    base = (base or Path.cwd()).absolute()
    if roots is not None:
        roots = [root.resolve() for root in roots]
    entries = [(entry, base) for entry in sources]
    if manifest is not None:
        if roots is not None and not Path(manifest).is_absolute():
            raise BadInputError("the manifest must be an absolute path", field="manifest")
        manifest_path = _absolute(manifest, base)
        _check_inside(manifest_path, roots, what="manifest")
        entries += [(line, manifest_path.parent) for line in read_manifest(manifest_path)]
    if not entries:
        raise BadInputError("a job needs at least one source (a path, a glob or a manifest)")

    plan = Plan()
    named: list[Path] = []
    for entry, folder in entries:
        if roots is not None and not Path(entry).is_absolute() and folder is base:
            raise BadInputError(f"source {entry!r} must be an absolute path", field="sources")
        if _GLOB_CHARS & set(entry):
            pattern = os.path.normpath(_absolute(entry, folder))
            _check_inside(_static_prefix(pattern), roots, what="pattern")
            matches = sorted(glob.glob(pattern, recursive=True))
            if not matches:
                plan.outcomes.append(
                    FileResult(entry, None, FileStatus.FAILED, reason="no file matches")
                )
            named += [Path(m) for m in matches]
        else:
            path = _absolute(entry, folder)
            _check_inside(path, roots, what="source")
            named.append(path)
    for item in discover(named, recursive=recursive):
        _plan_one(plan, item, roots)
    return plan


def read_manifest(path: Path) -> list[str]:
    """One path or glob per line; blank lines and lines starting with ``#`` are ignored."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise BadInputError(
            f"cannot read manifest {path}: {exc.strerror or exc}", field="manifest"
        ) from exc
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BadInputError(f"manifest {path} is larger than 64 MB", field="manifest")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"manifest {path} is not UTF-8 text", field="manifest") from exc
    return list(_manifest_lines(text.splitlines()))


def _manifest_lines(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            yield entry


def _plan_one(plan: Plan, item: Discovered, roots: Sequence[Path] | None) -> None:
    path = str(item.path)
    if item.error is not None or item.modality is None:
        unsupported = (item.error or "").startswith("unsupported file type")
        # the same verdicts as the indexer gives: a file found in a folder walk is skipped,
        # one the caller named is failed
        status = FileStatus.SKIPPED if unsupported and not item.explicit else FileStatus.FAILED
        plan.outcomes.append(FileResult(path, None, status, reason=item.error))
        return
    if roots is not None and not _inside(item.path.resolve(), roots):
        plan.outcomes.append(
            FileResult(
                path,
                item.modality,
                FileStatus.FAILED,
                reason="outside the folders jobs may read (MMRAG_JOBS__SOURCE_ROOTS)",
            )
        )
        return
    plan.files.append(path)


def _absolute(entry: str, base: Path) -> Path:
    path = Path(entry)
    return path if path.is_absolute() else base / path


def _static_prefix(pattern: str) -> Path:
    """The folder a glob pattern cannot leave: its parts before the first wildcard."""
    parts = Path(pattern).parts
    first_wild = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
    return Path(*parts[:first_wild])


def _check_inside(path: Path, roots: Sequence[Path] | None, *, what: str) -> None:
    if roots is None:
        return
    if not roots:
        raise BadInputError(
            "jobs over HTTP are off: no folder may be read (set MMRAG_JOBS__SOURCE_ROOTS)",
            field="sources",
        )
    if not _inside(path.resolve(), roots):
        raise BadInputError(
            f"{what} {str(path)!r} is outside the folders jobs may read (MMRAG_JOBS__SOURCE_ROOTS)",
            field="sources",
        )


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)
