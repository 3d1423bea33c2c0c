"""``mmrag eval report``: one self-contained HTML file from run files (inline SVG, no JS)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.honesty import NOT_MEANINGFUL, is_meaningful
from eval.metrics import CURVE_K, curve

BAR_METRICS = ("ndcg@10", "recall@10", "mrr@10")
COLORS = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb")


class NotARunFileError(ValueError):
    """The JSON given is not a run file written by ``mmrag eval run``."""


def validate(content: Any, label: str = "input") -> dict[str, Any]:
    if not isinstance(content, dict) or not isinstance(content.get("runs"), list):
        raise NotARunFileError(f"{label} is not a run file: expected {{'dataset', 'runs': [...]}}")
    for n, run in enumerate(content["runs"]):
        if not isinstance(run, dict) or not isinstance(run.get("metrics"), dict):
            raise NotARunFileError(f"{label}: run {n} has no metrics")
    return content


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _bars(rows: Sequence[tuple[str, float, bool]], width: int = 420) -> str:
    """Horizontal bars, one per (label, value in [0, 1], meaningful)."""
    height = 18 * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for i, (label, value, meaningful) in enumerate(rows):
        y = 5 + 18 * i
        w = max(0.0, min(1.0, value)) * (width - 230)
        color = COLORS[i % len(COLORS)] if meaningful else "#dddddd"
        text = _fmt(value) if meaningful else f"{_fmt(value)} ({NOT_MEANINGFUL})"
        parts.append(f'<text x="0" y="{y + 12}" font-size="11">{_e(label)}</text>')
        parts.append(f'<rect x="120" y="{y}" width="{w:.1f}" height="14" fill="{color}"/>')
        parts.append(f'<text x="{124 + w:.1f}" y="{y + 12}" font-size="11">{_e(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curves(series: Sequence[tuple[str, Mapping[str, float]]]) -> str:
    """Recall@k lines over k (log-spaced positions), one line per series."""
    w, h, left, bottom = 420, 200, 40, 30
    xs = {k: left + (w - left - 10) * i / (len(CURVE_K) - 1) for i, k in enumerate(CURVE_K)}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 20 * len(series)}">'
    ]
    parts.append(f'<line x1="{left}" y1="{h - bottom}" x2="{w}" y2="{h - bottom}" stroke="#000"/>')
    parts.append(f'<line x1="{left}" y1="5" x2="{left}" y2="{h - bottom}" stroke="#000"/>')
    for k, x in xs.items():
        parts.append(f'<text x="{x:.1f}" y="{h - 12}" font-size="10">{k}</text>')
    for v in (0.0, 0.5, 1.0):
        y = 5 + (h - bottom - 5) * (1 - v)
        parts.append(f'<text x="5" y="{y + 4:.1f}" font-size="10">{v}</text>')
    for i, (label, points) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(
            f"{xs[k]:.1f},{5 + (h - bottom - 5) * (1 - float(points.get(str(k), 0.0))):.1f}"
            for k in CURVE_K
        )
        parts.append(f'<polyline fill="none" stroke="{color}" points="{coords}"/>')
        parts.append(
            f'<text x="{left}" y="{h + 14 + 20 * i}" font-size="11" fill="{color}">'
            f"{_e(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _run_curves(run: Mapping[str, Any]) -> dict[str, Mapping[str, float]]:
    metrics = run.get("metrics") or {}
    stored = (metrics.get("curves") or {}).get("by_direction")
    if isinstance(stored, dict):
        return stored
    return {d: curve(m) for d, m in (metrics.get("by_direction") or {}).items()}


def _dataset_section(name: str, files: Sequence[tuple[int, dict[str, Any]]]) -> str:
    out = [f"<h2>Dataset {_e(name)}</h2>"]
    runs = [(f"#{n} {r.get('config', '?')}", r) for n, content in files for r in content["runs"]]
    if not runs:
        return "".join(out) + "<p>No runs in this file.</p>"
    directions = sorted({d for _, r in runs for d in (r["metrics"].get("by_direction") or {})})
    if not directions:
        out.append("<p>No per-direction metrics.</p>")
    for direction in directions:
        out.append(f"<h3>Direction {_e(direction)}</h3>")
        for _, r in runs:
            if direction in (r["metrics"].get("by_direction") or {}) and not is_meaningful(
                r, direction
            ):
                reason = r["metrics"]["by_direction"][direction].get("reason", "CLIP is random")
                out.append(
                    f'<p class="warn">{_e(r.get("config", "?"))}: '
                    f"<strong>{NOT_MEANINGFUL}</strong> ({_e(reason)})</p>"
                )
        out.append('<div class="row">')
        for metric in BAR_METRICS:
            rows = [
                (
                    label,
                    float(r["metrics"]["by_direction"][direction].get(metric, 0.0)),
                    is_meaningful(r, direction),
                )
                for label, r in runs
                if direction in (r["metrics"].get("by_direction") or {})
            ]
            out.append(f"<div><h4>{_e(metric)}</h4>{_bars(rows)}</div>")
        series = [
            (label, _run_curves(r)[direction]) for label, r in runs if direction in _run_curves(r)
        ]
        out.append(f"<div><h4>Recall@k</h4>{_curves(series)}</div></div>")
    out.append("<h3>Runs</h3><table><tr><th>run</th><th>direction</th><th>queries</th>")
    out.append("".join(f"<th>{_e(m)}</th>" for m in (*BAR_METRICS, "map")) + "<th>note</th></tr>")
    for label, r in runs:
        for direction, m in (r["metrics"].get("by_direction") or {}).items():
            ok = is_meaningful(r, direction)
            cells = "".join(
                f"<td>{_fmt(m.get(k)) if ok else NOT_MEANINGFUL}</td>"
                for k in (*BAR_METRICS, "map")
            )
            note = "" if ok else NOT_MEANINGFUL
            out.append(
                f"<tr><td>{_e(label)}</td><td>{_e(direction)}</td>"
                f"<td>{_e(m.get('queries', '-'))}</td>{cells}<td>{_e(note)}</td></tr>"
            )
    out.append("</table><h3>Latency and models</h3><table>")
    out.append("<tr><th>run</th><th>p50 ms</th><th>p95 ms</th><th>n</th><th>models</th></tr>")
    for label, r in runs:
        lat = r.get("latency") or {}
        meta = r.get("meta") or {}
        models = ", ".join(f"{k}: {v}" for k, v in (meta.get("models") or {}).items()) or "-"
        if meta.get("clip_random"):
            models += " (CLIP random weights)"
        out.append(
            f"<tr><td>{_e(label)}</td><td>{_e(lat.get('p50_ms', '-'))}</td>"
            f"<td>{_e(lat.get('p95_ms', '-'))}</td><td>{_e(lat.get('n', '-'))}</td>"
            f"<td>{_e(models)}</td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def is_gap_file(content: Any) -> bool:
    return isinstance(content, dict) and content.get("kind") == "modality-gap"


def _gap_section(gap: Mapping[str, Any]) -> str:
    out = [f"<h2>Modality gap: {_e(gap.get('dataset', '?'))}</h2>"]
    out.append(f"<p>{_e(gap.get('gap', 'single - mixed'))}</p><table><tr><th>direction</th>")
    out.append("<th>queries</th><th>R@10 mixed</th><th>R@10 single</th><th>R@10 gap</th>")
    out.append("<th>nDCG@10 mixed</th><th>nDCG@10 single</th><th>nDCG@10 gap</th></tr>")
    for direction, row in (gap.get("directions") or {}).items():
        cells = []
        for metric in ("recall@10", "ndcg@10"):
            values = row.get(metric) or {}
            for key in ("mixed", "single", "gap"):
                shown = _fmt(values.get(key)) if row.get("meaningful", True) else NOT_MEANINGFUL
                cells.append(
                    f"<td>{_e(row.get('skipped', shown) if key == 'mixed' else shown)}</td>"
                )
        out.append(
            f"<tr><td>{_e(direction)}</td><td>{_e(row.get('queries', '-'))}</td>"
            + "".join(cells)
            + "</tr>"
        )
    out.append("</table>")
    return "".join(out)


def write_report(
    run_files: list[dict[str, Any]], out: Path, *, gaps: Sequence[Mapping[str, Any]] = ()
) -> Path:
    """Write one self-contained HTML report for the contents of run files (and gap files)."""
    for n, content in enumerate(run_files):
        validate(content, f"run file #{n}")
    by_dataset: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for n, content in enumerate(run_files):
        by_dataset.setdefault(str(content.get("dataset", "?")), []).append((n, content))
    body = [_dataset_section(name, files) for name, files in by_dataset.items()]
    body += [_gap_section(gap) for gap in gaps]
    if not body:
        body = ["<p>No run files given.</p>"]
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>mmrag retrieval evaluation</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.row{display:flex;flex-wrap:wrap;gap:1em}"
        ".warn{color:#a00}</style></head><body><h1>mmrag retrieval evaluation</h1>"
        + "".join(body)
        + "</body></html>\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
