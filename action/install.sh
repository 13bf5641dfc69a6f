#!/usr/bin/env bash
# Install Nectar from this checkout into a virtualenv of its own, and print `python=PATH`
# to $GITHUB_OUTPUT.  A virtualenv because runner images mark the system Python as
# externally managed (PEP 668) and Nectar's dependencies must not clash with the caller's.
#
# The virtualenv lives in the runner's tool cache under a key of (Python version, Nectar's
# sources): self-hosted runners reuse it across jobs, hosted runners start empty.  Extras are
# added to it on demand (one marker file each), so a job that needs `claude` after one that
# did not installs only the extra's packages.
# Inputs: NECTAR_PYTHON (default python3), NECTAR_EXTRAS (e.g. "claude"), and
# NECTAR_ADD_TO_PATH=true to put the virtualenv's `nectar` on PATH for later steps.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_cmd="${NECTAR_PYTHON:-python3}"
extras="${NECTAR_EXTRAS:-}"
if [[ ! "$extras" =~ ^[A-Za-z0-9_,-]*$ ]]; then
  echo "::error title=nectar::extras must be a comma-separated list of names"
  exit 2
fi

key="$(
  {
    "$python_cmd" -c 'import sys; print(sys.version)'
    cd "$src"
    find pyproject.toml README.md hooks pytest_nectar -type f \
      -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)"
venv="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/nectar/$key"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

if [[ -f "$venv/.nectar-complete" ]]; then
  echo "Reusing Nectar in $venv"
else
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python_cmd" -m venv "$venv"
  "${pip[@]}" "$src"
  touch "$venv/.nectar-complete"
fi
IFS=, read -r -a wanted <<<"$extras"
missing=()
for extra in "${wanted[@]}"; do
  if [[ -n "$extra" && ! -f "$venv/.nectar-extra-$extra" ]]; then
    missing+=("$extra")
  fi
done
if ((${#missing[@]})); then
  joined="$(IFS=,; echo "${missing[*]}")"
  echo "Adding Nectar's extras to $venv: $joined"
  "${pip[@]}" "${src}[${joined}]"
  for extra in "${missing[@]}"; do
    touch "$venv/.nectar-extra-$extra"
  done
fi
"$venv/bin/python" -m pytest_nectar --version
echo "python=$venv/bin/python" >>"${GITHUB_OUTPUT:-/dev/null}"
if [[ "${NECTAR_ADD_TO_PATH:-}" == "true" ]]; then
  echo "$venv/bin" >>"${GITHUB_PATH:-/dev/null}"
fi
