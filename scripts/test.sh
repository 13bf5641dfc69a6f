#!/usr/bin/env bash
# The README's test command: create .venv, install Nectar with its test extras, run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,claude,cluster]'
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
