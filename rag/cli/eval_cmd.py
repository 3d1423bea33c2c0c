"""``mmrag eval ...`` and ``mmrag calibrate``: measure retrieval quality, fit calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.cli.common import domain_errors

eval_app = typer.Typer(
    help="Evaluate retrieval quality per modality and direction.", no_args_is_help=True
)

CONVERTER_NAMES = ("msmarco", "cranfield", "speech", "coco", "mixed")


def _default_shared() -> Path:
    return Path.cwd().parent / "shared" / "data"


@eval_app.command("convert")
@domain_errors
def convert(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(CONVERTER_NAMES)}.")],
    out: Annotated[Path, typer.Option(help="Dataset folder to write.")],
    shared: Annotated[
        Path | None, typer.Option(help="The shared test material (default ../shared/data).")
    ] = None,
) -> None:
    """Turn shared test material into an evaluation dataset."""
    from eval.converters import CONVERTERS

    if name not in CONVERTERS:
        typer.echo(
            f"error: unknown dataset {name!r}; choose from {', '.join(CONVERTERS)}", err=True
        )
        raise typer.Exit(2)
    source = shared or _default_shared()
    if not source.is_dir():
        typer.echo(f"error: shared material not found at {source} (use --shared)", err=True)
        raise typer.Exit(2)
    folder = CONVERTERS[name](source, out)
    typer.echo(f"wrote {folder}")


@eval_app.command("run")
@domain_errors
def run(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder (see eval/dataset.py).")],
    out: Annotated[Path, typer.Option(help="Where to write the run JSON.")],
    ablations: Annotated[
        bool, typer.Option(help="Also run dense only, + sparse, + calibration, + rerank.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Only the first N judged queries.")] = None,
) -> None:
    """Index the dataset into an isolated collection prefix and score every query."""
    from rich.console import Console

    from eval.dataset import load_dataset
    from eval.runner import FULL, evaluate_configs
    from eval.runner import ablations as ablation_configs
    from rag.cli.common import runtime

    console = Console(stderr=True)
    parts = runtime(console)
    settings = parts.settings
    data = load_dataset(dataset)
    configs = ablation_configs(settings.search.rerank_depth) if ablations else [FULL]
    with console.status("indexing and searching...") as status:

        def progress(config: str, n: int, total: int) -> None:
            status.update(f"{config}: query {n}/{total}")

        runs = evaluate_configs(
            data,
            settings,
            parts.models,
            parts.calibration,
            configs,
            limit=limit,
            progress=progress,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"dataset": data.name, "runs": runs}, indent=2) + "\n")
    _print_runs(runs)
    typer.echo(f"wrote {out}")


@eval_app.command("translator")
@domain_errors
def translator(
    cases: Annotated[
        Path | None, typer.Argument(help="A cases.jsonl manifest, or a folder holding one.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the report JSON.")] = Path("tr.json"),
    shared: Annotated[
        bool, typer.Option("--shared", help="Also discover every envelope of the shared corpus.")
    ] = False,
    shared_data: Annotated[
        Path | None, typer.Option(help="The shared test material (default ../shared/data).")
    ] = None,
    mode: Annotated[
        str, typer.Option(help="deterministic, or llm (cases with a target schema).")
    ] = "deterministic",
    repeat: Annotated[int, typer.Option(help="Timed translations per message.")] = 3,
) -> None:
    """Score SOAP/XML -> JSON translation: schema validity, leaf recall, types, fallbacks."""
    from eval.translator_eval import run_command
    from rag.cli.common import setup

    if mode not in ("deterministic", "llm"):
        typer.echo("error: --mode is deterministic or llm", err=True)
        raise typer.Exit(2)
    code = run_command(
        cases,
        out,
        discover=shared,
        shared=shared_data or _default_shared(),
        mode=mode,  # type: ignore[arg-type]
        repeat=repeat,
        settings=setup(),
    )
    raise typer.Exit(code)


@eval_app.command("mappings")
@domain_errors
def mappings(
    cases: Annotated[Path, typer.Argument(help="A cases.jsonl manifest, or a folder holding one.")],
    out: Annotated[Path, typer.Option(help="Where to write the report JSON.")] = Path("map.json"),
    llm: Annotated[
        bool, typer.Option(help="Ask the configured LLM (--no-llm: the similarity baseline only).")
    ] = True,
    shared_data: Annotated[
        Path | None, typer.Option(help="The shared test material (default ../shared/data).")
    ] = None,
) -> None:
    """Score proposed mappings against expected ones: field accuracy, validity, time."""
    from eval.mapping_eval import run_command
    from rag.cli.common import setup

    code = run_command(
        cases, out, shared=shared_data or _default_shared(), with_llm=llm, settings=setup()
    )
    raise typer.Exit(code)


def _print_runs(runs: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="retrieval quality")
    for column in (
        "config",
        "direction",
        "queries",
        "nDCG@10",
        "R@1",
        "R@10",
        "MRR@10",
        "MAP",
        "p50 ms",
        "p95 ms",
    ):
        table.add_column(column)
    from eval.honesty import NOT_MEANINGFUL, is_meaningful

    for r in runs:
        for direction, m in r["metrics"]["by_direction"].items():
            ok = is_meaningful(r, direction)
            scores = [
                f"{m[k]:.3f}" if ok else NOT_MEANINGFUL
                for k in ("ndcg@10", "recall@1", "recall@10", "mrr@10", "map")
            ]
            table.add_row(
                r["config"],
                direction,
                str(m["queries"]),
                *scores,
                str(r["latency"]["p50_ms"]),
                str(r["latency"]["p95_ms"]),
            )
    Console().print(table)
    if any(r["meta"].get("clip_random") for r in runs):
        Console().print(
            "[yellow]CLIP has random weights: image directions are NOT meaningful quality.[/]"
        )


@eval_app.command("report")
@domain_errors
def report(
    run_files: Annotated[
        list[Path],
        typer.Argument(help="Run JSON files from `eval run` (and gap JSON from `eval gap`)."),
    ],
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
) -> None:
    """One self-contained HTML report (inline SVG charts) from run files."""
    from eval.report import NotARunFileError, is_gap_file, validate, write_report

    contents, gaps = [], []
    for path in run_files:
        try:
            content = json.loads(path.read_text())
            if is_gap_file(content):
                gaps.append(content)
            else:
                contents.append(validate(content, str(path)))
        except (OSError, ValueError, NotARunFileError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    typer.echo(f"wrote {write_report(contents, out, gaps=gaps)}")


@eval_app.command("gap")
@domain_errors
def gap(
    dataset: Annotated[Path, typer.Argument(help="A mixed dataset folder (`convert mixed`).")],
    out: Annotated[Path, typer.Option(help="Where to write the gap JSON.")] = Path("gap.json"),
    per_direction: Annotated[
        int | None, typer.Option(help="At most N judged queries per direction.")
    ] = None,
) -> None:
    """Per direction: quality in the mixed index vs an index of the target modality only."""
    from rich.console import Console
    from rich.table import Table

    from eval.dataset import load_dataset
    from eval.gap import modality_gap
    from eval.honesty import NOT_MEANINGFUL
    from rag.cli.common import runtime

    console = Console(stderr=True)
    parts = runtime(console)
    settings = parts.settings
    with console.status("indexing and searching (mixed, then each modality alone)..."):
        result = modality_gap(
            load_dataset(dataset),
            settings,
            parts.models,
            parts.calibration,
            per_direction=per_direction,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title="modality gap (single - mixed)")
    for column in ("direction", "queries", "R@10 mixed", "R@10 single", "gap", "nDCG@10 gap"):
        table.add_column(column)
    for direction, row in result["directions"].items():
        if "skipped" in row:
            table.add_row(direction, str(row["queries"]), "skipped", "", "", "")
            continue
        r, n = row["recall@10"], row["ndcg@10"]
        cells = [
            f"{v:.3f}" if row["meaningful"] and v is not None else NOT_MEANINGFUL
            for v in (r["mixed"], r["single"], r["gap"], n["gap"])
        ]
        table.add_row(direction, str(row["queries"]), *cells)
    Console().print(table)
    typer.echo(f"wrote {out}")


def calibrate(
    datasets: Annotated[list[Path], typer.Argument(help="Judged dataset folders to fit on.")],
    limit: Annotated[int | None, typer.Option(help="Only the first N judged queries each.")] = None,
) -> None:
    """Fit per-modality score calibration on judged datasets and make it current."""
    from collections import defaultdict

    from rich.console import Console

    from eval.calibrate import collect_pairs, fit_calibration
    from eval.dataset import load_dataset
    from rag.cli.common import runtime

    console = Console(stderr=True)
    parts = runtime(console)
    settings = parts.settings
    models = parts.models
    pairs: dict[Any, list[Any]] = defaultdict(list)
    names = []
    for folder in datasets:
        data = load_dataset(folder)
        names.append(data.name)
        with console.status(f"{data.name}: indexing...") as status:

            def progress(n: int, total: int, name: str = data.name) -> None:
                status.update(f"{name}: query {n}/{total}")

            found = collect_pairs(data, settings, models, limit=limit, progress=progress)
        for pair_key, values in found.items():
            pairs[pair_key] += values
    calibration = fit_calibration(pairs, sources=names)
    path = calibration.save(settings.calibration_dir)
    for key, stat in sorted(calibration.stats.items()):
        fitted = f"a={stat['a']} b={stat['b']}" if stat.get("fitted") else "default kept"
        console.print(f"{key}: {stat['pairs']} pairs, {stat['relevant']} relevant -> {fitted}")
    typer.echo(f"calibration {calibration.version} written to {path} (now current)")


# -- compare / dev / gate (eval/compare.py, eval/devsets.py) ---------------------------------
@eval_app.command("compare")
@domain_errors
def compare(
    base: Annotated[Path, typer.Argument(help="Baseline run file (or folder of run files).")],
    new: Annotated[Path, typer.Argument(help="New run file (or folder of run files).")],
    metric: Annotated[str, typer.Option(help="Per-query metric to test.")] = "ndcg@10",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    min_delta: Annotated[
        float, typer.Option(help="Tolerate significant drops of at most this much.")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Paired significance test per dataset/config/direction; exit 1 on a regression."""
    from eval.compare import CompareInputError, compare_runs, load_runs, print_comparison

    try:
        result = compare_runs(
            load_runs(base), load_runs(new), metric=metric, alpha=alpha, min_delta=min_delta
        )
    except CompareInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
    else:
        print_comparison(result)
    raise typer.Exit(1 if result.regressions else 0)


