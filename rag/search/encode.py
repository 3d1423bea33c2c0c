"""Turn a query (text, image, audio clip, or text + image) into vectors, once per space."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from rag.errors import BadInputError
from rag.langid import UNDETERMINED, coverage_language, detect
from rag.lexical import LexicalEncoder
from rag.models import ModelRegistry
from rag.search.request import SearchRequest
from rag.store.base import SparseVector

if TYPE_CHECKING:
    from PIL import Image

Vector = npt.NDArray[np.float32]


@dataclass
class EncodedQuery:
    text: str | None  # what the text signals search for: the text, or the clip's transcript
    transcript: str | None = None
    ocr_text: str | None = None
    language: str | None = None
    image: Image.Image | None = None
    text_vector: Vector | None = None
    multi_vector: Vector | None = None  # multilingual encoder, when enabled
    clip_text_vector: Vector | None = None
    clip_image_vector: Vector | None = None
    sparse: SparseVector | None = None
    lang: str = UNDETERMINED  # identified language of ``text`` (rag.langid)
    coverage_lang: str = UNDETERMINED  # what model coverage is checked against


def encode_query(
    request: SearchRequest,
    models: ModelRegistry,
    lexical: LexicalEncoder,
    *,
    max_audio_s: float,
    clip_text: bool = True,
) -> EncodedQuery:
    """``clip_text=False`` skips the CLIP text tower (no collection searched would use it)."""
    query = EncodedQuery(text=request.text)
    if request.audio is not None:
        query.transcript, query.language = _transcribe(request.audio, models, max_audio_s)
        query.text = " ".join(t for t in (request.text, query.transcript) if t)
    if request.image is not None:
        from rag.media.image import load_image, ocr_copy

        try:
            image, _ = load_image(request.image, max_pixels=models.settings.index.max_image_pixels)
        except BadInputError as exc:
            raise BadInputError(f"query image: {exc.detail}", field="image") from exc
        query.image = image
        query.clip_image_vector = models.clip().encode_images([image])[0]
        if not query.text and models.settings.models.ocr.enabled:
            # Text inside a query screenshot searches the text signals too.
            query.ocr_text = models.ocr().text(ocr_copy(image)) or None
    text = query.text or query.ocr_text
    if text:
        query.text_vector = models.text().encode([text])[0]
        multilingual = models.multilingual()
        if multilingual is not None:
            query.multi_vector = multilingual.encode([text])[0]
        if clip_text:
            query.clip_text_vector = models.clip().encode_texts([text])[0]
        query.lang = detect(text)
        query.coverage_lang = coverage_language(text, query.lang)
        query.sparse = lexical.query(text, query.lang)
    return query


def _transcribe(audio: bytes, models: ModelRegistry, max_audio_s: float) -> tuple[str, str]:
    from rag.media.audio import SAMPLE_RATE, stream_windows
    from rag.media.errors import ExtractionError

    pieces: list[Vector] = []
    seconds = 0.0
    try:
        # Decoding stops as soon as the clip is known to be too long.
        for window in stream_windows(io.BytesIO(audio), window_s=30.0):
            pieces.append(window.samples)
            seconds += window.samples.size / SAMPLE_RATE
            if seconds > max_audio_s:
                raise BadInputError(
                    f"query audio is longer than {max_audio_s:.0f} s (MMRAG_SEARCH__MAX_AUDIO_S)",
                    field="audio",
                )
    except ExtractionError as exc:
        raise BadInputError(f"query audio: {exc.detail}", field="audio") from exc
    samples = np.concatenate(pieces)
    transcription = models.whisper().transcribe(samples)
    if not transcription.text:
        raise BadInputError("query audio: no speech detected", field="audio")
    return transcription.text, transcription.info.language
