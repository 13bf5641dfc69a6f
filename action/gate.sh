#!/usr/bin/env bash
# Nectar deploy gate, run by action.yml.  Every input arrives as an environment variable
# (NECTAR_*), never spliced into this script, so a crafted input cannot become code.
#
# Verdict: pass when `nectar prove` and `nectar compile --check` both pass; fail when a
# property fails or the rules file or lock is stale; error when Nectar could not run
# (bad input, exit 2).  The report never decides the verdict: if it cannot be written the
# gate says so and goes on.
set -euo pipefail

python="${NECTAR_PYTHON:-python3}"
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/nectar-gate"
rm -rf "$out_dir"
mkdir -p "$out_dir"
report="$out_dir/report.md"
: >"$report"

cd "${NECTAR_WORKING_DIRECTORY:-.}"

nectar() { "$python" -m pytest_nectar "$@"; }

# Echo output of Nectar (it may quote corpus values) with workflow commands switched off.
show() {
  local token
  token="nectar-$(date +%s%N)-$RANDOM"
  echo "::stop-commands::$token"
  cat "$@" >&2
  echo "::$token::"
}

policies=()
if [[ -n "${NECTAR_POLICIES:-}" ]]; then
  shopt -s globstar nullglob
  read -r -d '' -a words <<<"$NECTAR_POLICIES" || true
  for word in "${words[@]}"; do
    # shellcheck disable=SC2206  # the word is a glob on purpose
    matches=($word)
    if ((${#matches[@]})); then
      policies+=("${matches[@]}")
    else
      policies+=("$word") # let nectar name the missing file
    fi
  done
  shopt -u globstar nullglob
fi

prove_args=(--json)
case "${NECTAR_FAIL_ON:-error}" in
  error) ;;
  warning) prove_args+=(--strict) ;;
  *)
    echo "::error title=nectar::fail-on must be 'error' or 'warning'"
    exit 2
    ;;
esac
if [[ -n "${NECTAR_CORPUS:-}" ]]; then
  prove_args+=(--corpus "$NECTAR_CORPUS")
fi
compile_args=(--check)
if [[ -n "${NECTAR_RULES_FILE:-}" ]]; then
  compile_args+=(-o "$NECTAR_RULES_FILE")
fi
if [[ -n "${NECTAR_LOCK:-}" ]]; then
  compile_args+=(--lock "$NECTAR_LOCK")
fi

echo "::group::nectar prove"
prove_rc=0
nectar prove "${prove_args[@]}" "${policies[@]}" >"$out_dir/prove.json" 2>"$out_dir/prove.err" ||
  prove_rc=$?
show "$out_dir/prove.err"
echo "::endgroup::"

echo "::group::nectar compile --check"
compile_rc=0
nectar compile "${compile_args[@]}" "${policies[@]}" >"$out_dir/compile.out" 2>"$out_dir/compile.err" ||
  compile_rc=$?
show "$out_dir/compile.out" "$out_dir/compile.err"
echo "::endgroup::"

verdict=pass
if ((prove_rc == 1 || compile_rc == 1)); then
  verdict=fail
fi
if ((prove_rc > 1 || compile_rc > 1)); then
  verdict=error
fi

# Figures for the outputs: whatever `nectar prove --json` reports, empty when absent.
figures="$("$python" - "$out_dir/prove.json" <<'PY' || true
import json, sys

def find(doc, key):
    if isinstance(doc, dict):
        if isinstance(doc.get(key), (int, float)) and not isinstance(doc.get(key), bool):
            return doc[key]
        doc = list(doc.values())
    if isinstance(doc, list):
        for item in doc:
            found = find(item, key)
            if found is not None:
                return found
    return None

try:
    with open(sys.argv[1], encoding="utf-8") as handle:
        doc = json.load(handle)
except (OSError, ValueError):
    doc = None
for key in ("kept_events_per_second", "budget_per_second"):
    value = find(doc, key)
    print("" if value is None else format(value, "g"))
PY
)"
kept="$(sed -n 1p <<<"$figures")"
budget="$(sed -n 2p <<<"$figures")"

