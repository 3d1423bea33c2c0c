"""Indexing benchmark: mmrag index vs the plain libraries doing the same model work.

    .venv/bin/python -m bench.index_bench [--out artifacts/index_bench.json]

Measures, in one run on this machine:
1. Throughput per modality (units/s) of the indexing pipeline against the plain libraries
   doing the same model work on the same inputs (sentence-transformers ``encode``, open_clip
   ``encode_text`` / ``encode_image``, rapidocr, faster-whisper ``transcribe``), alternating
   the two and taking medians. Ratio = mmrag throughput / plain throughput (target >= 0.9).
2. Re-indexing the unchanged corpus against the first index (target >= 20x faster).
3. Peak RSS of a fresh process indexing a long recording and a 500-page PDF, next to a
   process that only loads the same models.
4. Word error rate of the bundled Whisper models per shared audio collection.
Nothing is hard-coded: every figure printed is measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"


def _settings(data_dir: Path) -> Any:
    from rag.settings import Settings

    return Settings(_env_file=None, data_dir=data_dir, cache_dir=REPO / ".mmrag-test-cache")  # type: ignore[call-arg]


# -- inputs ------------------------------------------------------------------------------
def prepare_inputs(work: Path, passages: int, images: int) -> dict[str, Path]:
    folders = {m: work / m for m in ("text", "image", "audio")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    corpus = SHARED / "text_retrieval" / "agentset_beir_subsets" / "msmarco" / "corpus.jsonl"
    lines = corpus.read_text().splitlines()[:passages]
    (folders["text"] / "msmarco.jsonl").write_text("\n".join(lines) + "\n")
    for path in sorted(
        (SHARED / "image_caption" / "coco2017_subset" / "images" / "val2017").glob("*.jpg")
    )[:images]:
        shutil.copy(path, folders["image"] / path.name)
    speech = [
        *sorted((SHARED / "audio" / "ljspeech_coqui_tts" / "wavs").glob("*.flac")),
        *sorted((SHARED / "audio" / "speechbrain_asr_samples").glob("*.wav")),
        *sorted((SHARED / "audio" / "pocketsphinx" / "librivox").glob("*.wav")),
        SHARED / "audio" / "faster_whisper" / "jfk.flac",
    ]
    for path in speech:
        shutil.copy(path, folders["audio"] / f"{path.parent.name}-{path.name}")
    return folders


# -- plain libraries -----------------------------------------------------------------------
def plain_text(models: Any, folder: Path, settings: Any) -> int:
    import torch

    from indexers.text import chunk_sections, extract_sections

    embedder = models.text()
    texts = [
        c.text
        for c in chunk_sections(
            extract_sections(next(folder.iterdir())),
            count_tokens=embedder.count_tokens,
            max_tokens=embedder.max_tokens,
            overlap_tokens=settings.index.chunk_overlap_tokens,
        )
    ]
    started = time.perf_counter()
    st = embedder._model
    st.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    clip = models.clip()
    for i in range(0, len(texts), 32):
        with torch.inference_mode():
            clip._model.encode_text(clip._tokenizer(texts[i : i + 32]), normalize=True)
    return _elapsed(started, len(texts))


def plain_images(models: Any, folder: Path) -> int:
    import numpy as np
    import torch
    from PIL import Image

    started = time.perf_counter()
    clip, st, ocr = models.clip(), models.text()._model, models.ocr()._engine
    tensors, texts = [], []
    for path in sorted(folder.iterdir()):
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        result, _ = ocr(np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1]))
        texts.append(" ".join(r[1] for r in result or []))
        tensors.append(clip._preprocess(rgb))
    for i in range(0, len(tensors), 32):
        with torch.inference_mode():
            clip._model.encode_image(torch.stack(tensors[i : i + 32]), normalize=True)
    st.encode(
        [t for t in texts if t], batch_size=64, normalize_embeddings=True, show_progress_bar=False
    )
    return _elapsed(started, len(tensors))


def plain_audio(models: Any, folder: Path) -> int:
    import torch

    started = time.perf_counter()
    whisper = models.whisper()._model
    clip, st = models.clip(), models.text()._model
    texts = []
    for path in sorted(folder.iterdir()):
        segments, _ = whisper.transcribe(
            str(path), beam_size=5, vad_filter=True, condition_on_previous_text=False
        )
        texts += [s.text.strip() for s in segments if s.text.strip()]
    st.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    for i in range(0, len(texts), 32):
        with torch.inference_mode():
            clip._model.encode_text(clip._tokenizer(texts[i : i + 32]), normalize=True)
    return _elapsed(started, len(texts))


_TIMES: list[float] = []


def _elapsed(started: float, units: int) -> int:
    _TIMES.append(time.perf_counter() - started)
    return units


def mmrag_index(models: Any, folder: Path, data_dir: Path) -> tuple[float, int, Any]:
    from rag.runtime import Runtime

    with Runtime(_settings(data_dir), models=models) as runtime:
        indexer = runtime.indexer()
        started = time.perf_counter()
        report = indexer.index_paths([folder])
        seconds = time.perf_counter() - started
    assert report.ok, report.to_json()["failed"]
    return seconds, sum(report.units().values()), report


def throughput(models: Any, folders: dict[str, Path], work: Path, repeat: int) -> dict[str, Any]:
    settings = _settings(work / "unused")
    plain = {
        "text": lambda: plain_text(models, folders["text"], settings),
        "image": lambda: plain_images(models, folders["image"]),
        "audio": lambda: plain_audio(models, folders["audio"]),
    }
    out: dict[str, Any] = {}
    for modality in ("text", "image", "audio"):
        plain_s, mmrag_s, units = [], [], 0
        for r in range(repeat):
            _TIMES.clear()
            plain_units = plain[modality]()
            plain_s.append(_TIMES[-1])
            seconds, units, _ = mmrag_index(models, folders[modality], work / f"tp-{modality}-{r}")
            mmrag_s.append(seconds)
            print(
                f"  {modality} run {r + 1}: plain {plain_s[-1]:.1f}s ({plain_units} units), "
                f"mmrag {seconds:.1f}s ({units} units)",
                flush=True,
            )
        p, m = statistics.median(plain_s), statistics.median(mmrag_s)
        out[modality] = {
            "units": units,
            "plain_units_per_s": round(plain_units / p, 2),
            "mmrag_units_per_s": round(units / m, 2),
            "ratio": round((units / m) / (plain_units / p), 3),
            "plain_s": [round(x, 2) for x in plain_s],
            "mmrag_s": [round(x, 2) for x in mmrag_s],
        }
    return out


def reindex(models: Any, folders: dict[str, Path], work: Path) -> dict[str, Any]:
    data = work / "reindex"
    first, units, _ = mmrag_index_all(models, folders, data)
    second, _, report = mmrag_index_all(models, folders, data)
    unchanged = sum(
        report.counts(
            __import__("indexers.report", fromlist=["FileStatus"]).FileStatus.UNCHANGED
        ).values()
    )
    return {
        "first_s": round(first, 2),
        "reindex_s": round(second, 3),
        "speedup": round(first / second, 1),
        "units": units,
        "unchanged_files": unchanged,
    }


def mmrag_index_all(
    models: Any, folders: dict[str, Path], data_dir: Path
) -> tuple[float, int, Any]:
    from rag.runtime import Runtime

    with Runtime(_settings(data_dir), models=models) as runtime:
        indexer = runtime.indexer()
        started = time.perf_counter()
        report = indexer.index_paths(list(folders.values()))
        return time.perf_counter() - started, sum(report.units().values()), report


# -- memory --------------------------------------------------------------------------------
def write_long_recording(path: Path, seconds: float) -> Path:
    """Speech clips with pauses, repeated up to ``seconds`` (16 kHz mono 16-bit WAV)."""
    import wave

    import numpy as np

    from rag.media.audio import stream_windows

    clips = [
        np.concatenate([w.samples for w in stream_windows(p, window_s=60)])
        for p in sorted((SHARED / "audio" / "ljspeech_coqui_tts" / "wavs").glob("*.flac"))[:8]
    ]
    pause = np.zeros(16_000 * 2, dtype=np.float32)
    total = int(seconds * 16_000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        written, i = 0, 0
        while written < total:
            piece = np.concatenate([clips[i % len(clips)], pause])[: total - written]
            out.writeframes((np.clip(piece, -1, 1) * 32767).astype("<i2").tobytes())
            written += piece.size
            i += 1
    return path


PROBE = """
import resource, sys, json, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from bench.index_bench import _settings
from rag.runtime import Runtime
mode, target, data = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
runtime = Runtime(_settings(data))
models = runtime.models
for kind in ("text", "clip", "whisper", "ocr"):
    models.load(kind)
