"""LLM backend for any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from rag.errors import UpstreamError
from rag.models.ports import ChatTurn
from rag.settings import LlmSettings


class OpenAICompatibleLLM:
    """Calls ``POST {base_url}/chat/completions``; the API key comes from settings only."""

    def __init__(self, spec: LlmSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        self._spec = spec
        headers = {"Accept": "application/json"}
        if spec.api_key is not None:
            headers["Authorization"] = f"Bearer {spec.api_key.get_secret_value()}"
        self._client = httpx.Client(
            base_url=spec.base_url.rstrip("/"),
            headers=headers,
            timeout=spec.timeout_s,
            transport=transport,
        )

    @property
    def version(self) -> str:
        return f"openai:{self._spec.model}@{self._spec.base_url}"

    def complete(
        self,
        messages: Sequence[ChatTurn],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "model": self._spec.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self._spec.max_tokens,
            "temperature": temperature,
        }
        if json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": dict(json_schema), "strict": True},
            }
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            payload = response.json()
            return str(payload["choices"][0]["message"]["content"]).strip()
        except httpx.HTTPStatusError as exc:
            raise UpstreamError(
                f"LLM endpoint answered {exc.response.status_code}", url=self._spec.base_url
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"LLM endpoint unreachable: {type(exc).__name__}", url=self._spec.base_url
            ) from exc
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise UpstreamError("LLM endpoint returned an unexpected body") from exc

    def close(self) -> None:
        self._client.close()
