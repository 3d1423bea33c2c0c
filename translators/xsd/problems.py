"""Findings made while loading and compiling WSDLs and schemas.

Real WSDLs are sloppy. Where the meaning is still clear the translator carries on and records
a *warning* that names the construct; where a part of a schema cannot be used it records an
*error* and that part becomes permissive (any JSON), so the rest still translates. Nothing is
dropped silently: every finding reaches the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["warning", "error"]


@dataclass(frozen=True)
class Problem:
    severity: Severity
    construct: str  # e.g. "xs:import", "type reference", "xs:redefine"
    detail: str
    location: str = ""

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.severity}: {self.construct}: {self.detail}{where}"

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "construct": self.construct,
            "detail": self.detail,
            "location": self.location,
        }


class ProblemLog:
    """Collects problems once each (the same finding from two paths is one finding)."""

    def __init__(self) -> None:
        self._seen: set[Problem] = set()
        self.items: list[Problem] = []

    def add(self, severity: Severity, construct: str, detail: str, location: str = "") -> None:
        problem = Problem(severity, construct, detail, location)
        if problem not in self._seen:
            self._seen.add(problem)
            self.items.append(problem)

    def warn(self, construct: str, detail: str, location: str = "") -> None:
        self.add("warning", construct, detail, location)

    def error(self, construct: str, detail: str, location: str = "") -> None:
        self.add("error", construct, detail, location)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.items if p.severity == "error"]
