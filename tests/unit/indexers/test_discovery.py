from __future__ import annotations

import os
from pathlib import Path

from indexers.discovery import discover, modality_for
from rag.types import Modality


def _tree(root: Path) -> None:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# A")
    (root / "docs" / "deep").mkdir()
    (root / "docs" / "deep" / "b.txt").write_text("b")
    (root / "pic.PNG").write_bytes(b"x")
    (root / "talk.flac").write_bytes(b"x")
    (root / "notes.xyz").write_text("?")
    (root / ".hidden.txt").write_text("secret")


def test_walk_is_sorted_recursive_and_skips_hidden(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = list(discover([tmp_path]))
    names = [f.path.relative_to(tmp_path).as_posix() for f in found]
    assert names == ["docs/a.md", "docs/deep/b.txt", "notes.xyz", "pic.PNG", "talk.flac"]
    by_name = {f.path.name: f for f in found}
    assert by_name["pic.PNG"].modality is Modality.IMAGE
    assert by_name["talk.flac"].modality is Modality.AUDIO
    assert by_name["notes.xyz"].error == "unsupported file type .xyz"
    assert not by_name["notes.xyz"].explicit


def test_no_recursion(tmp_path: Path) -> None:
    _tree(tmp_path)
    names = [f.path.name for f in discover([tmp_path], recursive=False)]
    assert "a.md" not in names
    assert "pic.PNG" in names


def test_symlink_loop_is_reported_not_followed_forever(tmp_path: Path) -> None:
    _tree(tmp_path)
    os.symlink(tmp_path, tmp_path / "docs" / "deep" / "loop")
    found = list(discover([tmp_path]))
    loops = [f for f in found if f.error and "symlink loop" in f.error]
    assert len(loops) == 1
    assert sum(1 for f in found if f.path.name == "b.txt") == 1


def test_broken_symlink_and_missing_path(tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere.txt", tmp_path / "dangling.txt")
    found = {f.path.name: f for f in discover([tmp_path, tmp_path / "missing.txt"])}
    assert found["dangling.txt"].error == "broken symlink"
    assert found["missing.txt"].error == "no such file or directory"
    assert found["missing.txt"].explicit


def test_self_referencing_symlink_file(tmp_path: Path) -> None:
    os.symlink(tmp_path / "self.txt", tmp_path / "self.txt")
    (found,) = discover([tmp_path / "self.txt"])
    assert found.error == "symlink loop"


def test_same_file_twice_is_indexed_once(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    os.symlink(tmp_path / "a.txt", tmp_path / "link.txt")
    found = list(discover([tmp_path / "a.txt", tmp_path]))
    assert [f.path.name for f in found] == ["a.txt"]


def test_modality_by_extension() -> None:
    assert modality_for("x.JPEG") is Modality.IMAGE
    assert modality_for("x.webm") is Modality.AUDIO
    assert modality_for("x.jsonl") is Modality.TEXT
    assert modality_for("x") is None
