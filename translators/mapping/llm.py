"""LLM calls for the translator: cached by content hash, bounded in time.

``CachedLLM`` wraps any :class:`~translators.llm.LLMBackend`. The cache key is a
SHA-256 over the model version, the messages and the generation parameters, so an identical
request is answered from disk (``<data_dir>/translator/llm-cache``) and identical inputs give
identical outputs even with a sampling backend. A call that does not answer within
``timeout_s`` raises :class:`~rag.errors.ModelUnavailableError`; its thread is left to finish
in the background (generation cannot be interrupted) and the caller falls back.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.errors import ModelUnavailableError
from translators.llm import ChatMessage, LLMBackend

logger = logging.getLogger(__name__)

__all__ = ["CachedLLM", "extract_json"]

_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="mmrag-llm")


class CachedLLM:
    def __init__(self, backend: LLMBackend, cache_dir: Path, *, timeout_s: float) -> None:
        self.backend = backend
        self.cache_dir = cache_dir
        self.timeout_s = timeout_s
        self.hits = 0
        self.calls = 0

    @property
    def version(self) -> str:
        return self.backend.version

    def key(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int | None,
        temperature: float,
        json_schema: Mapping[str, Any] | None,
    ) -> str:
        payload = {
            "model": self.backend.version,
            "messages": [[m.role, m.content] for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "json_schema": json_schema,
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        key = self.key(messages, max_tokens, temperature, json_schema)
        path = self.cache_dir / key[:2] / f"{key}.json"
        if path.is_file():
            try:
                reply = json.loads(path.read_text(encoding="utf-8"))["reply"]
                self.hits += 1
                return str(reply)
            except (ValueError, KeyError, OSError):
                logger.warning("unreadable LLM cache entry %s; asking again", path)
        self.calls += 1
        future = _EXECUTOR.submit(
            self.backend.complete,
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            json_schema=json_schema,
        )
        try:
            reply = future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            raise ModelUnavailableError(
                f"the LLM did not answer within {self.timeout_s:g} s", model="llm"
            ) from None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"model": self.backend.version, "reply": reply}, handle, ensure_ascii=False)
        os.replace(tmp, path)
        return reply


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The first JSON value in a model's reply (code fences and prose around it ignored)."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for index, char in enumerate(candidate):
            if char in "{[":
                try:
                    value, _ = decoder.raw_decode(candidate[index:])
                except ValueError:
                    continue
                return value
    raise ValueError("no JSON value in the reply")
