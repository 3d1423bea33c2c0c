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
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.models.ports import Vectors
from rag.models.source import ModelSource, SourceKind, local_path, version_for
from rag.settings import ClipSettings

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
    ) -> None:
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._spec = spec
        self.version = version
        self.device = device
        self.is_random = is_random
        self.dim = int(model.text_projection.shape[1]) if hasattr(model, "text_projection") else 0

    def encode_images(self, images: Sequence[Image.Image]) -> Vectors:
        import torch

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks: list[Vectors] = []
        step = self._spec.batch_size
        for i in range(0, len(images), step):
            batch = torch.stack(
                [self._preprocess(im.convert("RGB")) for im in images[i : i + step]]
            )
            with torch.inference_mode():
                feats = self._model.encode_image(batch.to(self.device), normalize=True)
            chunks.append(feats.float().cpu().numpy())
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def encode_texts(self, texts: Sequence[str]) -> Vectors:
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks: list[Vectors] = []
        step = self._spec.batch_size
        for i in range(0, len(texts), step):
            tokens = self._tokenizer(list(texts[i : i + step]))
            with torch.inference_mode():
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
def load_clip(spec: ClipSettings, device: str, cache_dir: Path) -> ClipEncoder:
    """Load once per process and configuration."""
    import open_clip

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
    )
