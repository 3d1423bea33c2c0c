"""The LLM interface: chat completion, optionally asked to follow a JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@runtime_checkable
class LLMBackend(Protocol):
    """A chat model. Output is a proposal: callers validate it, never trust it."""

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
