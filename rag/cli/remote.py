"""The CLI's way to a running ``mmrag serve``: while a service owns the data dir's embedded
store, ``index``, ``search``, ``delete`` and ``sources`` send their work to it instead of
opening the store (which its lock refuses). Found through ``<data dir>/serve.json``
(:mod:`rag.endpoint`); the tenant's API key comes from the same settings the service reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.endpoint import running_endpoint
from rag.errors import AuthError, BadInputError, MmragError, NotFoundError, StoreError

if TYPE_CHECKING:
    import httpx

    from rag.settings import Settings

TIMEOUT_S = 600.0


class RemoteService:
    """A thin HTTP client of one running service, for one tenant."""

    def __init__(self, url: str, settings: Settings, tenant: str) -> None:
        import httpx

        self.url = url
        headers = {}
        if settings.api.keys:
            key = settings.api.keys.get(tenant)
            if key is None:
                raise BadInputError(
                    f"tenant {tenant!r} has no API key in MMRAG_API__KEYS, which the running "
                    f"service at {url} enforces",
                    field="tenant",
                )
            headers["X-API-Key"] = key.get_secret_value()
        self._client = httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_S)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(f"the service at {self.url} did not answer: {exc}") from exc
        _raise_for_problem(response)
        return response

    def search(self, body: dict[str, Any], image: bytes | None, audio: bytes | None) -> Any:
        from rag.search.results import SearchResponse

        body = {key: value for key, value in body.items() if value is not None}
        if image is None and audio is None:
            response = self.request("POST", "/v1/search", json=body)
        else:
            form = {
                key: (",".join(value) if key == "modalities" else json.dumps(value))
                if isinstance(value, list | dict)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
                for key, value in body.items()
            }
            files = {}
            if image is not None:
                files["image"] = ("query-image", image, "image/*")
            if audio is not None:
                files["audio"] = ("query-audio", audio, "audio/*")
            response = self.request("POST", "/v1/search", data=form, files=files)
        return SearchResponse.model_validate(response.json())

    def delete(self, targets: Sequence[str]) -> int:
        """Delete what each target names: upload://name, upload:// (all uploads), a file or a
        folder (resolved here, where the user typed it)."""
        from indexers.sources import UPLOAD_SCHEME, source_uri

        deleted = 0
        for target in targets:
            if target == UPLOAD_SCHEME:
                params = {"prefix": UPLOAD_SCHEME}
            elif target.startswith(UPLOAD_SCHEME):
                params = {"source": target}
            else:
                path = Path(target)
                uri = source_uri(path)
                params = {"prefix": uri.rstrip("/") + "/"} if path.is_dir() else {"source": uri}
            deleted += int(self.request("DELETE", "/v1/sources", params=params).json()["deleted"])
        return deleted

    def list_sources(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = self.request("GET", "/v1/sources", params={"offset": offset, "limit": 1000})
            body = page.json()
            rows += body["sources"]
            offset = body["next_offset"]
        return rows

    def export(self, *, vectors: bool, source: str | None) -> Iterator[str]:
        params: dict[str, Any] = {"vectors": str(vectors).lower()}
        if source is not None:
            params["source"] = source
        import httpx

        try:
            with self._client.stream("GET", "/v1/sources/export", params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_problem(response)
                yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise StoreError(f"the service at {self.url} did not answer: {exc}") from exc


def remote_service(settings: Settings, tenant: str) -> RemoteService | None:
    """A client of the service that owns this data dir's embedded store, if one runs."""
    if settings.store.backend != "embedded":
        return None  # a Qdrant server takes many clients: the CLI talks to it directly
    endpoint = running_endpoint(settings.data_dir)
    if endpoint is None:
        return None
    return RemoteService(endpoint.url, settings, tenant)


def _raise_for_problem(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = str(response.json().get("detail") or response.reason_phrase)
    except ValueError:
        detail = response.text[:500] or response.reason_phrase
    status = response.status_code
    error: type[MmragError]
    if status in (401, 403):
        error = AuthError
    elif status == 404:
        error = NotFoundError
    elif status < 500:
        error = BadInputError
    else:
        error = StoreError
    raise error(f"{detail} (service answered {status})")
