"""Run-time device choice: CUDA when present (and allowed), else CPU."""

from __future__ import annotations

import logging

from rag.errors import ConfigError
from rag.settings import Device

logger = logging.getLogger(__name__)


def torch_device(preference: Device) -> str:
    """Device string for torch-based models (sentence-transformers, open_clip, transformers)."""
    import torch

    available = torch.cuda.is_available()
    return _choose(preference, available)


def ctranslate2_device(preference: Device) -> str:
    """Device string for CTranslate2 models (faster-whisper)."""
    import ctranslate2

    available = ctranslate2.get_cuda_device_count() > 0
    return _choose(preference, available)


def _choose(preference: Device, cuda_available: bool) -> str:
    if preference == "cpu":
        return "cpu"
    if preference == "cuda":
        if not cuda_available:
            raise ConfigError("MMRAG_MODELS__DEVICE=cuda but no CUDA device is visible")
        return "cuda"
    return "cuda" if cuda_available else "cpu"
