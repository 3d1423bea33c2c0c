"""LLM backends behind one interface, chosen from settings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rag.models.ports import ChatMessage, LLMBackend
from rag.settings import LlmSettings

__all__ = ["ChatMessage", "LLMBackend", "load_llm"]


@cache
def load_llm(spec: LlmSettings, device: str, cache_dir: Path) -> LLMBackend:
    """Load once per process and configuration."""
    if spec.backend == "openai":
        from rag.models.llm.openai import OpenAICompatibleLLM

        return OpenAICompatibleLLM(spec)
    from rag.models.llm.local import load_transformers_llm

    return load_transformers_llm(spec, device, cache_dir)
