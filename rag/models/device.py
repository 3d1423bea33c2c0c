"""Run-time device and precision choice: CUDA when present (and allowed), else CPU.

Everything here is decided when a model loads, from ``MMRAG_MODELS__DEVICE`` and
``MMRAG_MODELS__PRECISION``; the CPU stays the tested default. The pure ``choose_*`` functions
carry the policy (and are what the unit tests pin); the other functions only ask the
libraries what hardware there is.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

from rag.errors import ConfigError
from rag.settings import Device, Precision

logger = logging.getLogger(__name__)

# CTranslate2 4.x (faster-whisper) is built against CUDA 12: it needs these at its first
# GPU call, while torch's CUDA 13 build brings only CUDA 13 libraries. The PyPI wheels
# nvidia-cublas-cu12 / nvidia-cudnn-cu12 (the `gpu` extra) provide them.
CT2_CUDA_LIBRARIES: tuple[tuple[str, str], ...] = (
    ("libcublas.so.12", "nvidia.cublas"),
    ("libcublasLt.so.12", "nvidia.cublas"),
    ("libcudnn.so.9", "nvidia.cudnn"),
)

_warned: set[str] = set()


def torch_device(preference: Device) -> str:
    """Device string for torch-based models (sentence-transformers, open_clip, transformers)."""
    import torch

    available = torch.cuda.is_available()
    return _choose(preference, available)


def ctranslate2_device(preference: Device, *, loader: Callable[[str], object] | None = None) -> str:
    """Device string for CTranslate2 models (faster-whisper).

    A visible GPU is used only when the CUDA 12 libraries CTranslate2 needs load; otherwise
    ``auto`` falls back to the CPU with one warning and ``cuda`` is a configuration error
    (rather than failing at the first transcription, as faster-whisper would)."""
    import ctranslate2

    available = ctranslate2.get_cuda_device_count() > 0
    device = _choose(preference, available)
    if device != "cuda":
        return device
    missing = missing_ct2_cuda_libraries(loader=loader)
    if not missing:
        return device
    message = (
        f"faster-whisper cannot use the GPU: CUDA 12 libraries not found ({', '.join(missing)}); "
        "they come with mmrag from PyPI (nvidia-cublas-cu12): re-run scripts/setup.sh"
    )
    if preference == "cuda":
        raise ConfigError(message + " (MMRAG_MODELS__DEVICE=cuda)")
    _warn_once("ct2-cuda", message + "; transcribing on the CPU")
    return "cpu"


def missing_ct2_cuda_libraries(*, loader: Callable[[str], object] | None = None) -> list[str]:
    """The CUDA 12 libraries CTranslate2 needs that cannot be loaded (preloading the
    ``nvidia-*-cu12`` wheels' copies, which the dynamic loader does not search by itself)."""
    load = loader or _load_global
    missing: list[str] = []
    for soname, package in CT2_CUDA_LIBRARIES:
        candidates = [str(p) for p in _wheel_library(package, soname)] + [soname]
        for candidate in candidates:
            try:
                load(candidate)
                break
            except OSError:
                continue
        else:
            missing.append(soname)
    return missing


def choose_torch_dtype(precision: Precision, device: str, *, bf16: bool = False) -> str:
    """The torch dtype name models run in: half precision on CUDA (``auto``: float16, or
    bfloat16 when asked for and supported), float32 on the CPU, where half precision is
    slower or unsupported for many kernels."""
    if not device.startswith("cuda"):
        if precision not in ("auto", "float32"):
            _warn_once(
                f"cpu-{precision}",
                f"MMRAG_MODELS__PRECISION={precision} applies on CUDA only; float32 on the CPU",
            )
        return "float32"
    if precision == "auto":
        return "float16"
    if precision == "bfloat16" and not bf16:
        _warn_once("bf16", "this GPU does not support bfloat16; using float16")
        return "float16"
    return precision


def torch_dtype(precision: Precision, device: str) -> object:
    """The ``torch.dtype`` for :func:`choose_torch_dtype`."""
    import torch

    bf16 = device.startswith("cuda") and bool(torch.cuda.is_bf16_supported())
    return getattr(torch, choose_torch_dtype(precision, device, bf16=bf16))


def choose_whisper_compute_type(compute_type: str, device: str) -> str:
    """CTranslate2 compute type: int8 on the CPU; float16 on CUDA (``int8_float16`` halves
    the memory and can be asked for)."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


def choose_batch_size(cpu_batch: int, device: str, *, cuda_batch: int) -> int:
    """Bigger batches on a GPU (kernel launches, not arithmetic, bound small batches there)."""
    return max(cpu_batch, cuda_batch) if device.startswith("cuda") else cpu_batch


def _choose(preference: Device, cuda_available: bool) -> str:
    if preference == "cpu":
        return "cpu"
    if preference == "cuda":
        if not cuda_available:
            raise ConfigError("MMRAG_MODELS__DEVICE=cuda but no CUDA device is visible")
        return "cuda"
    return "cuda" if cuda_available else "cpu"


def _wheel_library(package: str, soname: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    return [
        Path(folder) / "lib" / soname
        for folder in spec.submodule_search_locations
        if (Path(folder) / "lib" / soname).is_file()
    ]


def _load_global(name: str) -> object:
    return ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)
