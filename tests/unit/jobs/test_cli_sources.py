"""`mmrag sources list|export|delete` on the store itself (no service running)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rag.cli.main import app
from tests.unit.jobs.test_cli_jobs import _cli, data_dir

__all__ = ["data_dir"]  # the fixture, used by name


def test_sources_list_export_delete_locally(data_dir: Path, corpus: Path) -> None:
    code, summary, err = _cli("index", str(corpus), "--json")
    assert code == 0, err
    code, listed, err = _cli("sources", "list", "--json")
    assert code == 0, err
    sources = {row["source"] for row in listed["sources"]}
    indexed = {p.resolve().as_posix() for p in corpus.rglob("*") if p.suffix != ".docx"}
    assert sources == {s for s in indexed if Path(s).is_file()}
    assert listed["total"] == len(sources)
    assert sum(row["units"] for row in listed["sources"]) == sum(summary["units"].values())

    exported = CliRunner().invoke(app, ["sources", "export", "--vectors"])
    assert exported.exit_code == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == sum(row["units"] for row in listed["sources"])
    assert {line["payload"]["source"] for line in lines} == sources
    assert all("vectors" in line for line in lines)

    victim = next(p for p in corpus.rglob("*.txt"))
    code, out, err = _cli("sources", "delete", str(victim))
    assert code == 0, err
    assert str(out).startswith("deleted ")
    code, listed, _ = _cli("sources", "list", "--json")
    assert victim.resolve().as_posix() not in {row["source"] for row in listed["sources"]}
    assert _cli("sources", "list", "--json", "--tenant", "other")[1]["total"] == 0
