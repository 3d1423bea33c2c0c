"""The search page end to end: `mmrag serve` as a real process over the indexed sample corpus,
driven by headless Chromium (Debian's /usr/bin/chromium) through playwright.

CI installs both (.ci/run: apt chromium; scripts/setup.sh --dev: playwright from the lock), so
a missing browser or package fails these tests with a message instead of skipping them.
Never run `playwright install`: it downloads browsers, and the machines are offline.
Screenshots land in artifacts/ (search-page.png; search-page-failure-*.png on a failure).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from indexers.pipeline import Indexer
from rag.models import ModelRegistry
from rag.settings import Settings
from rag.store import open_store
from tests.conftest import MODEL_CACHE, REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Playwright

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "artifacts"
SAMPLES = REPO_ROOT / "samples"
QUERY = "printing with movable metal type"
API_KEY = "page-test-key"
EN_DASH = "\u2013"  # the page's range separator
SEARCH_TIMEOUT_MS = 90_000  # a first search loads CLIP and the reranker on this CPU


# -- preconditions ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Fails (never skips) without the browser or the package: CI provides both."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium with "
            "`apt-get install -y --no-install-recommends chromium` (.ci/run does this)",
            pytrace=False,
        )
    if importlib.util.find_spec("playwright") is None:
        pytest.fail(
            "the playwright package is missing: `scripts/setup.sh --dev` installs it from "
            "constraints.txt (do not run `playwright install`; the tests use "
            f"{CHROMIUM})",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


# -- the service --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed_data(tmp_path_factory: pytest.TempPathFactory, playwright: Playwright) -> Path:
    """samples/ indexed with the real models into a fresh data dir (the store closed again)."""
    data_dir = tmp_path_factory.mktemp("page-data")
    settings = Settings(_env_file=None, data_dir=data_dir, cache_dir=MODEL_CACHE)  # type: ignore[call-arg]
    store = open_store(settings)
    try:
        report = Indexer(settings, ModelRegistry(settings), store).index_paths([SAMPLES])
    finally:
        store.close()
    assert report.ok, [r for r in report.results if r.reason]
    return data_dir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    base: str
    log: Path


def _start(data_dir: Path, log: Path, keys: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`mmrag serve` on a free port (python -m, so PYTHONPATH decides which `rag` runs)."""
    port = _free_port()
    env = {
        **os.environ,
        "MMRAG_DATA_DIR": str(data_dir),
        "MMRAG_CACHE_DIR": str(MODEL_CACHE),
        "MMRAG_API__WARMUP": '["text"]',
        "MMRAG_API__KEYS": json.dumps(keys),
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[str], base: str, log: Path, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            pytest.fail(f"mmrag serve exited with {proc.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"mmrag serve was not ready in time:\n{_tail(log)}")
        time.sleep(0.5)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def services(
    indexed_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Service]]:
    """Two services over the same index, started side by side (their model loads overlap):
    "open" without API keys (tenant "default", the out-of-the-box setup) and "keyed" with
    one key. Each has its own copy of the data dir: two processes never share a store."""
    root = tmp_path_factory.mktemp("serve")
    keyed_data = root / "keyed-data"
    shutil.copytree(indexed_data, keyed_data)
    procs: dict[str, tuple[subprocess.Popen[str], str, Path]] = {}
    try:
        for name, data_dir, keys in (
            ("open", indexed_data, {}),
            ("keyed", keyed_data, {"default": API_KEY}),
        ):
            log = root / f"serve-{name}.log"
            proc, base = _start(data_dir, log, keys)
            procs[name] = (proc, base, log)
        deadline = time.monotonic() + 180
        for proc, base, log in procs.values():
            _wait_ready(proc, base, log, deadline)
        yield {name: Service(base, log) for name, (_, base, log) in procs.items()}
    finally:
        for proc, _, _ in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc, _, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def open_service(services: dict[str, Service]) -> Service:
    return services["open"]


@pytest.fixture(scope="module")
def keyed_service(services: dict[str, Service]) -> Service:
    return services["keyed"]


# -- the browser --------------------------------------------------------------------------


@dataclass
class Browser:
    page: Page
    console_errors: list[str] = field(default_factory=list)

    def unexpected_errors(self, allowed: Callable[[str], bool] = lambda _: False) -> list[str]:
        return [e for e in self.console_errors if not allowed(e)]


@pytest.fixture
def browser(
    playwright: Playwright, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Browser]:
    """A fresh headless Chromium profile per test; a screenshot of the page on failure."""
    context: BrowserContext = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
        timeout=60_000,
    )
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        session = Browser(page)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                session.console_errors.append(message.text)

        def on_page_error(error: Error) -> None:
            session.console_errors.append(f"uncaught: {error}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        failed_before = request.session.testsfailed
        yield session
        if request.session.testsfailed > failed_before:  # this test's call phase failed
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(
                path=str(ARTIFACTS / f"search-page-failure-{request.node.name}.png"),
                full_page=True,
            )
    finally:
        context.close()


def _open(browser: Browser, service: Service) -> Page:
    page = browser.page
    page.goto(f"{service.base}/")
    page.wait_for_selector("html[data-ready='true']")  # the module ran and wired the form
    return page


def _search(page: Page, text: str) -> dict[str, Any]:
    """Type the query, press Enter, return the API's answer once the page has shown it."""
    box = page.get_by_role("searchbox", name="Query")
    box.fill("")
    box.press_sequentially(text)
    with page.expect_response(
        lambda r: r.url.endswith("/v1/search"), timeout=SEARCH_TIMEOUT_MS
    ) as answer:
        box.press("Enter")
    response = answer.value
    page.wait_for_selector("#results[aria-busy]", state="detached")
    body: dict[str, Any] = response.json()
    assert response.status == 200, body
    return body


def _clock(seconds: float) -> str:
    """The page's m:ss.t format."""
    tenths = round(seconds * 10)
    return f"{tenths // 600}:{(tenths % 600) / 10:04.1f}"


def _players(page: Page) -> dict[str, dict[str, Any]]:
    """Every speech card's player, by result id, once each has its metadata."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results audio')]"
        ".every(a => a.readyState >= 1 || a.error)",
        timeout=30_000,
    )
    players: list[dict[str, Any]] = page.eval_on_selector_all(
        "#results audio",
        """els => els.map(a => ({
            id: a.closest('li').dataset.id, src: a.currentSrc || a.src, start: a.dataset.start,
            currentTime: a.currentTime, readyState: a.readyState, error: a.error && a.error.code,
        }))""",
    )
    return {p["id"]: p for p in players}


def _check_speech_players(page: Page, body: dict[str, Any], *, keyed: bool) -> None:
    speech = [h for h in body["results"] if h["modality"] == "audio"]
    assert speech, "no speech segment in the results"
    assert any(h["locator"]["start_s"] > 0 for h in speech), "need a segment that starts later"
    players = _players(page)
    for hit in speech:
        player = players[hit["id"]]
        start, end = hit["locator"]["start_s"], hit["locator"]["end_s"]
        assert player["error"] is None, player
        # The player sits at the segment's start (media fragment, or the loadedmetadata seek).
        assert player["currentTime"] == pytest.approx(start, abs=0.1), (hit, player)
        if keyed:
            assert player["src"].startswith("blob:"), player
        else:
            assert player["src"].endswith(f"{hit['media_url']}#t={start:g},{end:g}"), player
        card = page.locator(f"#results li[data-id='{hit['id']}']")
        assert f"{_clock(start)}{EN_DASH}{_clock(end)}" in (card.text_content() or "")
        assert (card.locator(".card-snippet").text_content() or "") == hit["snippet"]


def _check_timings(page: Page, body: dict[str, Any]) -> None:
    timings = page.locator("#timings")
    assert timings.is_visible()
    assert re.fullmatch(r"[\d,.]+ ms total", timings.locator("#timings-total").inner_text())
    stages = timings.locator("li[data-stage]")
    shown = {stages.nth(i).get_attribute("data-stage") for i in range(stages.count())}
    assert shown == set(body["timings_ms"]) - {"total"}
    assert {"embed", "retrieve", "rerank"} <= shown


def _check_warnings(page: Page, body: dict[str, Any]) -> None:
    box = page.locator("#warnings")
    if body["warnings"]:
        assert box.is_visible()
        for warning in body["warnings"]:
            assert warning in box.inner_text()
    else:
        assert box.is_hidden()


# -- tests --------------------------------------------------------------------------------


def test_search_finds_the_sample_corpus(browser: Browser, open_service: Service) -> None:
    page = _open(browser, open_service)
    body = _search(page, QUERY)

    cards = page.locator("#results > li.card")
    assert cards.count() == len(body["results"]) > 0
    assert page.locator("#error").is_hidden()

    # The markdown history of printing, as a text card with its title, span and snippet.
    printing = page.locator("#results li[data-source-name='printing.md']").first
    assert printing.is_visible()
    assert printing.locator(".badge").text_content() == "Text"
    assert printing.locator(".card-title").text_content() == "A short history of printing"
    assert re.search(rf"chars \d+{EN_DASH}\d+", printing.locator(".card-where").inner_text())
    assert "movable" in (printing.locator(".card-snippet").text_content() or "")

    # LJ Speech segments about printing: transcripts, and players at the segment's start.
    assert page.locator("#results li[data-source-name^='LJ001-'] .badge").first.is_visible()
    _check_speech_players(page, body, keyed=False)
    _check_timings(page, body)
    _check_warnings(page, body)
    assert "result" in page.get_by_role("status").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-page.png"), full_page=True)
    assert browser.unexpected_errors() == [], "console errors (a CSP violation shows up here)"


def test_empty_query_shows_the_api_error_detail(browser: Browser, open_service: Service) -> None:
    problem = httpx.post(f"{open_service.base}/v1/search", json={"text": ""}, timeout=30)
    assert problem.status_code == 400
    assert problem.headers["content-type"] == "application/problem+json"
    detail = problem.json()["detail"]

    page = _open(browser, open_service)
    with page.expect_response(lambda r: r.url.endswith("/v1/search")) as answer:
        page.get_by_role("searchbox", name="Query").press("Enter")
    assert answer.value.status == 400
    error = page.get_by_role("alert").filter(has_text="Search failed")
    error.wait_for()
    assert page.locator("#error-detail").text_content() == detail
    assert page.locator("#results > li").count() == 0
    assert page.locator("#timings").is_hidden()
    # The only console error is the browser's note about the 400 response itself.
    assert browser.unexpected_errors(lambda e: "status of 400" in e) == []


def test_search_with_an_api_key(browser: Browser, keyed_service: Service) -> None:
    """With keys configured: the 401 detail, then the key field, X-API-Key on every request,
    and media (thumbnails, speech) loaded through blob: URLs."""
    page = _open(browser, keyed_service)
    page.get_by_role("checkbox", name="Text", exact=True).uncheck()
    with page.expect_response(lambda r: r.url.endswith("/v1/search")) as answer:
        page.get_by_role("searchbox", name="Query").fill("printing")
        page.get_by_role("searchbox", name="Query").press("Enter")
    assert answer.value.status == 401
    page.locator("#error").wait_for()
    assert answer.value.json()["detail"] in page.locator("#error-detail").inner_text()
    assert page.locator("#api-key-panel").get_attribute("open") is not None

    page.get_by_label("API key, sent as X-API-Key").fill(API_KEY)
    page.get_by_label("API key, sent as X-API-Key").press("Enter")
    assert page.locator("#key-state").inner_text() == "set"
    body = _search(page, "printing")

    assert {h["modality"] for h in body["results"]} == {"image", "audio"}
    # Image hits come from CLIP with random weights here: the warning must be on show.
    assert body["warnings"], "expected the CLIP random-weights warning"
    _check_warnings(page, body)
    assert "RANDOM" in page.locator("#warnings").inner_text()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#results img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    thumbs: list[str] = page.eval_on_selector_all("#results img", "els => els.map(i => i.src)")
    images = [h for h in body["results"] if h["modality"] == "image"]
    assert len(thumbs) == len(images)
    assert all(src.startswith("blob:") for src in thumbs), thumbs
    _check_speech_players(page, body, keyed=True)
    _check_timings(page, body)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-page-keyed.png"), full_page=True)

    page.reload()
    page.wait_for_selector("html[data-ready='true']")
    assert page.locator("#key-state").inner_text() == "set", "the key did not persist"
    assert browser.unexpected_errors(lambda e: "status of 401" in e) == []


def test_docs_render_with_the_network_blocked(browser: Browser, open_service: Service) -> None:
    """/docs (Swagger UI) and /redoc render from the service's own assets: every request that
    leaves loopback is aborted, and the UI still draws the operations."""
    page = browser.page
    blocked: list[str] = []

    def guard(route: Any) -> None:
        host = re.sub(r"^[a-z]+://([^/:]+).*$", r"\1", route.request.url)
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(f"{open_service.base}/docs")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/search").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-offline.png"), full_page=False)
    page.goto(f"{open_service.base}/redoc")
    page.locator("h2", has_text="Search text, images and speech with one query").wait_for()
    page.screenshot(path=str(ARTIFACTS / "redoc-offline.png"), full_page=False)
    assert not [e for e in browser.console_errors if "docs-assets" in e]
    assert not [u for u in blocked if u.endswith((".js", ".css"))], blocked
