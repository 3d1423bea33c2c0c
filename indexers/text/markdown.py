"""Markdown: one section per file.

Markdown is searchable as it is, so its text is kept; only code-fence marker lines and HTML
comments (outside code) are dropped. The first level-1 heading is the title (else the first
heading of any level).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _split_fenced(lines: list[str]) -> list[tuple[bool, list[str]]]:
    """Runs of lines, each flagged True inside a code fence; marker lines become blank."""
    runs: list[tuple[bool, list[str]]] = [(False, [])]
    fence: str | None = None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            runs.append((True, [""]))
        elif fence is not None and match and match.group(1)[0] == fence[0]:
            if len(match.group(1)) >= len(fence) and not line[match.end() :].strip():
                fence = None
                runs.append((False, [""]))
            else:
                runs[-1][1].append(line)
        else:
            runs[-1][1].append(line)
    return runs


def _heading(runs: list[tuple[bool, list[str]]]) -> str | None:
    first: str | None = None
    for in_code, lines in runs:
        if in_code:
            continue
        for number, line in enumerate(lines):
            level, title = 0, ""
            atx = _ATX_HEADING.match(line)
            if atx:
                level, title = len(atx.group(1)), atx.group(2)
            elif number + 1 < len(lines) and line.strip() and not line.startswith("    "):
                underline = _SETEXT_UNDERLINE.match(lines[number + 1])
                previous_blank = number == 0 or not lines[number - 1].strip()
                if underline and previous_blank:
                    level, title = (1 if underline.group(1)[0] == "=" else 2), line
            title = title.strip()
            if level == 1 and title:
                return title
            if level and title and first is None:
                first = title
    return first


def markdown_text(text: str) -> tuple[str, str | None]:
    """The searchable text of a markdown document and its title."""
    runs = _split_fenced(text.split("\n"))
    title = _heading(runs)
    parts: list[str] = []
    for in_code, lines in runs:
        chunk = "\n".join(lines)
        parts.append(chunk if in_code else _HTML_COMMENT.sub("", chunk))
    return "\n".join(parts), title
