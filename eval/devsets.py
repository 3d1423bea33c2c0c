"""The dev sets: bounded datasets built from the shared material, run in one go.

``mmrag eval dev`` builds them, runs each through the real pipeline (``evaluate_configs``)
into an isolated state folder, and writes one run file per dataset plus a summary;
``mmrag eval gate`` does the same and compares every run with its committed baseline
(``eval/baselines/``), failing on a significant regression (``eval.compare``).

Sizes are chosen so the whole set indexes and runs in a few minutes on 2 CPU cores with the
models cached. Image directions use whatever CLIP weights are configured; with the default
random weights their numbers are not meaningful (each run records ``meta.clip_random``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval import converters
from eval.compare import SUMMARY_KIND

logger = logging.getLogger(__name__)

BASELINES = Path(__file__).resolve().parent / "baselines"


@dataclass(frozen=True)
class DevSet:
    name: str
    description: str
    build: Callable[[Path, Path], Path]  # (shared material, out folder) -> dataset folder


def _xquad_dev(lang: str) -> DevSet:
    name = f"xquad-{lang}-dev"

    def build(shared: Path, out: Path) -> Path:
        return converters.xquad(shared, out, lang, limit_queries=30, limit_docs=60, name=name)

    return DevSet(
        name,
        f"XQuAD {lang}: 30 questions (a stable sample), their paragraphs + others, 60 in all",
        build,
    )


DEV_SETS: tuple[DevSet, ...] = (
    DevSet(
        "msmarco-dev",
        "MS MARCO: first 20 judged queries, 15 judged passages each + 150 distractors",
        lambda shared, out: converters.msmarco(
            shared,
            out,
            limit_queries=20,
            docs_per_query=15,
            distractors=150,
            name="msmarco-dev",
        ),
    ),
    DevSet(
        "cranfield-dev",
        "Cranfield: first 30 queries against 400 abstracts (their judged ones first)",
        lambda shared, out: converters.cranfield(
            shared, out, limit_queries=30, limit_docs=400, name="cranfield-dev"
        ),
    ),
    DevSet(
        "speech-dev",
        "24 clips (round robin over the collections): text->audio, keyword->audio, audio->text",
        lambda shared, out: converters.speech(shared, out, limit=24, name="speech-dev"),
    ),
    *(_xquad_dev(lang) for lang in converters.XQUAD_LANGUAGES),
    DevSet(
        "coco-dev",
        "20 COCO images, 5 captions each: text->image, image->text",
        lambda shared, out: converters.coco(shared, out, limit=20, name="coco-dev"),
    ),
)


class DevSetError(Exception):
    """The dev sets cannot be built (missing shared material, unknown name)."""


def select(names: Sequence[str] | None = None) -> list[DevSet]:
    if not names:
        return list(DEV_SETS)
    known = {d.name: d for d in DEV_SETS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DevSetError(f"unknown dev set(s) {unknown}; choose from {sorted(known)}")
    return [known[n] for n in names]


def build_dev_sets(shared: Path, out: Path, sets: Sequence[DevSet]) -> dict[str, Path]:
    """Write each dev set's dataset under ``out/datasets``; name -> dataset folder."""
    if not shared.is_dir():
        raise DevSetError(f"shared material not found at {shared} (use --shared)")
    folders = {}
    for dev in sets:
        try:
            folders[dev.name] = dev.build(shared, out / "datasets" / dev.name)
        except FileNotFoundError as exc:
            raise DevSetError(f"{dev.name}: shared material is incomplete ({exc})") from exc
    return folders


