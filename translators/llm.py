"""The chat model the translator asks for mapping proposals: its own small port.

Any backend whose ``complete`` accepts these messages fits (mmrag's LLM backends do); the
output is a proposal that callers validate, never trust.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["ChatMessage", "LLMBackend"]


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@runtime_checkable
class LLMBackend(Protocol):
    @property
    def version(self) -> str: ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str: ...
