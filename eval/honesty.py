"""The honesty rule: numbers measured with a randomly initialised CLIP are not quality.

With random CLIP weights, image embeddings carry no meaning, so any direction whose queries
or relevant items are images measures noise. Such directions are marked
``"meaningful": false`` with a reason, and tables and reports print "not meaningful" instead
of presenting them as retrieval quality.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RANDOM_CLIP_REASON = (
    "CLIP has random weights (meta.clip_random): image embeddings carry no meaning, "
    "so this direction measures noise, not quality"
)
NOT_MEANINGFUL = "not meaningful"


def involves_images(direction: str, entry: Mapping[str, Any] | None = None) -> bool:
    """True when the direction's queries or relevant items include images.

    Uses the entry's ``modalities`` when the run recorded them; otherwise reads the
    direction name, and counts a ``mixed`` target as possibly holding images.
    """
    modalities = (entry or {}).get("modalities")
    if isinstance(modalities, list):
        return "image" in modalities
    query, _, target = direction.partition("->")
    return "image" in (query, target) or target == "mixed"


def mark_meaningful(run: dict[str, Any]) -> dict[str, Any]:
    """Add ``meaningful`` / ``reason`` to every direction of a run JSON (in place)."""
    clip_random = bool((run.get("meta") or {}).get("clip_random"))
    metrics = run.get("metrics") or {}
    by_direction = metrics.get("by_direction") or {}
    not_meaningful = []
    for direction, entry in by_direction.items():
        if clip_random and involves_images(direction, entry):
            entry["meaningful"] = False
            entry["reason"] = RANDOM_CLIP_REASON
            not_meaningful.append(direction)
        else:
            entry["meaningful"] = True
            entry.pop("reason", None)
    run["honesty"] = {
        "clip_random": clip_random,
        "not_meaningful": not_meaningful,
        "all_meaningful": not not_meaningful,
        "rule": "with random CLIP weights, directions involving images are not quality",
    }
    return run


def is_meaningful(run: Mapping[str, Any], direction: str) -> bool:
    """Whether a direction of a run (old or new JSON) may be read as quality."""
    entry = ((run.get("metrics") or {}).get("by_direction") or {}).get(direction) or {}
    if "meaningful" in entry:
        return bool(entry["meaningful"])
    clip_random = bool((run.get("meta") or {}).get("clip_random"))
    return not (clip_random and involves_images(direction, entry))