def run_dev_sets(
    shared: Path,
    out: Path,
    *,
    settings: Any,
    sets: Sequence[DevSet] | None = None,
    ablations: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build, index and run every dev set; write ``out/<name>.json`` and ``out/summary.json``.

    The index lives in ``out/state`` (its own data dir; the model cache stays where the
    settings put it), so every run starts from the same empty index unless ``out`` is reused.
    The packaged default calibration is used (a local ``mmrag calibrate`` fit would make the
    numbers depend on the machine). Returns the summary (also written).
    """
    from eval.dataset import load_dataset
    from eval.runner import FULL, evaluate_configs
    from eval.runner import ablations as ablation_configs
    from rag.runtime import Runtime
    from rerankers.calibration import packaged_default

    sets = list(sets or DEV_SETS)
    started = time.perf_counter()
    if progress:
        progress("building the dev sets")
    folders = build_dev_sets(shared, out, sets)
    isolated = isolated_settings(settings, out / "state")
    # Not the local `mmrag calibrate` fit: reproducible.
    runtime = Runtime(isolated, calibration=packaged_default())
    models, calibration = runtime.models, runtime.calibration
    configs = ablation_configs(settings.search.rerank_depth) if ablations else [FULL]
    entries = []
    for dev in sets:
        t0 = time.perf_counter()
        folder = folders[dev.name]
        data = load_dataset(folder)

        def step(config: str, n: int, total: int, name: str = dev.name) -> None:
            if progress:
                progress(f"{name} {config}: query {n}/{total}")

        runs = evaluate_configs(data, isolated, models, calibration, configs, progress=step)
        seconds = round(time.perf_counter() - t0, 1)
        run_file = out / f"{dev.name}.json"
        fingerprint = dataset_fingerprint(folder)
        document = {"dataset": data.name, "fingerprint": fingerprint, "runs": runs}
        run_file.write_text(json.dumps(document, indent=2) + "\n")
        entries.append(
            {
                "name": dev.name,
                "description": dev.description,
                "file": run_file.name,
                "fingerprint": fingerprint,
                "corpus": len(data.corpus),
                "queries": len(data.judged_queries),
                "seconds": seconds,
                "clip_random": any(r["meta"].get("clip_random") for r in runs),
                "metrics": {r["config"]: r["metrics"]["by_direction"] for r in runs},
            }
        )
    summary = {
        "kind": SUMMARY_KIND,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "configs": [c.name for c in configs],
        "datasets": entries,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def dataset_fingerprint(folder: Path) -> str:
    """sha256 of a dataset's corpus, queries, judgements and every file they name: a baseline
    is only comparable with a run on exactly the same material."""
    import hashlib

    digest = hashlib.sha256()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative.endswith((".jsonl", ".tsv", ".json")):
            continue
        digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def isolated_settings(settings: Any, data_dir: Path) -> Any:
    """The same settings with their own data dir; the model cache is kept (not re-derived)."""
    return settings.model_copy(
        update={"data_dir": data_dir, "cache_dir": settings.models_cache_dir.parent}
    )


def run_documents(out: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = [
        json.loads((out / entry["file"]).read_text()) for entry in summary["datasets"]
    ]
    return documents


def write_html_report(out: Path, summary: dict[str, Any]) -> Path | None:
    """``out/report.html`` through ``eval.report.write_report`` when that module exists."""
    try:
        from eval.report import write_report  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        logger.info("eval.report is not available: no HTML report written")
        return None
    path: Path = write_report(run_documents(out, summary), out / "report.html")
    return path


def print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dev sets ({summary['seconds']} s)")
    for column in ("dataset", "config", "direction", "queries", "nDCG@10", "R@10", "MRR@10"):
        table.add_column(column)
    random_clip = False
    for entry in summary["datasets"]:
        for config, directions in entry["metrics"].items():
            for direction, m in directions.items():
                image = "image" in direction
                flag = " *" if image and entry["clip_random"] else ""
                random_clip |= bool(flag)
                table.add_row(
                    entry["name"],
                    config,
                    direction + flag,
                    str(m["queries"]),
                    f"{m['ndcg@10']:.3f}",
                    f"{m['recall@10']:.3f}",
                    f"{m['mrr@10']:.3f}",
                )
    console = Console()
    console.print(table)
    if random_clip:
        console.print(
            "[yellow]* CLIP has RANDOM weights: image-direction numbers are NOT meaningful "
            "retrieval quality.[/]"
        )


def gate(
    shared: Path,
    work: Path,
    *,
    settings: Any,
    baselines: Path = BASELINES,
    candidates: Sequence[DevSet] = DEV_SETS,
    alpha: float = 0.05,
    min_delta: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Run the dev sets that have a baseline and compare each with it.

    A dev set whose material differs from its baseline's (another fingerprint: the shared
    material changed) is not compared and is listed in ``unmatched``. Returns (the dev
    summary, the ``eval.compare.CompareResult``). Raises ``eval.compare.CompareInputError``
    when the baselines are missing or unreadable, or when nothing is comparable.
    """
    from eval.compare import CompareInputError, compare_runs, load_runs

    base_runs = load_runs(baselines)
    prints = _baseline_fingerprints(baselines)
    names = sorted({str(r["dataset"]) for r in base_runs})
    known = {d.name for d in candidates}
    if not set(names) & known:
        raise CompareInputError(
            f"{baselines}: no baseline for any dev set ({sorted(known)}); found {names}"
        )
    sets = [d for d in candidates if d.name in names]
    folders = build_dev_sets(shared, work, sets)
    differs = [
        name
        for name, folder in folders.items()
        if prints.get(name) and prints[name] != dataset_fingerprint(folder)
    ]
    if len(differs) == len(sets):
        raise CompareInputError(
            f"the dev sets built from {shared} differ from the material of the baselines in "
            f"{baselines} ({', '.join(differs)}): refresh the baselines (docs/eval-gate.md)"
        )
    sets = [d for d in sets if d.name not in differs]
    summary = run_dev_sets(shared, work, settings=settings, sets=sets, progress=progress)
    new_runs = [r for r in load_runs(work) if r["dataset"] not in differs]
    base_runs = [r for r in base_runs if r["dataset"] not in differs]
    result = compare_runs(base_runs, new_runs, alpha=alpha, min_delta=min_delta)
    result.unmatched += [f"{n} (built from other material than its baseline)" for n in differs]
    return summary, result


def _baseline_fingerprints(baselines: Path) -> dict[str, str]:
    prints = {}
    for file in sorted(baselines.glob("*.json")):
        document = json.loads(file.read_text())
        if isinstance(document, dict) and document.get("fingerprint"):
            prints[str(document.get("dataset"))] = str(document["fingerprint"])
    return prints
