"""Model throughput: mmrag's model code against the plain libraries doing the same work.

Runs unchanged on the CPU (``--quick``: small sizes, in CI) and on a CUDA machine (default
sizes). Per workload it prints mmrag's rate, the plain library's rate doing the same work the
way a GPU user would (half precision on CUDA, big batches, decoding in a thread pool; on the
CPU the same code in float32), their ratio, and the peak GPU memory (n/a on the CPU)::

    python -m bench.gpu_bench --quick --out gpu_bench.json

Workloads: text (the registry's text embedder vs plain sentence-transformers on MS MARCO
passages), images (mmrag's CLIP ``encode_images`` from files, decoding included, vs plain
open_clip), speech (mmrag's transcriber vs plain faster-whisper, batched on CUDA), short
clips (one-word FSDD recordings transcribed together, as the indexer does for a job of voice
notes, vs plain faster-whisper file by file) and
reranking 900 titled text + 100 image candidates through mmrag's reranker: without a
cross-encoder, from the context vectors indexing stores (``rerank``) and with every context
encoded at query time, as for points of another text model (``rerank-enc``); and with a
cross-encoder. CLIP and the cross-encoder have no weights on an offline machine: they run with
random weights of the same architecture (honest speed, meaningless scores), and the output
says so. Models come from mmrag's own loaders through the composition root.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.runtime import Runtime
from rag.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared" / "data"


@dataclass
class Sizes:
    texts: int
    images: int
    clips: int
    short_clips: int
    rerank_text: int
    rerank_image: int
    repeats: int


QUICK = Sizes(texts=64, images=8, clips=1, short_clips=4, rerank_text=45, rerank_image=5, repeats=1)
FULL = Sizes(
    texts=2048, images=384, clips=16, short_clips=60, rerank_text=900, rerank_image=100, repeats=3
)


@dataclass
class Result:
    workload: str
    unit: str
    items: int
    mmrag_rate: float | None
    plain_rate: float | None
    mmrag_peak_gpu_mib: float | None = None
    plain_peak_gpu_mib: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.mmrag_rate is None or self.plain_rate is None or self.plain_rate == 0:
            return None
        return self.mmrag_rate / self.plain_rate


# -- measuring ---------------------------------------------------------------------------
def _cuda(device: str) -> bool:
    return device.startswith("cuda")


def _reset_peak(device: str) -> None:
    if _cuda(device):
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _peak_mib(device: str) -> float | None:
    if not _cuda(device):
        return None
    import torch

    torch.cuda.synchronize()
    return round(torch.cuda.max_memory_allocated() / 2**20, 1)


def _best_seconds(
    work: Callable[[], object],
    repeats: int,
    device: str,
    warmup: Callable[[], object] | None = None,
) -> float:
    """The fastest of ``repeats`` timed runs, after one untimed warm-up run (of ``warmup``
    when given: a smaller call on the same path)."""
    (warmup or work)()
    best = float("inf")
    for _ in range(repeats):
        if _cuda(device):
            import torch

            torch.cuda.synchronize()
        started = time.perf_counter()
        work()
        if _cuda(device):
            import torch

            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return best


def _measure(
    work: Callable[[], object],
    repeats: int,
    device: str,
    warmup: Callable[[], object] | None = None,
) -> tuple[float, float | None]:
    _reset_peak(device)
    seconds = _best_seconds(work, repeats, device, warmup)
    return seconds, _peak_mib(device)


# -- data --------------------------------------------------------------------------------
def load_passages(shared: Path, n: int) -> list[str]:
    corpus = shared / "text_retrieval" / "agentset_beir_subsets" / "msmarco" / "corpus.jsonl"
    texts: list[str] = []
    if corpus.is_file():
        with corpus.open(encoding="utf-8") as fh:
            for line in fh:
                text = str(json.loads(line).get("text") or "").strip()
                if text:
                    texts.append(text)
                if len(texts) >= n:
                    break
    if not texts:  # the shared material is not here: the bundled samples, repeated
        for path in sorted((REPO / "samples" / "text").iterdir()):
            texts += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return [texts[i % len(texts)] for i in range(n)]


def image_files(shared: Path, n: int) -> list[Path]:
    found = sorted((shared / "image_caption" / "coco2017_subset").rglob("*.jpg"))
    found = found or sorted((REPO / "samples" / "images").glob("*.jpg"))
    return [found[i % len(found)] for i in range(n)]


def audio_files(shared: Path, n: int) -> list[Path]:
    found = sorted((shared / "audio" / "ljspeech_coqui_tts").rglob("*.flac"))
    found = found or sorted((REPO / "samples" / "speech").glob("*.mp3"))
    return found[:n]


# -- workloads ---------------------------------------------------------------------------
def bench_text(runtime: Runtime, passages: list[str], repeats: int) -> Result:
    from sentence_transformers import SentenceTransformer

    from rag.models.text import resolve_text_source

    embedder = runtime.models.text()
    device = str(getattr(embedder, "device", "cpu"))
    mm_s, mm_peak = _measure(lambda: embedder.encode(passages), repeats, device)
    spec = runtime.settings.models.text
    plain = SentenceTransformer(resolve_text_source(spec).location, device=device)
    batch = 512 if _cuda(device) else spec.batch_size
    if _cuda(device):
        plain = plain.half()

    def plain_encode() -> object:
        return plain.encode(
            passages, batch_size=batch, normalize_embeddings=True, show_progress_bar=False
        )

    pl_s, pl_peak = _measure(plain_encode, repeats, device)
    precision = "float16" if _cuda(device) else "float32"
    return Result(
        "text",
        "passages/s",
        len(passages),
        len(passages) / mm_s,
        len(passages) / pl_s,
        mm_peak,
        pl_peak,
        [f"{spec.model} (bundled weights) on {device}; plain: {precision}, batch {batch}"],
    )


def bench_images(runtime: Runtime, files: list[Path], repeats: int) -> Result:
    import open_clip
    import torch
    from PIL import Image

    from rag.media.image import load_image

    settings = runtime.settings
    clip = runtime.models.clip()
    device = str(getattr(clip, "device", "cpu"))
    max_pixels = settings.index.max_image_pixels

    def mmrag_encode() -> object:
        images = [load_image(path, max_pixels=max_pixels)[0] for path in files]
        return clip.encode_images(images)

    mm_s, mm_peak = _measure(mmrag_encode, repeats, device)

    from rag.models.clip import resolve_clip_source

    spec = settings.models.clip
    source = resolve_clip_source(spec, settings.models_cache_dir)
    pretrained = source.location if spec.weights == "random" else spec.weights
    model, _, preprocess = open_clip.create_model_and_transforms(
        spec.arch, pretrained=pretrained, device=device
    )
    model.eval()
    half = _cuda(device)
    if half:
        model = model.half()
    batch = 256 if half else spec.batch_size
    pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))

    def decode(path: Path) -> Any:
        with Image.open(path) as im:
            return preprocess(im.convert("RGB"))

    def plain_encode() -> object:
        tensors = list(pool.map(decode, files))
        out = []
        for i in range(0, len(tensors), batch):
            chunk = torch.stack(tensors[i : i + batch])
            if half:
                chunk = chunk.pin_memory().to(device, non_blocking=True).half()
            with torch.inference_mode():
                out.append(model.encode_image(chunk, normalize=True).float().cpu())
        return out

    try:
        pl_s, pl_peak = _measure(plain_encode, repeats, device)
    finally:
        pool.shutdown()
    notes = [
        f"CLIP {spec.arch} on {device}, decoding from files included on both sides; "
        f"plain: open_clip, {'float16' if half else 'float32'}, batch {batch}, thread-pool decode"
    ]
    if getattr(clip, "is_random", False):
        notes.append("RANDOM CLIP weights (none ship offline): speed is real, vectors are not")
    return Result(
        "images",
        "images/s",
        len(files),
        len(files) / mm_s,
        len(files) / pl_s,
        mm_peak,
        pl_peak,
        notes,
    )


def _audio_seconds(files: Sequence[Path]) -> float:
    from faster_whisper.audio import decode_audio

    return float(sum(len(decode_audio(str(f))) for f in files) / 16000)


def bench_speech(runtime: Runtime, files: list[Path], repeats: int) -> Result:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from rag.models.device import choose_whisper_compute_type
    from rag.models.whisper import resolve_whisper_source

    if not files:
        return Result("speech", "audio s/s", 0, None, None, notes=["no audio clips found"])
    transcriber = runtime.models.whisper()
    device = str(getattr(transcriber, "device", "cpu"))
    audio_s = _audio_seconds(files)
    spec = runtime.settings.models.whisper

    def mmrag_run() -> object:
        return [transcriber.transcribe(f) for f in files]

    mm_s = _best_seconds(mmrag_run, repeats, device)
    source = resolve_whisper_source(spec, runtime.settings.models_cache_dir)
    compute = "float16" if device == "cuda" else choose_whisper_compute_type("auto", device)
    model = WhisperModel(source.location, device=device, compute_type=compute)
    options: dict[str, Any] = {"beam_size": spec.beam_size, "language": spec.language}
    if device == "cuda":
        batched = BatchedInferencePipeline(model=model)

        def plain_run() -> object:
            return [list(batched.transcribe(str(f), batch_size=16, **options)[0]) for f in files]

    else:

        def plain_run() -> object:
            return [
                list(model.transcribe(str(f), vad_filter=spec.vad_filter, **options)[0])
                for f in files
            ]

    pl_s = _best_seconds(plain_run, repeats, device)
    return Result(
        "speech",
        "audio s/s",
        len(files),
        audio_s / mm_s,
        audio_s / pl_s,
        notes=[
            f"whisper {spec.model} on {device} ({compute}), {audio_s:.1f} s of audio; plain: "
            + ("BatchedInferencePipeline, batch 16" if device == "cuda" else "WhisperModel")
            + "; GPU memory is CTranslate2's, not shown"
        ],
    )


def short_clip_files(shared: Path, n: int) -> list[Path]:
    return sorted((shared / "audio" / "fsdd_subset" / "recordings").glob("*.wav"))[:n]


def bench_clips(runtime: Runtime, files: list[Path], repeats: int) -> Result:
    """Short recordings: ``transcribe_clips`` (every clip's VAD-cut speech decoded in
    batches spanning files) against plain faster-whisper transcribing them one by one (VAD,
    beam 5; on CUDA its batched pipeline per file), first pass only on both sides, from the
    same decoded samples."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from indexers.audio import read_short_clip
    from rag.models.device import choose_whisper_compute_type
    from rag.models.whisper import resolve_whisper_source

    clips = [c for c in (read_short_clip(f, window_s=300.0) for f in files) if c is not None]
    if not clips:
        return Result("clips", "clips/s", 0, None, None, notes=["no short clips found"])
    transcriber = runtime.models.whisper()
    device = str(getattr(transcriber, "device", "cpu"))
    spec = runtime.settings.models.whisper
    language = spec.language or ("en" if not transcriber.multilingual else None)
    together: list[Any] = []

    def mmrag_run() -> object:
        together[:] = transcriber.transcribe_clips(clips, language=language)
        return together

    mm_s = _best_seconds(mmrag_run, repeats, device)
    source = resolve_whisper_source(spec, runtime.settings.models_cache_dir)
    compute = "float16" if device == "cuda" else choose_whisper_compute_type("auto", device)
    model = WhisperModel(source.location, device=device, compute_type=compute)
    options: dict[str, Any] = {
        "beam_size": spec.beam_size,
        "language": language,
        "condition_on_previous_text": False,
    }
    alone: list[str] = []
    if device == "cuda":
        batched = BatchedInferencePipeline(model=model)

        def transcribe(clip: Any) -> Any:
            return batched.transcribe(clip, batch_size=spec.batch_size, **options)[0]

    else:

        def transcribe(clip: Any) -> Any:
            return model.transcribe(clip, vad_filter=True, **options)[0]

    def plain_run() -> object:
        alone[:] = [" ".join(s.text for s in transcribe(c)) for c in clips]
        return alone

    pl_s = _best_seconds(plain_run, repeats, device)

    def words(text: str) -> str:
        return text.lower().strip(" .?!")

    mine = [words(" ".join(s.text for s in t.segments)) for t in together]
    same = sum(a == words(b) for a, b in zip(mine, alone, strict=True))
    return Result(
        "clips",
        "clips/s",
        len(clips),
        len(clips) / mm_s,
        len(clips) / pl_s,
        notes=[
            f"{len(clips)} FSDD one-word clips, whisper {spec.model} on {device} ({compute}), "
            f"batches of {spec.batch_size}; the same 1-best as plain for {same} of "
            f"{len(clips)}; plain: "
            + ("BatchedInferencePipeline per file" if device == "cuda" else "WhisperModel per file")
        ],
    )


