#!/usr/bin/env bash
# Set up (venv + pinned install) and run the whole pipeline on the built-in demo corpus:
# demo corpus -> prepare -> train -> evaluate -> export. Re-running resumes / skips finished work.
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
if [ ! -f demo/corpus/info.json ]; then
  "$LSTM_SE" demo-data --config "$CONF" --out demo/corpus
fi
"$LSTM_SE" prepare --config "$CONF"
"$LSTM_SE" train --config "$CONF"
"$LSTM_SE" evaluate --run result/demo
"$LSTM_SE" export --run result/demo
echo
echo "Done. Run folder: result/demo (TensorBoard: .venv/bin/tensorboard --logdir result/demo/logs)"
echo "Scores: result/demo/eval/*/metrics.md   Export and MCU budget: result/demo/export/export.json"
