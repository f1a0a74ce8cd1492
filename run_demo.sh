#!/usr/bin/env bash
# Set up (venv + pinned install) and run the whole pipeline on the built-in demo corpus.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
LSTM_SE=.venv/bin/lstm-se
CONF=conf/demo.yaml
"$LSTM_SE" demo-data --config "$CONF" --out demo/corpus