def write_random_cross_encoder(folder: Path, text_model_dir: str) -> Path:
    """A randomly initialised MiniLM-L6-sized BERT cross-encoder (one output), saved with
    the bundled text model's tokenizer: no cross-encoder weights ship offline."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )
    config.num_labels = 1
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(text_model_dir).save_pretrained(folder)
    return folder


def _rerank_inputs(
    runtime: Runtime, passages: list[str], files: list[Path], *, stored_text: bool = True
) -> tuple[Any, list[Any]]:
    from rerankers.cross_modal import RerankCandidate, RerankQuery

    query = "who invented the mercury thermometer"
    models = runtime.models
    text_vector = models.text().encode([query])[0]
    clip_vector = models.clip().encode_texts([query])[0]
    rerank_query = RerankQuery(query, text_vector, clip_vector, None)
    candidates = [
        RerankCandidate(f"t{i}", "text", payload, 0.5)
        for i, payload in enumerate(_text_payloads(runtime, passages, stored_text))
    ] + [
        RerankCandidate(f"i{i}", "image", payload)
        for i, payload in enumerate(_image_payloads(runtime, files))
    ]
    return rerank_query, candidates


def _text_payloads(runtime: Runtime, passages: list[str], stored: bool) -> list[dict[str, Any]]:
    """Titled passages (the context, title + chunk, is not the embedded text). With
    ``stored``, each carries what indexing stores (the text model's vector of that context,
    payload ``rerank_text``), computed here once, outside the timed work; without it, as a
    point indexed by another text model: the reranker encodes the contexts itself."""
    from rag.store.collections import Field, rerank_context

    text = runtime.models.text()
    payloads: list[dict[str, Any]] = [
        {"text": p, "title": f"Passage {i}", "models": {"text": text.version}}
        for i, p in enumerate(passages)
    ]
    if stored:
        vectors = text.encode([rerank_context("text", payload) for payload in payloads])
        for payload, vector in zip(payloads, vectors, strict=True):
            payload[Field.RERANK_TEXT] = vector.astype(float).tolist()
    return payloads


def _image_payloads(runtime: Runtime, files: list[Path]) -> list[dict[str, Any]]:
    """What indexing stores for each image (its flip-averaged rerank vector and the CLIP
    version), computed here once, outside the timed work, the way the indexer does."""
    from indexers.pipeline import encode_images_for_rerank
    from rag.media.image import load_image

    clip = runtime.models.clip()
    max_pixels = runtime.settings.index.max_image_pixels
    images = [load_image(f, max_pixels=max_pixels)[0] for f in files]
    encoded = encode_images_for_rerank(clip, images)
    return [
        {"path": str(f), "text": "", "rerank_clip": rerank, "models": {"clip": clip.version}}
        for f, (_, rerank) in zip(files, encoded, strict=True)
    ]


def bench_rerank(
    settings: Settings, passages: list[str], files: list[Path], repeats: int
) -> list[Result]:
    from rag.models.text import resolve_text_source

    results: list[Result] = []
    n = len(passages) + len(files)
    with tempfile.TemporaryDirectory(prefix="mmrag-ce-") as tmp:
        folder = write_random_cross_encoder(
            Path(tmp), resolve_text_source(settings.models.text).location
        )
        variants: list[tuple[str, Settings, str, bool]] = [
            (
                "rerank",
                settings,
                "no cross-encoder: the context vectors stored at index time (dot products)",
                True,
            ),
            (
                "rerank-enc",
                settings,
                "no cross-encoder, no stored context vectors (another text model's points): "
                "every context encoded at query time",
                False,
            ),
            (
                "rerank+ce",
                _with_cross_encoder(settings, str(folder)),
                "RANDOM MiniLM-L6-sized cross-encoder (BertConfig; none ship offline)",
                True,
            ),
        ]
        for name, variant, note, stored_text in variants:
            runtime = Runtime(variant)
            reranker = runtime.reranker()
            query, candidates = _rerank_inputs(runtime, passages, files, stored_text=stored_text)
            device = str(getattr(runtime.models.text(), "device", "cpu"))
            work = functools.partial(reranker.score, query, candidates)
            # warm up on a few of each kind: the same code path, a fraction of the time
            few = candidates[:5] + candidates[len(passages) : len(passages) + 1]
            warmup = functools.partial(reranker.score, query, few)
            seconds, peak = _measure(work, repeats, device, warmup)
            results.append(
                Result(
                    name,
                    "ms per query",
                    n,
                    round(seconds * 1000, 1),
                    None,
                    peak,
                    None,
                    [
                        f"{len(passages)} text (with titles) + {len(files)} image candidates; "
                        + note
                        + "; no plain-library equivalent (rate column = latency)"
                    ],
                )
            )
    return results


def _with_cross_encoder(settings: Settings, folder: str) -> Settings:
    models = settings.models
    reranker = models.reranker.model_copy(update={"model": folder})
    return settings.model_copy(update={"models": models.model_copy(update={"reranker": reranker})})


# -- output ------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render(results: Sequence[Result]) -> str:
    header = f"{'workload':<10} {'unit':<13} {'n':>5} {'mmrag':>10} {'plain':>10} {'ratio':>6}"
    header += f" {'peak MiB mmrag/plain':>21}"
    lines = [header, "-" * len(header)]
    for r in results:
        peaks = f"{_fmt(r.mmrag_peak_gpu_mib, 0)}/{_fmt(r.plain_peak_gpu_mib, 0)}"
        lines.append(
            f"{r.workload:<10} {r.unit:<13} {r.items:>5} {_fmt(r.mmrag_rate):>10} "
            f"{_fmt(r.plain_rate):>10} {_fmt(r.ratio, 2):>6} {peaks:>21}"
        )
    for r in results:
        lines += [f"  {r.workload}: {note}" for note in r.notes]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="small sizes (CPU, CI)")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared test data")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--only",
        action="append",
        choices=["text", "images", "speech", "clips", "rerank"],
        help="run only these workloads (repeatable)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    only = set(args.only or ["text", "images", "speech", "clips", "rerank"])
    from rag.runtime import setup

    settings = setup()
    runtime = Runtime(settings)
    passages = load_passages(args.shared, sizes.texts)
    files = image_files(args.shared, sizes.images)
    started = time.perf_counter()
    results: list[Result] = []
    if "text" in only:
        results.append(bench_text(runtime, passages, sizes.repeats))
    if "images" in only:
        results.append(bench_images(runtime, files, sizes.repeats))
    if "speech" in only:
        results.append(bench_speech(runtime, audio_files(args.shared, sizes.clips), sizes.repeats))
    if "clips" in only:
        short = short_clip_files(args.shared, sizes.short_clips)
        results.append(bench_clips(runtime, short, sizes.repeats))
    if "rerank" in only:
        rerank_passages = load_passages(args.shared, sizes.rerank_text)
        rerank_files = image_files(args.shared, sizes.rerank_image)
        results += bench_rerank(settings, rerank_passages, rerank_files, sizes.repeats)
    print(render(results))
    elapsed = time.perf_counter() - started
    print(f"({'quick' if args.quick else 'full'} sizes, {elapsed:.1f} s)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "sizes": asdict(sizes),
            "quick": args.quick,
            "seconds": round(elapsed, 1),
            "results": [{**asdict(r), "ratio": r.ratio} for r in results],
        }
        args.out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
