"""Throughput of one batch job of N files against plain `mmrag index` on the same files.

    PYTHONPATH=. .venv/bin/python -m bench.jobs_bench --files 32 --batch-files 4 --rounds 3

Every row indexes the same N files into a fresh data dir (so every file is really indexed,
none is "unchanged"), on this machine, in this run:

cold (a command from start to exit: process start, model loading, indexing)
  index        `mmrag index FILES --json`
  job-local    `mmrag jobs submit FILES --wait --json`, embedded default, no service
               running (the CLI owns the store and runs the job in the foreground)

warm (models already loaded; from start of work to the end, each round into fresh
collections)
  plain        `Indexer.index_paths(FILES)` in this process (what `mmrag index` runs)
  celery-1     one `mmrag worker` process (solo pool), Redis broker: submit -> finished
  celery-1x2   one worker process, threads pool, concurrency 2 (two batches at once,
               sharing the process's models and embedded store)
  celery-2     two worker processes: NOT measurable here. The embedded store admits one
               process (the second worker is started and refuses: shown in the output),
               and no Qdrant server can run on these machines.

Every row runs --rounds times, interleaved with the others, so a burst of load from other
work on the machine hits every row alike. Overhead ratio = row time / the matching plain
time (index for cold rows, plain for warm), from the best run of each (the least disturbed;
on a shared machine single runs vary by 3x) and from the medians.
Needs Redis on 127.0.0.1:6379 (database 13, a key prefix of its own, removed afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
REDIS_URL = "redis://127.0.0.1:6379/13"
MODEL_CACHE = REPO / ".mmrag-test-cache"


def build_corpus(root: Path, n: int) -> dict[str, int]:
    """About 60 % photos, 20 % short speech clips, 20 % text documents."""
    n_audio = max(1, n // 5)
    n_text = max(1, n // 5)
    n_image = n - n_audio - n_text
    images = sorted((SHARED / "image_caption/coco2017_subset/images/val2017").glob("*.jpg"))
    audio = sorted((SHARED / "audio/ljspeech_coqui_tts/wavs").glob("*.mp3"))
    texts = sorted((REPO / "samples/text").iterdir()) + sorted(
        (REPO / "tests/fixtures/text").iterdir()
    )
    if n_image > len(images) or n_audio > len(audio):
        raise SystemExit(f"not enough shared media for {n} files")
    root.mkdir(parents=True)
    for path in images[:n_image] + audio[:n_audio]:
        shutil.copy(path, root / path.name)
    for i in range(n_text):
        source = texts[i % len(texts)]
        # distinct bytes per copy, so each is a new source (not a duplicate of another)
        body = source.read_bytes()
        if source.suffix == ".jsonl":
            body += f'{{"text": "copy {i}"}}\n'.encode()
        else:
            body += f"\n\ncopy {i}\n".encode()
        (root / f"{i:03}-{source.name}").write_bytes(body)
    return {"image": n_image, "audio": n_audio, "text": n_text}


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "MMRAG_DATA_DIR": str(data_dir),
        "MMRAG_CACHE_DIR": str(MODEL_CACHE),
        "MMRAG_LOG_LEVEL": "WARNING",
    }
    return env | extra


def cli(args: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{args[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    summary: dict[str, Any] = json.loads(result.stdout)
    return elapsed, summary


def plain_warm(corpus: Path, data_dir: Path) -> tuple[float, dict[str, Any]]:
    from rag.runtime import Runtime
    from rag.settings import Settings

    settings = Settings(_env_file=None, data_dir=data_dir, cache_dir=MODEL_CACHE)  # type: ignore[call-arg]
    with Runtime(settings) as runtime:
        for kind in ("text", "clip", "whisper", "ocr"):
            runtime.models.load(kind)
        indexer = runtime.indexer()  # on the embedded store under data_dir/qdrant
        started = time.perf_counter()
        report = indexer.index_paths([corpus])
        elapsed = time.perf_counter() - started
    return elapsed, report.to_json()


@contextmanager
def workers(
    data_dir: Path, prefix: str, batch_files: int, specs: list[list[str]], log_dir: Path
) -> Iterator[dict[str, str]]:
    env = env_for(
        data_dir,
        MMRAG_JOBS__BROKER_URL=REDIS_URL,
        MMRAG_JOBS__KEY_PREFIX=prefix,
        MMRAG_JOBS__BATCH_FILES=str(batch_files),
        MMRAG_LOG_LEVEL="INFO",
    )
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for i, extra in enumerate(specs):
            log = log_dir / f"{prefix}-worker-{i}.log"
            with log.open("wb") as out:
                procs.append(
                    (
                        subprocess.Popen(
                            [sys.executable, "-m", "rag.cli.main", "worker", *extra],
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            cwd=REPO,
                        ),
                        log,
                    )
                )
            wait_ready(*procs[-1])
        yield env
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(120)


def wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if " ready." in text:
            return
        if proc.poll() is not None:
            raise RuntimeError(text[-2000:])
        time.sleep(0.2)
    raise SystemExit(f"worker not ready:\n{log.read_text()[-2000:]}")


def job_warm(corpus: Path, env: dict[str, str], prefix: str) -> tuple[float, dict[str, Any]]:
    """Submit one job (into fresh ``<prefix>_*`` collections) and wait for its end."""
    from rag.jobs import JobRequest, client_service
    from rag.jobs.view import report_of
    from rag.settings import JobsSettings, Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=Path(env["MMRAG_DATA_DIR"]),
        jobs=JobsSettings(
            broker_url=env["MMRAG_JOBS__BROKER_URL"],
            key_prefix=env["MMRAG_JOBS__KEY_PREFIX"],
            batch_files=int(env["MMRAG_JOBS__BATCH_FILES"]),
        ),
    )
    service = client_service(settings)
    started = time.perf_counter()
    job = service.submit(JobRequest((str(corpus),), collection_prefix=prefix), tenant="default")
    while not (job := service.get(job.id)).state.terminal:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    summary = report_of(job, service.ledger).to_json()
    service.close()
    return elapsed, summary


def second_worker_refusal(data_dir: Path, prefix: str, log_dir: Path) -> str:
    """Start two solo workers on one embedded store: the second must refuse to start."""
    with workers(data_dir, prefix, 4, [[]], log_dir) as env:
        result = subprocess.run(
            [sys.executable, "-m", "rag.cli.main", "worker"],
            env=env,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=600,
            check=False,
        )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "cannot" in line]
    message = lines[-1].split("cannot start: ", 1)[-1].strip() if lines else "(no message)"
    return f"exit {result.returncode}: {message}"


def cleanup_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=32, help="N: files in the job")
    parser.add_argument("--batch-files", type=int, default=4, help="files per batch task")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds (medians reported)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mmrag-jobs-bench-"))
    corpus = work / "corpus"
    mix = build_corpus(corpus, args.files)
    prefix = f"mmrag-bench-{uuid.uuid4().hex[:8]}"
    runs: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    load = [os.getloadavg()[0]]
    try:
        for r in range(args.rounds):
            runs.setdefault("index", []).append(
                cli(["index", str(corpus), "--json"], env_for(work / f"index-{r}"))
            )
            runs.setdefault("job-local", []).append(
                cli(
                    ["jobs", "submit", str(corpus), "--wait", "--json"],
                    env_for(work / f"job-local-{r}", MMRAG_JOBS__BATCH_FILES=str(args.batch_files)),
                )
            )
        solo = workers(work / "celery-1", f"{prefix}-1", args.batch_files, [[]], work)
        threads = workers(
            work / "celery-1x2",
            f"{prefix}-2",
            args.batch_files,
            [["--pool", "threads", "--concurrency", "2"]],
            work,
        )
        with solo as solo_env, threads as threads_env:
            # interleaved rounds, so a burst of load from elsewhere hits every row alike
            for r in range(args.rounds):
                runs.setdefault("plain", []).append(plain_warm(corpus, work / f"plain-{r}"))
                runs.setdefault("celery-1", []).append(job_warm(corpus, solo_env, f"r{r}"))
                runs.setdefault("celery-1x2", []).append(job_warm(corpus, threads_env, f"r{r}"))
        refusal = second_worker_refusal(work / "celery-2", f"{prefix}-3", work)
    finally:
        cleanup_redis(prefix)
    load.append(os.getloadavg()[0])

    rows: dict[str, dict[str, Any]] = {}
    for name, results in runs.items():
        for _, summary in results:
            assert summary["indexed"] == mix, f"{name} indexed {summary['indexed']}, not {mix}"
        times = [seconds for seconds, _ in results]
        rows[name] = {
            "best": min(times),
            "median": statistics.median(times),
            "all": [round(t, 1) for t in times],
        }
    for name, row in rows.items():
        base = rows["index" if name in ("index", "job-local") else "plain"]
        row["files_per_s"] = round(args.files / row["best"], 3)
        row["overhead"] = round(row["best"] / base["best"], 3)
        row["overhead_median"] = round(row["median"] / base["median"], 3)
        row["best"] = round(row["best"], 2)
        row["median"] = round(row["median"], 2)
    result = {
        "files": args.files,
        "mix": mix,
        "batch_files": args.batch_files,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in load],
        "rows": rows,
        "celery-2": refusal,
    }
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{args.files} files {mix}, batches of {args.batch_files}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} -> {load[1]:.1f}"
    )
    print(
        "| run | best s | median s | all runs (s) | files/s (best) "
        "| overhead (best) | overhead (median) |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['best']:.1f} | {row['median']:.1f} | {row['all']} "
            f"| {row['files_per_s']:.2f} | {row['overhead']:.2f} | {row['overhead_median']:.2f} |"
        )
    print(f"| celery-2 | n/a | n/a | | | | ({refusal}) |")


if __name__ == "__main__":
    main()
