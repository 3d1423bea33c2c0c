"""Device, precision and batch-size choice (issue: the GPU path), decided at load time."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from rag.errors import ConfigError
from rag.models import device as device_mod
from rag.models.device import (
    choose_batch_size,
    choose_torch_dtype,
    choose_whisper_compute_type,
    ctranslate2_device,
    missing_ct2_cuda_libraries,
)
from rag.settings import Settings


@pytest.mark.parametrize(
    ("precision", "device", "bf16", "expected"),
    [
        ("auto", "cpu", False, "float32"),
        ("auto", "cuda", False, "float16"),
        ("auto", "cuda:1", True, "float16"),
        ("float32", "cuda", True, "float32"),
        ("bfloat16", "cuda", True, "bfloat16"),
        ("bfloat16", "cuda", False, "float16"),  # an older GPU: fp16 with a warning
        ("float16", "cpu", False, "float32"),  # half precision only on CUDA
        ("bfloat16", "cpu", True, "float32"),
    ],
)
def test_torch_dtype_choice(precision: Any, device: str, bf16: bool, expected: str) -> None:
    assert choose_torch_dtype(precision, device, bf16=bf16) == expected


def test_torch_dtype_on_this_machine_is_float32() -> None:
    import torch

    from rag.models.device import torch_device, torch_dtype

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert torch_device("auto") == "cpu"
    assert torch_dtype("auto", "cpu") is torch.float32


def test_whisper_compute_type() -> None:
    assert choose_whisper_compute_type("auto", "cpu") == "int8"
    assert choose_whisper_compute_type("auto", "cuda") == "float16"
    assert choose_whisper_compute_type("int8_float16", "cuda") == "int8_float16"


def test_batch_sizes_grow_on_cuda_only() -> None:
    assert choose_batch_size(64, "cpu", cuda_batch=512) == 64
    assert choose_batch_size(64, "cuda", cuda_batch=512) == 512
    assert choose_batch_size(1024, "cuda", cuda_batch=512) == 1024


def test_precision_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_MODELS__PRECISION", "bfloat16")
    assert Settings().models.precision == "bfloat16"
    monkeypatch.setenv("MMRAG_MODELS__PRECISION", "fp8")
    with pytest.raises(ValueError, match="precision"):
        Settings()


def _fake_gpu(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    import ctranslate2

    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: count)


def _no_library(name: str) -> object:
    raise OSError(f"{name}: cannot open shared object file")


def test_whisper_falls_back_to_cpu_once_without_cuda12_libraries(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _fake_gpu(monkeypatch, 1)
    monkeypatch.setattr(device_mod, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="rag.models.device"):
        assert ctranslate2_device("auto", loader=_no_library) == "cpu"
        assert ctranslate2_device("auto", loader=_no_library) == "cpu"
    warnings = [r for r in caplog.records if "CUDA 12 libraries" in r.getMessage()]
    assert len(warnings) == 1
    assert "libcublas.so.12" in warnings[0].getMessage()


def test_whisper_on_cuda_when_the_libraries_load(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpu(monkeypatch, 1)
    assert ctranslate2_device("auto", loader=lambda name: object()) == "cuda"


def test_whisper_cuda_required_but_libraries_missing_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_gpu(monkeypatch, 1)
    with pytest.raises(ConfigError, match="CUDA 12"):
        ctranslate2_device("cuda", loader=_no_library)


def test_no_gpu_means_cpu_without_looking_for_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpu(monkeypatch, 0)
    calls: list[str] = []
    assert ctranslate2_device("auto", loader=calls.append) == "cpu"
    assert calls == []
    with pytest.raises(ConfigError, match="no CUDA device"):
        ctranslate2_device("cuda", loader=calls.append)


def test_cuda12_libraries_for_whisper_load_from_the_lock() -> None:
    """The real check (no fake loader): the CUDA 12 libraries that CTranslate2 needs load
    from the wheels the lock installs (nvidia-cublas-cu12; cuDNN 9 comes with torch), with or
    without a GPU: a lock that drifts back to CUDA 13 only fails here, not on a GPU host."""
    import platform
    import sys

    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("the CUDA wheels are installed on linux x86_64 only")
    assert missing_ct2_cuda_libraries() == []
