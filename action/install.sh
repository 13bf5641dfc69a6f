#!/usr/bin/env bash
# Install Nectar from this checkout into a virtualenv of its own, and print `python=PATH`
# to $GITHUB_OUTPUT.  A virtualenv because runner images mark the system Python as
# externally managed (PEP 668) and Nectar's dependencies must not clash with the caller's.
#
# Where: by default a fresh virtualenv for this job, in a new folder under RUNNER_TEMP (which
# the runner empties for every job), so no earlier job's files are ever run.  With
# NECTAR_REUSE_INSTALL=true, one virtualenv in the runner's tool cache under a key of (Python
# version, this action's sources) is shared by later jobs on the same runner.  That trusts
# every earlier job on the runner: a job can change files in the shared virtualenv, and a
# later job (say the propose workflow, with the API key and `contents: write`) would run
# them, and a hash kept beside it proves nothing since the same job could rewrite it.  Opt in
# only on ephemeral runners or runners whose jobs are all equally trusted (SECURITY.md).
# Extras are added on demand (one marker file each), so a job that needs `claude` after one
# that did not installs only the extra's packages.
# Inputs: NECTAR_PYTHON (default python3), NECTAR_EXTRAS (e.g. "claude"),
# NECTAR_REUSE_INSTALL=true (see above), and NECTAR_ADD_TO_PATH=true to put the
# virtualenv's `nectar` on PATH for later steps.
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
if [[ "${NECTAR_REUSE_INSTALL:-false}" == "true" ]]; then
  venv="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/nectar/$key"
else
  venv="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/nectar-venv.XXXXXXXX")/$key"
fi
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