import threading
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
baseline = rss_mb()
peak = [baseline]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb())
        time.sleep(0.05)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
units = 0
if mode == "index":
    with runtime:
        report = runtime.indexer().index_paths([target])
    units = sum(report.units().values())
seconds = round(time.perf_counter() - started, 1)
stop.set()
sampler.join()
peak_mb = max(peak[0], rss_mb())
print(json.dumps({{
    "rss_after_model_load_mb": round(baseline),
    "peak_rss_while_indexing_mb": round(peak_mb),
    "growth_mb": round(peak_mb - baseline),
    "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "seconds": seconds,
    "units": units,
}}))
"""


def peak_rss(work: Path, hours: float, pdf_pages: int) -> dict[str, Any]:
    from tests.unit.indexers.large_pdf import write_long_pdf

    probe = work / "probe.py"
    probe.write_text(PROBE.format(repo=str(REPO)))
    inputs = {
        "models only": ("load", work),
        f"recording {hours * 60:.0f} min": (
            "index",
            write_long_recording(work / "long.wav", hours * 3600),
        ),
        f"recording {hours * 20:.0f} min": (
            "index",
            write_long_recording(work / "short.wav", hours * 1200),
        ),
        f"pdf {pdf_pages} pages": (
            "index",
            write_long_pdf(work / "long.pdf", pages=pdf_pages, words_per_page=300),
        ),
    }
    out: dict[str, Any] = {}
    for name, (mode, target) in inputs.items():
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, str(probe), mode, str(target), str(work / f"rss-{len(out)}")],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
        if target.is_file():
            out[name]["input_mb"] = round(target.stat().st_size / 2**20, 1)
        print(f"  {name}: {out[name]}", flush=True)
    return out


# -- WER -----------------------------------------------------------------------------------
def word_error_rates(models_by_name: dict[str, Any]) -> dict[str, Any]:
    import jiwer

    from bench.speech_text import normalise
    from eval.converters import speech_clips

    clips = speech_clips(SHARED)
    out: dict[str, Any] = {}
    for name, transcriber in models_by_name.items():
        by_collection: dict[str, tuple[list[str], list[str]]] = {}
        started = time.perf_counter()
        for clip in clips:
            hyp = transcriber.transcribe(clip.file, language="en").text
            refs, hyps = by_collection.setdefault(clip.collection, ([], []))
            refs.append(normalise(clip.transcript))
            hyps.append(normalise(hyp))
        out[name] = {
            coll: {"clips": len(r), "wer": round(jiwer.wer(r, h), 4)}
            for coll, (r, h) in sorted(by_collection.items())
        }
        out[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {out[name]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "index_bench.json")
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--hours", type=float, default=1.0, help="length of the long recording")
    parser.add_argument("--pdf-pages", type=int, default=500)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["throughput", "reindex", "rss", "wer"]
    )
    args = parser.parse_args()

    from rag.models.whisper import load_whisper
    from rag.runtime import Runtime
    from rag.settings import WhisperSettings

    work = Path(tempfile.mkdtemp(prefix="mmrag-bench-"))
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
    }
    try:
        settings = _settings(work / "models")
        models = Runtime(settings).models
        for kind in ("text", "clip", "ocr", "whisper"):
            models.load(kind)
        folders = prepare_inputs(work / "inputs", args.passages, args.images)
        if "throughput" not in args.skip:
            print("throughput (plain libraries vs mmrag index):", flush=True)
            result["throughput"] = throughput(models, folders, work, args.repeat)
        if "reindex" not in args.skip:
            print("re-index of the unchanged corpus:", flush=True)
            result["reindex"] = reindex(models, folders, work)
            print(f"  {result['reindex']}", flush=True)
        if "rss" not in args.skip:
            print("peak RSS (fresh process each):", flush=True)
            result["peak_rss"] = peak_rss(work, args.hours, args.pdf_pages)
        if "wer" not in args.skip:
            print("word error rate (numbers normalised):", flush=True)
            base = load_whisper(WhisperSettings(model="base"), "cpu", settings.models_cache_dir)
            result["wer"] = word_error_rates({"tiny.en": models.whisper(), "base": base})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
