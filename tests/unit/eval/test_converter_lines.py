"""JSON Lines from the shared material are split on newlines only."""

from __future__ import annotations

import json
from pathlib import Path

from eval.converters import _lines


def test_unicode_line_separators_inside_json_strings_do_not_split_records(tmp_path: Path) -> None:
    # MS MARCO passages hold U+2028 unescaped; str.splitlines() would cut them in two.
    rows = [{"_id": "1", "text": "one\u2028two\x1cthree"}, {"_id": "2", "text": "plain"}]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + "\n")
    assert [json.loads(line) for line in _lines(path)] == rows
