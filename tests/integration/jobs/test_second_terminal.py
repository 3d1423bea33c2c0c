"""Done-when of "one store, many processes": with `mmrag serve` owning a data dir, the CLI
in a second process indexes, searches, lists, exports and deletes through the service, never
opening a store file itself; afterwards every route still answers correctly.

How "never opened a store file" is checked: the second process runs with an audit hook
(``sitecustomize``) that records every Python-level open under the store tree and any import
of ``qdrant_edge`` (the only code that opens shard files, from Rust, unseen by the hook); both
lists must stay empty. And while the server only reads (search, list, export, a refused local
open), every store file keeps its size, inode, mtime and bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.integration.jobs.conftest import Process, base_env, free_port, wait_http
from tests.integration.store.test_store_lock import snapshot

pytestmark = pytest.mark.integration

SAMPLES = REPO_ROOT / "samples" / "text"

GUARD = """
import atexit, os, sys
_root = os.environ.get("MMRAG_TEST_GUARD_ROOT")
if _root:
    _seen = []
    def _hook(event, args):
        if event == "open" and args and isinstance(args[0], (str, bytes)):
            path = os.path.abspath(os.fsdecode(args[0]))
            if path == _root or path.startswith(_root + os.sep):
                _seen.append("open " + path)
        elif event == "import" and args and args[0] == "qdrant_edge":
            _seen.append("import qdrant_edge")
    sys.addaudithook(_hook)
    def _report():
        with open(os.environ["MMRAG_TEST_GUARD_OUT"], "a") as out:
            out.write("".join(line + "\\n" for line in _seen))
    atexit.register(_report)
"""


def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_ROOT,
    )
    return done.returncode, done.stdout, done.stderr


def _upload(base: str, paths: list[Path]) -> httpx.Response:
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return httpx.post(f"{base}/v1/index", files=files, timeout=600)


def test_cli_in_a_second_terminal_goes_through_the_service(
    processes: Callable[..., Process], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    store_root = data / "qdrant"
    env = base_env(data)
    port = free_port()
    server = processes(["serve", "--port", str(port)], env, tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    wait_http(base, server)
    assert f"serving on {base}" in server.output()
    assert json.loads((data / "serve.json").read_text())["url"] == base

    texts = sorted(SAMPLES.iterdir())
    first = _upload(base, texts[:2])
    assert first.status_code == 200, first.text
    assert first.json()["failed"] == 0

    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    guard_out = tmp_path / "guard.txt"
    second = env | {
        "PYTHONPATH": f"{guard_dir}:{env['PYTHONPATH']}",
        "MMRAG_TEST_GUARD_ROOT": str(store_root),
        "MMRAG_TEST_GUARD_OUT": str(guard_out),
    }
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "lighthouse.txt").write_text("The lighthouse keeper trims the lamp before the storm.")
    (extra / "bakery.txt").write_text("The bakery sells warm rye bread every morning.")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in texts[2:]:
        (corpus / path.name).write_bytes(path.read_bytes())

    # the server indexes an upload while the second process works
    uploading: dict[str, Any] = {}
    background = threading.Thread(
        target=lambda: uploading.setdefault("response", _upload(base, [extra / "lighthouse.txt"]))
    )
    background.start()
    code, out, err = _cli(second, "index", str(corpus), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["indexed"]["text"] == len(texts) - 2
    assert summary["failed"] == []
    code, out, err = _cli(second, "search", "movable type printing", "--json", "-k", "3")
    assert code == 0, err
    hits = json.loads(out)["results"]
    assert hits
    assert any("printing" in h["source"] for h in hits)
    code, out, err = _cli(second, "search", "movable type printing", "--json", "--offset", "1")
    assert code == 0, err
    assert [h["id"] for h in json.loads(out)["results"]][:2] == [h["id"] for h in hits[1:3]]
    background.join(600)
    assert uploading["response"].status_code == 200, uploading["response"].text

    code, out, err = _cli(second, "sources", "list", "--json")
    assert code == 0, err
    listed = {row["source"] for row in json.loads(out)["sources"]}
    local = {(corpus / p.name).resolve().as_posix() for p in texts[2:]}
    uploads = {f"upload://{p.name}" for p in texts[:2]} | {"upload://lighthouse.txt"}
    assert listed == uploads | local
    code, out, err = _cli(second, "delete", str(corpus / texts[-1].name))
    assert code == 0, err
    assert out.startswith("deleted ")
    assert out.split()[1] != "0"
    code, _out, err = _cli(second, "search", "x", "-k", "0")
    assert code == 2, err  # a bad request is the same usage error as locally
    assert "k must be" in err

    # read-only work: the second process and the server leave every store file as it was
    before = snapshot(store_root)
    code, out, _ = _cli(second, "sources", "export")
    assert code == 0
    exported = [json.loads(line) for line in out.splitlines()]
    assert {r["payload"]["source"] for r in exported} == listed - {
        (corpus / texts[-1].name).resolve().as_posix()
    }
    assert _cli(second, "search", "clock tower", "--json")[0] == 0
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from rag.store.edge import EmbeddedStore; "
            "EmbeddedStore(pathlib.Path(sys.argv[1])).count('mmrag_text')",
            str(store_root),
        ],
        env=second,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    assert opened.returncode != 0
    assert "StoreLockedError" in opened.stderr
    assert snapshot(store_root) == before

    guard = guard_out.read_text() if guard_out.exists() else ""
    assert guard.strip() == "", guard  # no second process opened a store file

    # every route still answers correctly
    assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
    assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
    again = _upload(base, [extra / "bakery.txt"])
    assert again.status_code == 200, again.text
    found = httpx.post(f"{base}/v1/search", json={"text": "rye bread bakery"}, timeout=300)
    assert found.status_code == 200, found.text
    assert found.json()["results"][0]["source"] == "upload://bakery.txt"
    assert httpx.get(f"{base}/v1/sources", timeout=30).json()["total"] == len(listed)
    gone = httpx.delete(f"{base}/v1/sources", params={"source": f"upload://{texts[0].name}"})
    assert gone.json()["deleted"] > 0
    assert httpx.get(f"{base}/v1/jobs", timeout=30).status_code == 200

    assert server.stop() in (0, -15)
    assert not (data / "serve.json").exists()
    # with no server, the same commands open the store here
    code, out, err = _cli(env, "sources", "list", "--json")
    assert code == 0, err
    assert json.loads(out)["total"] == len(listed) - 1
