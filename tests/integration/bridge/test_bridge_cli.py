"""``mmrag bridge add|list|call|remove`` as a real process against the loopback server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import MODEL_CACHE, REPO_ROOT
from tests.integration.bridge.conftest import FIXTURES, Upstream


def _mmrag(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "MMRAG_DATA_DIR": str(data_dir),
        "MMRAG_CACHE_DIR": str(MODEL_CACHE),
    }
    return subprocess.run(
        [sys.executable, "-m", "rag.cli.main", "bridge", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_registers_lists_calls_and_removes(tmp_path: Path, upstream: Upstream) -> None:
    data = tmp_path / "data"
    wsdl = str(FIXTURES / "number_conversion.wsdl")
    added = _mmrag(data, "add", "numbers", wsdl, "--endpoint", f"{upstream.url}/numbers")
    assert added.returncode == 0, added.stderr
    assert "POST /v1/bridge/numbers/NumberToWords" in added.stdout

    calc = str(FIXTURES / "calculator.wsdl")
    secured = _mmrag(
        data, "add", "calc", calc, "--endpoint", f"{upstream.url}/auth/calculator",
        "--basic-user", "alice", "-i", "Add", stdin="wonderland\n",
    )  # fmt: skip
    assert secured.returncode == 0, secured.stderr

    listed = _mmrag(data, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    services = {s["name"]: s for s in json.loads(listed.stdout)["services"]}
    assert services["numbers"]["operations"] == ["NumberToDollars", "NumberToWords"]
    assert services["calc"]["idempotent"] == ["Add"]
    assert "wonderland" not in listed.stdout  # the password never leaves the registry file
    assert (data / "bridge" / "services.json").stat().st_mode & 0o077 == 0

    called = _mmrag(data, "call", "numbers", "NumberToWords", '{"NumberToWords":{"ubiNum":42}}')
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout) == {
        "NumberToWordsResponse": {"NumberToWordsResult": "forty two "}
    }
    body = tmp_path / "add.json"
    body.write_text('{"Add": {"intA": 2, "intB": 3}}')
    added_up = _mmrag(data, "call", "calc", "Add", f"@{body}", "--idempotency-key", "k1")
    assert json.loads(added_up.stdout) == {"AddResponse": {"AddResult": 5}}
    replayed = _mmrag(data, "call", "calc", "Add", f"@{body}", "--idempotency-key", "k1")
    assert replayed.stdout == added_up.stdout
    assert "replayed" in replayed.stderr
    assert upstream.count("/auth/calculator", "Add") == 1

    fault = _mmrag(data, "call", "calc", "Divide", '{"Divide":{"intA":1,"intB":0}}')
    assert fault.returncode == 4
    assert json.loads(fault.stderr)["fault"]["reason"] == "intB must not be zero"
    invalid = _mmrag(data, "call", "calc", "Divide", '{"Divide":{"intA":1}}')
    assert invalid.returncode == 2  # bad input (rag.cli.common)
    assert "/Divide/intB" in invalid.stderr

    assert _mmrag(data, "remove", "numbers").returncode == 0
    gone = _mmrag(data, "call", "numbers", "NumberToWords", "{}")
    assert gone.returncode == 2
    assert "no bridge service named 'numbers'" in gone.stderr
