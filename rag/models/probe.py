"""Prove that each configured model loads by producing a real output with it."""

from __future__ import annotations

import importlib.resources
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.errors import MmragError
from rag.models.registry import MODEL_KINDS, ModelRegistry, ModelState
from rag.settings import ModelKind

if TYPE_CHECKING:
    from PIL import Image

SPEECH_SAMPLE = "speech_sample.mp3"
SPEECH_SAMPLE_TEXT = (
    "produced the block books, which were the immediate predecessors of the true printed book,"
)
OCR_SAMPLE_TEXT = "mmrag reads 2026 text"
LLM_QUESTION = "What is the capital of France? Answer with one word."


@dataclass(frozen=True)
class ModelReport:
    name: str
    kind: ModelKind
    source: str
    ok: bool
    detail: str
    seconds: float


def render_text_image(text: str, *, size: int = 40) -> Image.Image:
    """A white image with black text, for OCR and CLIP probes."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (int(right - left) + 40, int(bottom - top) + 40), "white")
    ImageDraw.Draw(image).text((20 - left, 20 - top), text, fill="black", font=font)
    return image


def _probe_text(registry: ModelRegistry) -> str:
    import numpy as np

    embedder = registry.text()
    vectors = embedder.encode(["a dog runs on the beach", "a puppy playing by the sea", "tax law"])
    near, far = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    norm = float(np.linalg.norm(vectors[0]))
    return (
        f"{embedder.dim}-d embedding, norm {norm:.3f}; cosine(dog/beach, puppy/sea)={near:.3f} "
        f"> cosine(dog/beach, tax law)={far:.3f}"
    )


def _probe_multilingual(registry: ModelRegistry) -> str:
    embedder = registry.multilingual()
    assert embedder is not None  # disabled kinds are not probed
    vectors = embedder.encode(
        ["a dog runs on the beach", "ein Hund rennt am Strand", "das Steuerrecht"]
    )
    near, far = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    return (
        f"{embedder.dim}-d embedding; cosine(dog/beach en, de)={near:.3f} "
        f"> cosine(dog/beach, Steuerrecht)={far:.3f}"
    )


def _probe_whisper(registry: ModelRegistry) -> str:
    transcriber = registry.whisper()
    resource = importlib.resources.files("rag.assets").joinpath(SPEECH_SAMPLE)
    with importlib.resources.as_file(resource) as path:
        result = transcriber.transcribe(path)
    return f"transcript of bundled {SPEECH_SAMPLE} ({result.info.language}): {result.text!r}"


def _probe_ocr(registry: ModelRegistry) -> str:
    text = registry.ocr().text(render_text_image(OCR_SAMPLE_TEXT))
    return f"read {text!r} from a rendered image of {OCR_SAMPLE_TEXT!r}"


def _probe_clip(registry: ModelRegistry) -> str:
    clip = registry.clip()
    image_vec = clip.encode_images([render_text_image(OCR_SAMPLE_TEXT)])
    text_vec = clip.encode_texts([OCR_SAMPLE_TEXT])
    cosine = float(image_vec[0] @ text_vec[0])
    detail = f"{image_vec.shape[1]}-d image and text vectors, cosine {cosine:.3f}"
    if clip.is_random:
        detail += "; RANDOM WEIGHTS: image retrieval quality is meaningless"
    return detail


def _probe_llm(registry: ModelRegistry) -> str:
    from rag.models.llm import ChatMessage

    answer = registry.llm().complete([ChatMessage("user", LLM_QUESTION)], max_tokens=24)
    return f"{LLM_QUESTION!r} -> {answer!r}"


def _probe_reranker(registry: ModelRegistry) -> str:
    scorer = registry.reranker()
    assert scorer is not None  # disabled kinds are not probed
    good, bad = scorer.score("a dog runs on the beach", ["a puppy plays by the sea", "tax law"])
    return f"score(dog/beach, puppy/sea)={good:.3f}, score(dog/beach, tax law)={bad:.3f}"


_PROBES: dict[ModelKind, Callable[[ModelRegistry], str]] = {
    "reranker": _probe_reranker,
    "text": _probe_text,
    "multilingual": _probe_multilingual,
    "whisper": _probe_whisper,
    "ocr": _probe_ocr,
    "clip": _probe_clip,
    "llm": _probe_llm,
}


def probe(registry: ModelRegistry, kind: ModelKind) -> ModelReport:
    started = time.perf_counter()
    name = registry.model_name(kind)
    if registry.status()[kind].state is ModelState.DISABLED:
        why = "not configured (optional)" if kind == "reranker" else "disabled in settings"
        return ModelReport(name, kind, "disabled", True, why, 0.0)
    try:
        source = registry.source(kind)
    except MmragError as exc:
        return ModelReport(name, kind, "unresolved", False, exc.detail, 0.0)
    try:
        detail = _PROBES[kind](registry)
        ok = True
    except MmragError as exc:
        detail, ok = exc.detail, False
    except Exception as exc:  # noqa: BLE001 - a probe reports every failure as data
        detail, ok = f"{type(exc).__name__}: {exc}", False
    return ModelReport(name, kind, source, ok, detail, round(time.perf_counter() - started, 3))


def probe_all(
    registry: ModelRegistry, kinds: tuple[ModelKind, ...] = MODEL_KINDS
) -> list[ModelReport]:
    return [probe(registry, kind) for kind in kinds]
