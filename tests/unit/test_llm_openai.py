from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from rag.errors import UpstreamError
from rag.models.llm import ChatMessage
from rag.models.llm.openai import OpenAICompatibleLLM
from rag.settings import LlmSettings

SPEC = LlmSettings(
    backend="openai", model="served-model", base_url="http://llm.test/v1", api_key=SecretStr("k-1")
)


def test_request_shape_and_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": ' {"a": 1} '}}]})

    llm = OpenAICompatibleLLM(SPEC, transport=httpx.MockTransport(handler))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    answer = llm.complete([ChatMessage("user", "hi")], json_schema=schema, max_tokens=7)
    assert answer == '{"a": 1}'
    request = seen[0]
    assert request.url == "http://llm.test/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer k-1"
    body = json.loads(request.content)
    assert body["model"] == "served-model"
    assert body["max_tokens"] == 7
    assert body["temperature"] == 0.0
    assert body["response_format"]["json_schema"]["schema"] == schema


@pytest.mark.parametrize(
    "response",
    [httpx.Response(500, text="boom"), httpx.Response(200, json={"unexpected": True})],
)
def test_endpoint_failures_are_upstream_errors_without_secrets(response: httpx.Response) -> None:
    llm = OpenAICompatibleLLM(SPEC, transport=httpx.MockTransport(lambda _: response))
    with pytest.raises(UpstreamError) as info:
        llm.complete([ChatMessage("user", "hi")])
    assert "k-1" not in str(info.value)


def test_unreachable_endpoint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    llm = OpenAICompatibleLLM(SPEC, transport=httpx.MockTransport(refuse))
    with pytest.raises(UpstreamError, match="unreachable"):
        llm.complete([ChatMessage("user", "hi")])
