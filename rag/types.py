"""Types shared by indexing, storage and search."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Modality(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class UnitState(enum.StrEnum):
    """Points are written ``pending`` and flipped ``live`` once their whole source is in:
    search only ever sees ``live`` points, so an interrupted run leaves nothing half-indexed
    visible."""

    PENDING = "pending"
    LIVE = "live"


@dataclass(frozen=True)
class Locator:
    """Where a unit sits inside its source."""

    char_start: int | None = None
    char_end: int | None = None
    page: int | None = None
    record: int | None = None
    start_s: float | None = None
    end_s: float | None = None

    def key(self) -> str:
        """A canonical string, part of the deterministic point id."""
        parts = []
        if self.record is not None:
            parts.append(f"r{self.record}")
        if self.page is not None:
            parts.append(f"p{self.page}")
        if self.char_start is not None:
            parts.append(f"c{self.char_start}-{self.char_end}")
        if self.start_s is not None:
            parts.append(f"t{self.start_s:.3f}-{self.end_s:.3f}")
        return ":".join(parts) or "whole"

    def to_payload(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_payload(cls, data: dict[str, Any] | None) -> Locator:
        data = data or {}
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})
