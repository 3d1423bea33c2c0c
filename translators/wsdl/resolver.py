"""Where WSDL and XSD documents come from, and which locations may be read at all.

A :class:`DocumentResolver` turns a location (relative to the document that names it) into
bytes, from exactly these places and nowhere else:

1. the bundled standard schemas (SOAP 1.1/1.2 envelope and encoding, WSDL 1.1, ``xml.xsd``),
   by their well-known URLs or, for a location-less or unreadable import, by namespace;
2. uploaded documents (the API's WSDL upload): relative locations resolve among the uploaded
   names only, never to the file system;
3. local files inside the resolver's ``local_roots`` (the folder the WSDL came from, or the
   configured WSDL folder; :meth:`DocumentResolver.beside` builds that), each file at most
   ``max_bytes``. No roots means no local files at all; there is no "any file" setting;
4. remote URLs that start with an allow-listed prefix (empty by default), fetched once with a
   timeout and a size limit and cached on disk.

Everything else raises :class:`ResolveRefused` with the reason; the loader turns that into a
finding, not a crash.

Confinement comes before existence: a local location outside the roots is refused with the
same reason whether or not a file is there (no probing of the file system through imports),
and a document that came from a URL never names a local file (an absolute path or ``file:``
in a remote document is refused, a relative one resolves against the URL).
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import unquote, urljoin, urlsplit

from translators.xml.names import (
    SOAP11_ENC,
    SOAP11_ENV,
    SOAP12_ENC,
    SOAP12_ENV,
    WSDL11,
    WSDL11_SOAP,
    XMIME,
    XML,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BUNDLED_BY_NAMESPACE",
    "DocumentResolver",
    "Fetched",
    "HttpFetcher",
    "ResolveRefused",
    "bundled_bytes",
]

UPLOAD: Final = "upload:"
BUNDLED: Final = "bundled:"

BUNDLED_BY_NAMESPACE: Final[dict[str, str]] = {
    SOAP11_ENC: "soap11-encoding.xsd",
    SOAP11_ENV: "soap11-envelope.xsd",
    SOAP12_ENC: "soap12-encoding.xsd",
    SOAP12_ENV: "soap12-envelope.xsd",
    WSDL11: "wsdl11.xsd",
    WSDL11_SOAP: "wsdl11-soap.xsd",
    XML: "xml.xsd",
    XMIME: "xmime.xsd",
}

# Well-known locations (scheme and trailing slash dropped, host lower-cased).
_BUNDLED_BY_LOCATION: Final[dict[str, str]] = {
    "schemas.xmlsoap.org/soap/encoding": "soap11-encoding.xsd",
    "schemas.xmlsoap.org/soap/envelope": "soap11-envelope.xsd",
    "schemas.xmlsoap.org/wsdl": "wsdl11.xsd",
    "schemas.xmlsoap.org/wsdl/soap": "wsdl11-soap.xsd",
    "schemas.xmlsoap.org/wsdl/2003-02-11.xsd": "wsdl11.xsd",
    "schemas.xmlsoap.org/wsdl/soap/2003-02-11.xsd": "wsdl11-soap.xsd",
    "www.w3.org/2003/05/soap-envelope": "soap12-envelope.xsd",
    "www.w3.org/2003/05/soap-encoding": "soap12-encoding.xsd",
    "www.w3.org/2001/xml.xsd": "xml.xsd",
    "www.w3.org/2001/03/xml.xsd": "xml.xsd",
    "www.w3.org/2009/01/xml.xsd": "xml.xsd",
    "www.w3.org/xml/1998/namespace": "xml.xsd",
    "www.w3.org/2005/05/xmlmime": "xmime.xsd",
}


class ResolveRefused(Exception):  # noqa: N818 - a signal to the loader, not an error class
    """The location may not or cannot be read; ``reason`` says which and why."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    location: str  # canonical: an absolute path, an URL, "upload:/name" or "bundled:name"
    data: bytes


class HttpFetcher(Protocol):
    """Fetches one allow-listed URL (bounded size, no redirects outside the allowlist)."""

    def __call__(self, url: str, *, timeout_s: float, max_bytes: int) -> bytes: ...


