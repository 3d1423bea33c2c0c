"""Sources -> files -> batches, and what HTTP callers may read."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexers.report import FileStatus
from rag.errors import BadInputError
from rag.jobs.planning import plan_sources


def _names(paths: list[str]) -> list[str]:
    return [Path(p).name for p in paths]


def test_a_folder_is_walked_like_mmrag_index(corpus: Path) -> None:
    plan = plan_sources([str(corpus)])
    assert _names(plan.files) == [
        "a.png",
        "b.png",
        "c.png",
        "d.png",
        "e.png",
        "notes.txt",
        "talk.wav",
    ]
    assert all(Path(p).is_absolute() for p in plan.files)
    (skipped,) = plan.outcomes
    assert Path(skipped.path).name == "readme.docx"
    assert skipped.status is FileStatus.SKIPPED


def test_named_files_globs_and_missing_paths(corpus: Path) -> None:
    plan = plan_sources(
        [str(corpus / "notes.txt"), str(corpus / "[ab].png"), "missing.png", str(corpus / "*.gif")],
        base=corpus,
    )
    assert _names(plan.files) == ["notes.txt", "a.png", "b.png"]
    reasons = {Path(r.path).name: (r.status, r.reason) for r in plan.outcomes}
    assert reasons["missing.png"] == (FileStatus.FAILED, "no such file or directory")
    assert reasons["*.gif"] == (FileStatus.FAILED, "no file matches")


def test_an_unsupported_file_named_explicitly_fails(corpus: Path) -> None:
    plan = plan_sources([str(corpus / "readme.docx")])
    (result,) = plan.outcomes
    assert result.status is FileStatus.FAILED
    assert result.reason == "unsupported file type .docx"


def test_recursive_globs_and_no_recursion(corpus: Path) -> None:
    sub = corpus / "sub"
    sub.mkdir()
    (sub / "deep.txt").write_text("deep")
    assert "deep.txt" in _names(plan_sources([str(corpus)]).files)
    assert "deep.txt" not in _names(plan_sources([str(corpus)], recursive=False).files)
    assert _names(plan_sources([str(corpus / "**" / "*.txt")]).files) == ["notes.txt", "deep.txt"]


def test_a_file_reached_twice_is_planned_once(corpus: Path) -> None:
    plan = plan_sources([str(corpus / "a.png"), str(corpus), str(corpus / "*.png")])
    assert _names(plan.files).count("a.png") == 1


def test_manifest(corpus: Path, tmp_path: Path) -> None:
    manifest = corpus / "list.txt"
    manifest.write_text(
        "# images first\n\na.png\n  b.png  \n" + str(corpus / "talk.wav") + "\n*.nope\n"
    )
    plan = plan_sources([], manifest=str(manifest))
    assert _names(plan.files) == ["a.png", "b.png", "talk.wav"]
    assert [r.reason for r in plan.outcomes] == ["no file matches"]
    with pytest.raises(BadInputError, match="cannot read manifest"):
        plan_sources([], manifest=str(tmp_path / "none.txt"))
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(BadInputError, match="UTF-8"):
        plan_sources([], manifest=str(tmp_path / "bin.txt"))


def test_a_job_needs_a_source() -> None:
    with pytest.raises(BadInputError, match="at least one source"):
        plan_sources([])


def test_batches_split_in_order(corpus: Path) -> None:
    plan = plan_sources([str(corpus)])
    batches = plan.batches(3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [p for b in batches for p in b] == plan.files


# -- HTTP: only under the configured roots ---------------------------------------------------
def test_roots_allow_what_is_inside(corpus: Path) -> None:
    plan = plan_sources([str(corpus / "a.png"), str(corpus / "*.txt")], roots=[corpus])
    assert _names(plan.files) == ["a.png", "notes.txt"]


def test_no_roots_means_no_http_jobs(corpus: Path) -> None:
    with pytest.raises(BadInputError, match="MMRAG_JOBS__SOURCE_ROOTS"):
        plan_sources([str(corpus)], roots=[])


@pytest.mark.parametrize(
    "source",
    ["/etc/passwd", "{corpus}/../other", "{corpus}/../*", "relative.png", "/*"],
)
def test_sources_outside_the_roots_are_refused(corpus: Path, source: str) -> None:
    (corpus.parent / "other").mkdir()
    with pytest.raises(BadInputError):
        plan_sources([source.format(corpus=corpus)], roots=[corpus])


def test_a_symlink_leading_outside_the_roots_fails(corpus: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "private.txt").write_text("not yours")
    (corpus / "link").symlink_to(secret)
    plan = plan_sources([str(corpus)], roots=[corpus])
    assert "private.txt" not in _names(plan.files)
    (outside,) = [r for r in plan.outcomes if r.path.endswith("private.txt")]
    assert outside.status is FileStatus.FAILED
    assert "outside" in (outside.reason or "")


def test_the_manifest_must_be_inside_the_roots(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "list.txt"
    manifest.write_text("a.png\n")
    with pytest.raises(BadInputError, match="outside"):
        plan_sources([], manifest=str(manifest), roots=[corpus])
    with pytest.raises(BadInputError, match="absolute"):
        plan_sources([], manifest="list.txt", roots=[corpus])
    inside = corpus / "list.txt"
    inside.write_text("a.png\n../secret.txt\n")
    (tmp_path / "secret.txt").write_text("no")
    with pytest.raises(BadInputError, match="outside"):
        plan_sources([], manifest=str(inside), roots=[corpus])
