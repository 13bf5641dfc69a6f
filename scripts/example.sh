#!/usr/bin/env bash
# The README's main-job command: create .venv, install Nectar, check and format-check every
# example policy, then run the quickstart as a user would: pytest (proofs, expectations, a
# simulation seed, lockfile), `nectar compile --check` and `nectar explain`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
shopt -s nullglob
policies=(examples/*/policies/*.toon)
if [ ${#policies[@]} -eq 0 ]; then
  echo "no example policies found" >&2
  exit 1
fi
.venv/bin/nectar check "${policies[@]}"
.venv/bin/nectar fmt --check "${policies[@]}"
echo "example policies: ${#policies[@]} checked, all canonical"
# The quickstart as a user runs it: plain `pytest` proves its policies (one item per
# property, expectation and seed) and checks the committed rules.yaml and nectar.lock.
(cd examples/quickstart && ../../.venv/bin/python -m pytest -q -p no:cacheprovider)
(cd examples/quickstart && ../../.venv/bin/nectar compile --check && ../../.venv/bin/nectar explain)