case "$verdict" in
  pass) headline="### Nectar gate: ✅ pass" ;;
  fail) headline="### Nectar gate: ❌ fail" ;;
  *) headline="### Nectar gate: ⚠️ error (Nectar could not run; see the log)" ;;
esac
{
  echo "$headline"
  echo
  echo "| check | result |"
  echo "| --- | --- |"
  echo "| nectar prove | exit $prove_rc |"
  echo "| nectar compile --check | exit $compile_rc |"
  echo "| kept events/s | ${kept:-n/a} |"
  echo "| budget (events/s) | ${budget:-n/a} |"
  echo
} >>"$report"

explain_args=(--format md)
if [[ -n "${NECTAR_CORPUS:-}" ]]; then
  explain_args+=(--corpus "$NECTAR_CORPUS")
fi
if nectar explain "${explain_args[@]}" "${policies[@]}" >"$out_dir/explain.md" 2>"$out_dir/explain.err"; then
  cat "$out_dir/explain.md" >>"$report"
  echo >>"$report"
else
  show "$out_dir/explain.err"
  printf '_The explain report could not be produced; see the job log._\n\n' >>"$report"
fi

# On pull requests: what changes against the base branch, policy by policy.
if [[ -n "${NECTAR_BASE_REF:-}" ]]; then
  base="refs/remotes/origin/$NECTAR_BASE_REF"
  if git fetch --no-tags --depth=1 origin "+refs/heads/$NECTAR_BASE_REF:$base" >/dev/null 2>&1; then
    diff_policies=("${policies[@]}")
    if ((${#diff_policies[@]} == 0)); then
      mapfile -t diff_policies < <(git ls-files -- '*.toon' ':!:*.expect.toon')
    fi
    echo "### Changes against \`$NECTAR_BASE_REF\`" >>"$report"
    echo >>"$report"
    changed=0
    for policy in "${diff_policies[@]}"; do
      if git diff --quiet "$base" -- "$policy" 2>/dev/null; then
        continue
      fi
      changed=1
      if ! git cat-file -e "$base:./$policy" 2>/dev/null; then
        echo "- \`$policy\` is new in this pull request." >>"$report"
      elif nectar diff "git:$base:$policy" "$policy" "${explain_args[@]}" \
        >"$out_dir/diff.md" 2>"$out_dir/diff.err"; then
        cat "$out_dir/diff.md" >>"$report"
      else
        show "$out_dir/diff.err"
        echo "- \`$policy\`: the diff could not be produced; see the job log." >>"$report"
      fi
    done
    if ((changed == 0)); then
      echo "No policy changed." >>"$report"
    fi
    echo >>"$report"
  else
    echo "::warning title=nectar::could not fetch the base branch; no diff in the report"
  fi
fi

# Annotations at policy lines, and the complete list of findings in the report.
error_args=()
if ((compile_rc != 0)); then
  first="$(grep -m1 -v '^[[:space:]]*$' "$out_dir/compile.err" "$out_dir/compile.out" -h || true)"
  error_args+=(--error "nectar compile --check failed (exit $compile_rc): ${first:-no output}")
fi
"$python" -m pytest_nectar.annotations \
  --json "$out_dir/prove.json" --text "$out_dir/prove.err" \
  --text "$out_dir/compile.err" --text "$out_dir/compile.out" \
  --path-prefix "${NECTAR_WORKING_DIRECTORY:-.}" --findings "$report" "${error_args[@]}" ||
  echo "::warning title=nectar::could not write annotations"

# GitHub caps a step summary at 1 MiB.
if [[ "${NECTAR_POST_REPORT:-true}" == "true" && -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  head -c 1000000 "$report" >>"$GITHUB_STEP_SUMMARY"
fi
# act ignores step summaries; tests read this copy.
if [[ -n "${NECTAR_SUMMARY_FILE:-}" ]]; then
  cp "$report" "$NECTAR_SUMMARY_FILE"
fi

{
  echo "verdict=$verdict"
  echo "kept-events-per-second=$kept"
  echo "budget=$budget"
  echo "report-path=$report"
} >>"${GITHUB_OUTPUT:-/dev/null}"

echo "nectar gate: $verdict"
if [[ "$verdict" != pass ]]; then
  exit 1
fi
