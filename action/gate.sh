#!/usr/bin/env bash
# Nectar deploy gate, run by action.yml.  Every input arrives as an environment variable
# (NECTAR_*), never spliced into this script, so a crafted input cannot become code.
#
# Verdict: pass when `nectar prove` and `nectar compile --check` both pass; fail when a
# property fails or the rules file or lock is stale; error when Nectar could not run
# (bad input, exit 2, or an internal error, exit 3: a bug is never read as "fail").  The
# report never decides the verdict: if it cannot be written the gate says so and goes on.
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

# A file name or branch in the Markdown report: a code span no backtick in it can end.
code() { "$python" -c 'import sys; from pytest_nectar.escape import md_code; print(md_code(sys.argv[1]))' "$1"; }

# Policies: the input's globs, else [tool.nectar]'s, as paths relative to the working folder
# (so reports, annotations and the base-branch diff all name them as git does).
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
else
  mapfile -d '' -t policies < <("$python" - <<'PY' || true
import os, sys
from pytest_nectar.project.config import load_config
for path in load_config().policy_files():
    sys.stdout.write(os.path.relpath(path) + "\0")
PY
  )
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

# Figures for the outputs and a per-policy table, from `nectar prove --json`: the budget
# property's peak kept events/s (sliding windows) against the policy's budget.  With several
# policies the outputs are the tightest one's (highest share of its budget).
figures="$("$python" - "$out_dir/prove.json" "$out_dir/policies.md" <<'PY' || true
import json, sys

from pytest_nectar.escape import md_code, md_text

try:
    with open(sys.argv[1], encoding="utf-8") as handle:
        reports = json.load(handle).get("reports", [])
except (OSError, ValueError, AttributeError):
    reports = []
rows, best = [], None
for rep in reports:
    props = {p.get("id"): p for p in rep.get("properties", [])}
    fig = props.get("budget", {}).get("figures", {})
    kept, budget = fig.get("peak_events_per_second"), fig.get("budget_per_second")
    failed = sorted(p["id"] for p in props.values() if p.get("verdict") == "fail")
    rows.append(
        f"| {md_code(str(rep.get('target')))} | {md_text(str(rep.get('environment')))} "
        f"| {'fail: ' + md_text(', '.join(failed)) if failed else 'pass'} "
        f"| {'n/a' if kept is None else format(kept, '.4g')} "
        f"| {'none' if budget is None else format(budget, 'g')} |"
    )
    if isinstance(kept, int | float):
        share = kept / budget if isinstance(budget, int | float) and budget > 0 else -1.0
        if best is None or share > best[0]:
            best = (share, kept, budget)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    if rows:
        out.write("| policy | environment | properties | kept events/s (peak) | budget |\n")
        out.write("| --- | --- | --- | ---: | ---: |\n")
        out.write("\n".join(rows) + "\n\n")
print("" if best is None else format(best[1], "g"))
print("" if best is None or best[2] is None else format(best[2], "g"))
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
  echo "| kept events/s (peak) | ${kept:-n/a} |"
  echo "| budget (events/s) | ${budget:-n/a} |"
  echo
  cat "$out_dir/policies.md" 2>/dev/null || true
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
    echo "### Changes against $(code "$NECTAR_BASE_REF")" >>"$report"
    echo >>"$report"
    changed=0
    for policy in "${diff_policies[@]}"; do
      if git diff --quiet --end-of-options "$base" -- "$policy" 2>/dev/null; then
        continue
      fi
      changed=1
      if ! git cat-file -e --end-of-options "$base:./$policy" 2>/dev/null; then
        echo "- $(code "$policy") is new in this pull request." >>"$report"
      elif nectar diff "git:$base:$policy" "$policy" "${explain_args[@]}" \
        >"$out_dir/diff.md" 2>"$out_dir/diff.err"; then
        cat "$out_dir/diff.md" >>"$report"
      else
        show "$out_dir/diff.err"
        echo "- $(code "$policy"): the diff could not be produced; see the job log." >>"$report"
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
"$python" -m pytest_nectar.github.annotations \
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
