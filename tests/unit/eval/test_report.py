"""eval.report: a self-contained, well-formed HTML report that keeps the honesty marks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from typer.testing import CliRunner

from eval.honesty import mark_meaningful
from eval.report import NotARunFileError, write_report
from rag.cli.eval_cmd import eval_app


def _run(config: str, clip_random: bool) -> dict[str, Any]:
    text = {"ndcg@10": 0.8123, "recall@10": 0.9456, "mrr@10": 0.7789, "map": 0.7, "queries": 3}
    image = {"ndcg@10": 0.0117, "recall@10": 0.02, "mrr@10": 0.01, "map": 0.01, "queries": 2}
    return mark_meaningful(
        {
            "dataset": "mini <&>",
            "config": config,
            "meta": {"models": {"clip": "ViT-B-32@random"}, "clip_random": clip_random},
            "metrics": {"all": text, "by_direction": {"text->text": text, "text->image": image}},
            "latency": {"p50_ms": 12.5, "p95_ms": 40.25, "n": 5},
        }
    )


def test_report_is_well_formed_and_honest(tmp_path: Path) -> None:
    files = [{"dataset": "mini <&>", "runs": [_run("dense", True), _run("full", True)]}]
    out = write_report(files, tmp_path / "r.html")
    page = out.read_text()
    tree = lxml.html.fromstring(page)
    assert tree.find(".//h1") is not None
    text = tree.text_content()
    assert "mini <&>" in text
    assert "<&>" not in page
    assert "0.812" in text
    assert "0.946" in text
    assert "0.779" in text
    assert "40.25" in text
    assert "ViT-B-32@random" in text
    assert "not meaningful" in text
    assert "0.012" not in text.replace("0.012 (not meaningful)", "")  # never as a quality cell
    assert "<script" not in page
    assert "http" not in page.replace('xmlns="http://www.w3.org', "")


def test_meaningful_when_clip_is_real(tmp_path: Path) -> None:
    page = write_report([{"dataset": "d", "runs": [_run("full", False)]}], tmp_path / "r.html")
    assert "not meaningful" not in page.read_text()


def test_empty_sections(tmp_path: Path) -> None:
    bare = {"dataset": "d", "runs": [{"config": "c", "metrics": {"all": {}}}]}
    page = write_report([bare, {"dataset": "e", "runs": []}], tmp_path / "r.html").read_text()
    lxml.html.fromstring(page)
    assert "No per-direction metrics" in page
    assert "No runs" in page


def test_rejects_a_non_run_file(tmp_path: Path) -> None:
    with pytest.raises(NotARunFileError):
        write_report([{"hello": 1}], tmp_path / "r.html")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    result = CliRunner().invoke(eval_app, ["report", str(bad), "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"dataset": "d", "runs": [_run("full", True)]}))
    result = CliRunner().invoke(eval_app, ["report", str(good), "--out", str(tmp_path / "y.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "y.html").is_file()


def test_gap_section(tmp_path: Path) -> None:
    gap = {
        "dataset": "mixed",
        "kind": "modality-gap",
        "directions": {
            "text->text": {
                "queries": 5,
                "meaningful": True,
                "recall@10": {"mixed": 0.8, "single": 0.9, "gap": 0.1},
                "ndcg@10": {"mixed": 0.7, "single": 0.75, "gap": 0.05},
            },
            "text->image": {"queries": 5, "meaningful": False, "recall@10": {"mixed": 0.2}},
        },
    }
    page = write_report([], tmp_path / "r.html", gaps=[gap]).read_text()
    text = lxml.html.fromstring(page).text_content()
    assert "Modality gap" in text
    assert "0.900" in text
    assert "not meaningful" in text
    assert "0.200" not in text
