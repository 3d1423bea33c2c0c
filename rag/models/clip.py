"""Image-text model: open_clip, from a local weights file, a pretrained tag, or random weights.

No CLIP weights can be downloaded on machines without hub access, and no PyPI package
carries them. ``weights="random"`` (the default) therefore creates a randomly initialised
model with a fixed seed, saves it once as a local safetensors file and loads it from there,
so the whole image path (shapes, batching, persistence, speed) works offline. Such a model
has NO semantic quality: image retrieval results are meaningless, and every load says so.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.models.device import choose_batch_size
from rag.models.ports import Vectors
from rag.models.source import ModelSource, SourceKind, local_path, version_for
from rag.settings import ClipSettings, Precision

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)


RANDOM_WEIGHTS_WARNING = (
    "CLIP is running with RANDOM weights (MMRAG_MODELS__CLIP__WEIGHTS=random): image and "
    "cross-modal retrieval quality is MEANINGLESS. Set MMRAG_MODELS__CLIP__WEIGHTS to a local "
    "weights file or a pretrained tag (e.g. laion2b_s34b_b79k) for real results."
)


def clip_label(spec: ClipSettings, source: ModelSource) -> str:
    return f"{spec.arch}/{spec.weights}" if source.kind is SourceKind.HUB else spec.arch


def resolve_clip_source(spec: ClipSettings, cache_dir: Path) -> ModelSource:
    if spec.weights == "random":
        path = cache_dir / "clip" / f"{spec.arch}-random-seed{spec.random_seed}.safetensors"
        return ModelSource(SourceKind.RANDOM, str(path), revision=f"random-seed{spec.random_seed}")
    path_or_none = local_path(spec.weights)
    if path_or_none is not None:
        return ModelSource(SourceKind.LOCAL, str(path_or_none))
    return ModelSource(SourceKind.HUB, f"{spec.arch}/{spec.weights}")


def write_random_weights(arch: str, seed: int, path: Path) -> Path:
    """Save a seeded, randomly initialised model of ``arch`` as safetensors (atomically)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = open_clip.create_model(arch, pretrained=None)
    finally:
        torch.random.set_rng_state(generator_state)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"mmrag": "random-init", "arch": arch, "seed": str(seed)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class ClipEncoder:
    """Encodes images (image tower) and texts (text tower) into one normalised space."""

    def __init__(
        self,
        model: Any,
        preprocess: Any,
        tokenizer: Any,
        *,
        spec: ClipSettings,
        version: str,
        device: str,
        is_random: bool,
        dtype: str = "float32",
    ) -> None:
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._spec = spec
        self.version = version
        self.device = device
        self.is_random = is_random
        self.dim = int(model.text_projection.shape[1]) if hasattr(model, "text_projection") else 0
        self.dtype = dtype
        self._batch = choose_batch_size(spec.batch_size, device, cuda_batch=spec.cuda_batch_size)
        workers = spec.preprocess_workers or min(8, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clip-prep")

    def encode_images(self, images: Sequence[Image.Image]) -> Vectors:
        """Image-tower vectors. Preprocessing (PIL resize and crop, tensor conversion: they
        release the GIL) runs in a thread pool, one image per task, and the next batch is
        prepared while the model runs on this one; on CUDA the batch goes through pinned
        memory and the model runs under autocast in half precision."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = self._batch
        batches = [images[i : i + step] for i in range(0, len(images), step)]
        chunks: list[Vectors] = []
        pending = self._prepare(batches[0])
        for index in range(len(batches)):
            batch = [f.result() for f in pending]
            if index + 1 < len(batches):
                pending = self._prepare(batches[index + 1])
            chunks.append(self._encode_batch(batch))
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def _prepare(self, images: Sequence[Image.Image]) -> list[Future[Any]]:
        return [self._pool.submit(self._preprocess_one, im) for im in images]

    def _preprocess_one(self, image: Image.Image) -> Any:
        return self._preprocess(image.convert("RGB"))

    def _encode_batch(self, tensors: list[Any]) -> Vectors:
        import torch

        batch = torch.stack(tensors)
        on_cuda = self.device.startswith("cuda")
        if on_cuda:
            batch = batch.pin_memory().to(self.device, non_blocking=True)
        with torch.inference_mode(), self._autocast():
            feats = self._model.encode_image(batch, normalize=True)
        result: Vectors = feats.float().cpu().numpy()
        return result

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.device.startswith("cuda") and self.dtype != "float32":
            return torch.autocast("cuda", dtype=getattr(torch, self.dtype))
        return contextlib.nullcontext()

    def encode_texts(self, texts: Sequence[str]) -> Vectors:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks: list[Vectors] = []
        step = self._batch
        for i in range(0, len(texts), step):
            tokens = self._tokenizer(list(texts[i : i + step]))
            with torch.inference_mode(), self._autocast():
                feats = self._encode_tokens(tokens.to(self.device))
            chunks.append(feats.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def _encode_tokens(self, tokens: Any) -> Any:
        """``encode_text`` without the padding: CLIP's text tower is causal and pools at the
        end-of-text token, so positions after it cannot change the result. Cutting the batch
        to its longest text (a short query is ~10 of 77 positions) gives the same vectors
        several times faster. Models of another shape take the library's own path."""
        import torch
        import torch.nn.functional as F  # noqa: N812
        from open_clip.transformer import text_global_pool

        model = self._model
        trimmable = (
            type(model).__name__ == "CLIP"
            and getattr(model, "attn_mask", None) is not None
            and getattr(model, "text_pool_type", None) == "argmax"
        )
        if not trimmable:
            return model.encode_text(tokens, normalize=True)
        length = int((tokens != 0).sum(dim=1).max())
        tokens = tokens[:, :length]
        cast = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
        x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
        x = model.ln_final(x)
        x = text_global_pool(x, tokens, "argmax", eos_token_id=getattr(model, "text_eos_id", None))
        projection = model.text_projection
        x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
        return F.normalize(x, dim=-1)


@cache
def load_clip(
    spec: ClipSettings, device: str, cache_dir: Path, precision: Precision = "auto"
) -> ClipEncoder:
    """Load once per process and configuration (float32 weights; on CUDA the forward pass
    runs under autocast in the chosen half precision)."""
    import open_clip

    from rag.models.device import choose_torch_dtype

    source = resolve_clip_source(spec, cache_dir)
    if source.kind is SourceKind.RANDOM:
        logger.warning(RANDOM_WEIGHTS_WARNING)
        write_random_weights(spec.arch, spec.random_seed, Path(source.location))
        pretrained = source.location
    elif source.kind is SourceKind.LOCAL:
        pretrained = source.location
    else:
        pretrained = spec.weights
    version = version_for(clip_label(spec, source), source)
    logger.info("loading CLIP %s from %s on %s", spec.arch, source.describe(), device)
    model, _, preprocess = open_clip.create_model_and_transforms(
        spec.arch, pretrained=pretrained, device=device
    )
    model.eval()
    tokenizer = open_clip.get_tokenizer(spec.arch)
    return ClipEncoder(
        model,
        preprocess,
        tokenizer,
        spec=spec,
        version=version,
        device=device,
        is_random=source.kind is SourceKind.RANDOM,
        dtype=choose_torch_dtype(precision, device, bf16=_bf16_supported(device)),
    )


def _bf16_supported(device: str) -> bool:
    import torch

    return device.startswith("cuda") and bool(torch.cuda.is_bf16_supported())