def bundled_bytes(name: str) -> bytes:
    return resources.files("translators.wsdl.bundled").joinpath(name).read_bytes()


def bundled_for_location(location: str) -> str | None:
    parts = urlsplit(location)
    if parts.scheme not in ("http", "https"):
        return None
    key = (parts.netloc.lower() + parts.path).rstrip("/")
    return _BUNDLED_BY_LOCATION.get(key) or _BUNDLED_BY_LOCATION.get(key.lower())


@dataclass
class DocumentResolver:
    """Resolves and reads documents under one access policy (see the module docstring)."""

    uploads: Mapping[str, bytes] | None = None
    local_roots: tuple[Path, ...] = ()
    allowlist: tuple[str, ...] = ()
    http: HttpFetcher | None = None
    cache_dir: Path | None = None
    max_bytes: int = 16 * 1024 * 1024
    timeout_s: float = 10.0
    _uploads: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)
    _lexical_roots: tuple[str, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        if self.local_roots is None:
            raise ValueError("local_roots=None (any file) is not supported: name the folders")
        for name, data in (self.uploads or {}).items():
            self._uploads[_upload_key(name)] = data
        if self.uploads is not None:
            self.local_roots = ()  # an upload never reaches the file system
        given = tuple(Path(os.path.abspath(root)) for root in self.local_roots)
        self.local_roots = tuple(dict.fromkeys(root.resolve() for root in given))
        # A root named through a symlink confines by both spellings.
        self._lexical_roots = tuple(dict.fromkeys(str(r) for r in (*given, *self.local_roots)))

    @classmethod
    def beside(
        cls, document: str | Path, *extra_roots: Path | None, **options: Any
    ) -> DocumentResolver:
        """A resolver for a local document: its own folder, plus each extra root that holds
        it (the configured WSDL folder, so documents there may share schemas)."""
        path = Path(os.path.abspath(document))
        roots = [path.parent]
        for root in extra_roots:
            if root is not None and _inside(str(path), os.path.abspath(root)):
                roots.append(Path(root))
        return cls(local_roots=tuple(roots), **options)

    # -- locations -----------------------------------------------------------------------
    def absolute(self, location: str, base: str | None) -> str:
        """The canonical location of ``location`` as named by the document at ``base``."""
        location = location.strip().replace("\\", "/")
        if location.startswith((UPLOAD, BUNDLED)):
            return location
        scheme = urlsplit(location).scheme.lower()
        if scheme in ("http", "https"):
            return location
        if scheme == "file":
            return unquote(urlsplit(location).path)
        if base is None:
            if self.uploads is not None:
                return UPLOAD + posixpath.normpath("/" + location)
            return os.path.abspath(location)
        if base.startswith(UPLOAD):
            directory = posixpath.dirname(base[len(UPLOAD) :])
            return UPLOAD + posixpath.normpath(posixpath.join(directory, location))
        if base.startswith(BUNDLED):
            return BUNDLED + posixpath.basename(location)
        if urlsplit(base).scheme.lower() in ("http", "https"):
            return urljoin(base, location)
        if os.path.isabs(location):
            return os.path.normpath(location)
        return os.path.normpath(os.path.join(os.path.dirname(base), location))

    # -- reading -------------------------------------------------------------------------
    def fetch(self, location: str, base: str | None = None) -> Fetched:
        """Read the document named ``location`` (relative to ``base``)."""
        absolute = self.absolute(location, base)
        if base is not None and _is_remote(base) and _is_local(absolute):
            raise ResolveRefused(location, "a remote document may not name a local file")
        bundled = bundled_for_location(absolute)
        if bundled is not None:
            return Fetched(BUNDLED + bundled, bundled_bytes(bundled))
        if absolute.startswith(BUNDLED):
            name = absolute[len(BUNDLED) :]
            if name not in BUNDLED_BY_NAMESPACE.values():
                raise ResolveRefused(absolute, "no such bundled schema")
            return Fetched(absolute, bundled_bytes(name))
        if absolute.startswith(UPLOAD):
            return self._upload(absolute)
        if urlsplit(absolute).scheme in ("http", "https"):
            return self._remote(absolute)
        return self._local(absolute)

    def fetch_namespace(self, namespace: str) -> Fetched | None:
        """The bundled schema of a well-known namespace, if there is one."""
        name = BUNDLED_BY_NAMESPACE.get(namespace)
        return None if name is None else Fetched(BUNDLED + name, bundled_bytes(name))

    def _upload(self, location: str) -> Fetched:
        key = _upload_key(location[len(UPLOAD) :])
        data = self._uploads.get(key)
        if data is None:
            # Uploads are flat more often than not: fall back to the bare file name.
            matches = [k for k in self._uploads if posixpath.basename(k) == posixpath.basename(key)]
            if len(matches) == 1:
                data = self._uploads[matches[0]]
                key = matches[0]
        if data is None:
            raise ResolveRefused(location, "not among the uploaded documents")
        if len(data) > self.max_bytes:
            raise ResolveRefused(location, f"over the document size limit ({self.max_bytes} bytes)")
        return Fetched(UPLOAD + key, data)

    def _local(self, location: str) -> Fetched:
        bundled = _bundled_file(location)
        if bundled is not None:  # zeep is handed the bundled schemas by their file paths
            return Fetched(BUNDLED + bundled, bundled_bytes(bundled))
        if not self.local_roots:
            raise ResolveRefused(location, "local files may not be read here")
        # Confinement first, by name and then through symlinks, and the same answer whether
        # or not the file exists: nothing here may tell an outside file from a missing one.
        lexical = os.path.normpath(location)
        outside = ResolveRefused(location, "outside the allowed folders")
        if not any(_inside(lexical, root) for root in self._lexical_roots):
            raise outside
        path = Path(lexical)
        try:
            resolved = path.resolve(strict=False)
        except (OSError, RuntimeError):
            raise outside from None
        if not any(resolved.is_relative_to(root) for root in self.local_roots):
            raise outside
        if not resolved.is_file():
            raise ResolveRefused(location, "file not found")
        size = resolved.stat().st_size
        if size > self.max_bytes:
            raise ResolveRefused(location, f"{size} bytes, over the limit of {self.max_bytes}")
        return Fetched(str(path), resolved.read_bytes())

    def _remote(self, url: str) -> Fetched:
        if not any(url.startswith(prefix) for prefix in self.allowlist if prefix):
            raise ResolveRefused(url, "remote location not on the allowlist")
        if self.http is None:
            raise ResolveRefused(url, "no HTTP fetcher configured")
        cached = self._cache_path(url)
        if cached is not None and cached.is_file():
            return Fetched(url, cached.read_bytes())
        try:
            data = self.http(url, timeout_s=self.timeout_s, max_bytes=self.max_bytes)
        except ResolveRefused:
            raise
        except Exception as exc:
            raise ResolveRefused(url, f"fetch failed: {type(exc).__name__}: {exc}") from exc
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, cached)
        return Fetched(url, data)

    def _cache_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest() + ".xml")


def _is_remote(location: str) -> bool:
    return urlsplit(location).scheme.lower() in ("http", "https")


def _is_local(location: str) -> bool:
    return not location.startswith((UPLOAD, BUNDLED)) and not _is_remote(location)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _bundled_file(location: str) -> str | None:
    """The bundled schema's name when ``location`` is that schema's file in the package."""
    folder = Path(str(resources.files("translators.wsdl.bundled")))
    candidate = Path(os.path.normpath(location))
    if candidate.parent == folder and candidate.name in BUNDLED_BY_NAMESPACE.values():
        return candidate.name
    return None


def _upload_key(name: str) -> str:
    return posixpath.normpath("/" + name.replace("\\", "/"))


def httpx_fetcher(url: str, *, timeout_s: float, max_bytes: int) -> bytes:
    """The default :class:`HttpFetcher`: httpx, no redirects, streamed with a size cap."""
    import httpx

    with (
        httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code != 200:
            raise ResolveRefused(url, f"HTTP {response.status_code}")
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_bytes():
            total += len(chunk)
            if total > max_bytes:
                raise ResolveRefused(url, f"over the document size limit ({max_bytes} bytes)")
            chunks.append(chunk)
    return b"".join(chunks)
