"""Compare two evaluation runs query by query, with a paired significance test.

Both sides are run files written by ``mmrag eval run`` / ``mmrag eval dev`` (``{"dataset",
"runs": [...]}``), a single run object, or a folder of run files. For every (dataset, config,
direction) present on both sides, the per-query scores of the queries both sides judged are
paired and compared.

The test is a **paired two-sided randomisation (sign-flip permutation) test** on the mean
per-query difference, as recommended for IR evaluation by Smucker, Allan & Carterette
(CIKM 2007): it makes no assumption about the distribution of the differences (nDCG, MRR and
recall per query are bounded, discrete and full of ties and zeros, which hurts the Wilcoxon
signed-rank test's normal approximation and makes it discard zero differences), it tests the
quantity the gate reports (the mean delta), and it is exact (all 2^n sign patterns) when the
number of queries is small. A fixed seed makes the sampled p-value reproducible for larger n.
Identical scores give p = 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import METRICS

DEFAULT_METRIC = "ndcg@10"
SECONDARY = ("recall@10", "mrr@10")
DEFAULT_ALPHA = 0.05
N_RESAMPLES = 10_000
SEED = 20_240_601
SUMMARY_KIND = "mmrag-eval-summary"
TEST_NAME = "paired two-sided sign-flip randomisation test on the mean per-query difference"


class CompareInputError(Exception):
    """A run file is unreadable, or the two sides cannot be compared."""


@dataclass
class Comparison:
    dataset: str
    config: str
    direction: str
    queries: int
    base_only: int
    new_only: int
    base_mean: float
    new_mean: float
    delta: float
    p_value: float
    secondary_deltas: dict[str, float]
    verdict: str  # "regression" | "improvement" | "same" | "not significant" | "within tolerance"
    clip_random: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompareResult:
    metric: str
    alpha: float
    min_delta: float
    comparisons: list[Comparison] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == "regression"]

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "alpha": self.alpha,
            "min_delta": self.min_delta,
            "test": TEST_NAME,
            "n_resamples": N_RESAMPLES,
            "seed": SEED,
            "regressions": len(self.regressions),
            "ok": not self.regressions,
            "comparisons": [c.to_json() for c in self.comparisons],
            "unmatched": self.unmatched,
        }


# -- loading ---------------------------------------------------------------------------------
def load_runs(path: Path) -> list[dict[str, Any]]:
    """Every run object in a run file, or in every run file of a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        runs: list[dict[str, Any]] = []
        for file in files:
            document = _read_json(file)
            if isinstance(document, dict) and document.get("kind") == SUMMARY_KIND:
                continue
            runs += _runs_of(document, file)
        if not runs:
            raise CompareInputError(f"{path}: no run files (*.json with per-query metrics)")
        return runs
    if not path.is_file():
        raise CompareInputError(f"{path}: no such file or folder")
    return _runs_of(_read_json(path), path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareInputError(f"{path}: cannot read it ({exc})") from exc
    except ValueError as exc:
        raise CompareInputError(f"{path}: not valid JSON ({exc})") from exc


def _runs_of(document: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(document, dict) and isinstance(document.get("runs"), list):
        runs: list[Any] = document["runs"]
    elif isinstance(document, dict) and "per_query" in document:
        runs = [document]
    else:
        raise CompareInputError(
            f"{path}: not an eval run file (expected an object with 'runs' or 'per_query')"
        )
    for number, run in enumerate(runs):
        if not isinstance(run, dict) or not isinstance(run.get("per_query"), dict):
            raise CompareInputError(f"{path}: run {number} has no 'per_query' metrics")
        for key in ("dataset", "config"):
            if not isinstance(run.get(key), str):
                raise CompareInputError(f"{path}: run {number} has no '{key}' name")
    return runs


# -- the test --------------------------------------------------------------------------------
def paired_p_value(base: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided p-value of the mean paired difference ``new - base`` (sign-flip test)."""
    import numpy as np
    from scipy.stats import permutation_test

    if len(base) != len(new):
        raise ValueError("paired samples differ in length")
    diff = np.asarray(new, dtype=float) - np.asarray(base, dtype=float)
    if diff.size == 0 or not np.any(diff):
        return 1.0

    def statistic(d: Any, axis: int) -> Any:
        return np.mean(d, axis=axis)

    result = permutation_test(
        (diff,),
        statistic,
        permutation_type="samples",
        vectorized=True,
        n_resamples=N_RESAMPLES,
        alternative="two-sided",
        rng=np.random.default_rng(SEED),
    )
    return float(min(1.0, result.pvalue))


# -- comparing -------------------------------------------------------------------------------
def _groups(run: Mapping[str, Any]) -> dict[str, list[str]]:
    """direction -> query ids; ``all`` when the run does not record per-query directions."""
    directions = run.get("query_directions")
    if not isinstance(directions, dict) or not directions:
        return {"all": sorted(run["per_query"])}
    groups: dict[str, list[str]] = {}
    for query in sorted(run["per_query"]):
        groups.setdefault(str(directions.get(query, "unknown")), []).append(query)
    return groups


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def compare_runs(
    base_runs: Sequence[Mapping[str, Any]],
    new_runs: Sequence[Mapping[str, Any]],
    *,
    metric: str = DEFAULT_METRIC,
    alpha: float = DEFAULT_ALPHA,
    min_delta: float = 0.0,
) -> CompareResult:
    if metric not in METRICS:
        raise CompareInputError(f"unknown metric {metric!r}; choose from {', '.join(METRICS)}")
    if not 0 < alpha < 1:
        raise CompareInputError(f"alpha must be between 0 and 1, not {alpha}")
    if min_delta < 0:
        raise CompareInputError(f"--min-delta must be >= 0, not {min_delta}")
    base = {(r["dataset"], r["config"]): r for r in base_runs}
    new = {(r["dataset"], r["config"]): r for r in new_runs}
    result = CompareResult(metric, alpha, min_delta)
    shared = [key for key in base if key in new]
    result.unmatched = [f"{d}/{c} (base only)" for d, c in base if (d, c) not in new] + [
        f"{d}/{c} (new only)" for d, c in new if (d, c) not in base
    ]
    if not shared:
        raise CompareInputError(
            "the runs have no dataset/config in common: base has "
            f"{sorted('/'.join(k) for k in base)}, new has {sorted('/'.join(k) for k in new)}"
        )
    for key in shared:
        comparisons, notes = _compare_pair(base[key], new[key], metric, alpha, min_delta)
        result.comparisons += comparisons
        result.unmatched += notes
    return result


def _compare_pair(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    metric: str,
    alpha: float,
    min_delta: float,
) -> tuple[list[Comparison], list[str]]:
    label = f"{base['dataset']}/{base['config']}"
    base_groups, new_groups = _groups(base), _groups(new)
    if set(base_groups) == {"all"} or set(new_groups) == {"all"}:
        base_groups = {"all": [q for ids in base_groups.values() for q in ids]}
        new_groups = {"all": [q for ids in new_groups.values() for q in ids]}
    clip_random = bool(base.get("meta", {}).get("clip_random")) or bool(
        new.get("meta", {}).get("clip_random")
    )
    out = []
    notes = [
        f"{label} {d} ({'base' if d in base_groups else 'new'} only)"
        for d in sorted(set(base_groups) ^ set(new_groups))
    ]
    for direction in sorted(set(base_groups) & set(new_groups)):
        base_ids, new_ids = set(base_groups[direction]), set(new_groups[direction])
        ids = sorted(base_ids & new_ids)
        if not ids:
            raise CompareInputError(f"{label} {direction}: the runs share no query ids")
        try:
            b = [float(base["per_query"][q][metric]) for q in ids]
            n = [float(new["per_query"][q][metric]) for q in ids]
            secondary = {
                m: _mean(
                    float(new["per_query"][q][m]) - float(base["per_query"][q][m]) for q in ids
                )
                for m in SECONDARY
                if m != metric
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise CompareInputError(f"{label} {direction}: bad per-query metric ({exc})") from exc
        delta = _mean(n) - _mean(b)
        p = paired_p_value(b, n)
        out.append(
            Comparison(
                dataset=str(base["dataset"]),
                config=str(base["config"]),
                direction=direction,
                queries=len(ids),
                base_only=len(base_ids - new_ids),
                new_only=len(new_ids - base_ids),
                base_mean=_mean(b),
                new_mean=_mean(n),
                delta=delta,
                p_value=p,
                secondary_deltas=secondary,
                verdict=_verdict(b, n, delta, p, alpha, min_delta),
                clip_random=clip_random and "image" in direction,
            )
        )
    return out, notes


def _verdict(
    base: Sequence[float],
    new: Sequence[float],
    delta: float,
    p: float,
    alpha: float,
    min_delta: float,
) -> str:
    if list(base) == list(new):
        return "same"
    if p >= alpha:
        return "not significant"
    if delta < 0:
        return "regression" if -delta > min_delta else "within tolerance"
    return "improvement" if delta > 0 else "not significant"


def print_comparison(result: CompareResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{result.metric}: new vs base (paired sign-flip test, alpha {result.alpha})"
    )
    secondary = [m for m in SECONDARY if m != result.metric]
    columns = ["dataset", "config", "direction", "queries", "base", "new", "delta", "p"]
    for column in columns + [f"delta {m}" for m in secondary] + ["verdict"]:
        table.add_column(column)
    colours = {"regression": "red", "improvement": "green"}
    for c in result.comparisons:
        colour = colours.get(c.verdict)
        verdict = f"[{colour}]{c.verdict}[/]" if colour else c.verdict
        if c.clip_random:
            verdict += " (random CLIP)"
        table.add_row(
            c.dataset,
            c.config,
            c.direction,
            str(c.queries)
            + (f" (-{c.base_only}/+{c.new_only})" if c.base_only or c.new_only else ""),
            f"{c.base_mean:.4f}",
            f"{c.new_mean:.4f}",
            f"{c.delta:+.4f}",
            f"{c.p_value:.4f}",
            *[f"{c.secondary_deltas[m]:+.4f}" for m in secondary],
            verdict,
        )
    console = Console()
    console.print(table)
    for item in result.unmatched:
        console.print(f"[yellow]not compared: {item}[/]")
    if any(c.clip_random for c in result.comparisons):
        console.print(
            "[yellow]CLIP has random weights: image-direction numbers are NOT meaningful "
            "quality (they still catch changes in the image path).[/]"
        )
    if result.regressions:
        console.print(f"[red]{len(result.regressions)} significant regression(s)[/]")
    else:
        console.print("no significant regression")
