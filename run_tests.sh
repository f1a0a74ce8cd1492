#!/usr/bin/env bash
# Set up (venv + pinned install) and run the test suite. Same command in README and CI.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
.venv/bin/ruff check src test bench ./*.py
.venv/bin/ruff format --check src test bench ./*.py
.venv/bin/python -m pytest "$@"