@eval_app.command("dev")
@domain_errors
def dev(
    out: Annotated[Path, typer.Option(help="Folder for the datasets, run files and summary.")],
    shared: Annotated[
        Path | None, typer.Option(help="The shared test material (default ../shared/data).")
    ] = None,
    ablations: Annotated[
        bool, typer.Option(help="Also run dense only, + sparse, + calibration, + rerank.")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option(help="Only these dev sets (repeatable).")
    ] = None,
) -> None:
    """Build the bounded dev sets, run each through the pipeline, write runs + summary."""
    from rich.console import Console

    from eval.devsets import (
        DevSetError,
        print_summary,
        run_dev_sets,
        select,
        write_html_report,
    )
    from rag.cli.common import setup

    console = Console(stderr=True)
    settings = setup(console)
    try:
        with console.status("dev sets...") as status:
            summary = run_dev_sets(
                shared or _default_shared(),
                out,
                settings=settings,
                sets=select(only),
                ablations=ablations,
                progress=status.update,
            )
    except DevSetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    print_summary(summary)
    report = write_html_report(out, summary)
    typer.echo(f"wrote {out / 'summary.json'}" + (f" and {report}" if report else ""))


@eval_app.command("gate")
@domain_errors
def gate(
    baselines: Annotated[Path, typer.Option(help="Folder of baseline run files.")] = Path(
        "eval/baselines"
    ),
    shared: Annotated[
        Path | None, typer.Option(help="The shared test material (default ../shared/data).")
    ] = None,
    work: Annotated[
        Path | None, typer.Option(help="Keep the runs here (default: a temporary folder).")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    min_delta: Annotated[
        float, typer.Option(help="Tolerate significant drops of at most this much.")
    ] = 0.0,
    only: Annotated[
        list[str] | None, typer.Option(help="Only these dev sets (repeat); default: all.")
    ] = None,
) -> None:
    """Run the dev sets and compare each with its baseline; exit 1 on a regression."""
    import shutil
    import tempfile

    from rich.console import Console

    from eval.compare import CompareInputError, print_comparison
    from eval.devsets import DevSetError, select
    from eval.devsets import gate as run_gate
    from rag.cli.common import setup

    console = Console(stderr=True)
    settings = setup(console)
    folder = work or Path(tempfile.mkdtemp(prefix="mmrag-gate-"))
    try:
        candidates = select(only)
        with console.status("eval gate...") as status:
            summary, result = run_gate(
                shared or _default_shared(),
                folder,
                settings=settings,
                baselines=baselines,
                candidates=candidates,
                alpha=alpha,
                min_delta=min_delta,
                progress=status.update,
            )
    except (CompareInputError, DevSetError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        if work is None:
            shutil.rmtree(folder, ignore_errors=True)
    print_comparison(result)
    typer.echo(f"eval gate: {len(result.regressions)} regression(s) in {summary['seconds']} s")
    raise typer.Exit(1 if result.regressions else 0)
