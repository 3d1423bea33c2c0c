"""The LLM interface: chat completion, optionally asked to follow a JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable


class ChatTurn(Protocol):
    """What a backend reads of a message: any object with a role and a content fits, so a
    library can keep its own message type (``translators.llm.ChatMessage`` does)."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...


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
        messages: Sequence[ChatTurn],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str: ...
