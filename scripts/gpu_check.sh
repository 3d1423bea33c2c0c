#!/usr/bin/env bash
# One-shot GPU check on a CUDA host (about 10 minutes): set up from the lock, run the
# device-choice tests, then the full model bench (bench/gpu_bench.py, default sizes).
#   scripts/gpu_check.sh [OUT_DIR]      (default: artifacts/gpu)
# Writes OUT_DIR/gpu_bench.json and OUT_DIR/gpu_check.log; exits non-zero when a step fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-artifacts/gpu}"
mkdir -p "$out"
log="$out/gpu_check.log"
status=0
export PYTHONPATH="$PWD" MMRAG_MODELS__DEVICE="${MMRAG_MODELS__DEVICE:-auto}"
{
  echo "=== setup"
  bash scripts/setup.sh --dev || { echo "setup failed"; exit 1; }
  echo "=== device"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  .venv/bin/python -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  echo "=== device-choice tests"
  timeout 300 .venv/bin/python -m pytest -x -q tests/unit/test_device_choice.py \
    tests/integration/test_models_real.py || status=1
  echo "=== gpu bench (full sizes)"
  timeout 420 .venv/bin/python -m bench.gpu_bench --out "$out/gpu_bench.json" || status=1
  echo "=== done: status $status"
  exit "$status"
} 2>&1 | tee "$log"
exit "${PIPESTATUS[0]}"
