"""Failures read like policy failures: property, verdict, witnesses, replay line; no traceback."""

from __future__ import annotations

import json
import re

import pytest

from tests.plugin_support import PYPROJECT, UNSAFE_POLICY, expectation, make_project, run

pytest_plugins = ["pytester"]


def _no_python(out: str) -> None:
    for python in ("Traceback", "pytest_plugin/checks.py", "items.py", "INTERNALERROR"):
        assert python not in out


def test_a_dropped_error_fails_error_preservation_with_witness_and_replay(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, policy=UNSAFE_POLICY)
    result = run(pytester, "-k", "error-preservation")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ error-preservation _*",
            "error-preservation: FAIL for policy 'shop' (policies/shop.toon)",
            "  property: every error trace is kept with probability 1 (on the corpus)",
            "  verdict: *",
            "  witnesses (1 of 1):",
            "    - trace health-err: rule 'drop-health' -> drop (rate 0)",
            "        http.route = '/health'*: met by span 1 with \"/health\"",
            "        replay: nectar decide policies/shop.toon --corpus corpus --trace-id "
            "health-err --env __default__",
            "rerun: pytest policies/shop.toon::error-preservation",
        ]
    )
    _no_python(result.stdout.str())


def test_an_all_traces_failure_shows_the_counterexample_and_writes_it(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, policy=UNSAFE_POLICY)
    result = run(pytester, "-k", "error-preservation-all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "error-preservation-all: FAIL for policy 'shop' (policies/shop.toon)",
            "        counterexample trace:",
            '          span 1*http.route="/health"*',
            "        replay: nectar decide policies/shop.toon .nectar-cache/witnesses/*.json "
            "--env __default__",
        ]
    )
    line = next(x for x in result.outlines if "replay: nectar decide" in x)
    written = pytester.path / line.split()[4]
    trace = json.loads(written.read_text())
    assert any(s["data"].get("http.route") == "/health" for s in trace["spans"])
    _no_python(result.stdout.str())


def test_verbose_adds_the_figures(pytester: pytest.Pytester) -> None:
    make_project(pytester, policy=UNSAFE_POLICY)
    quiet = run(pytester, "-k", "error-preservation and not all")
    verbose = run(pytester, "-v", "-k", "error-preservation and not all")
    assert "figures:" not in quiet.stdout.str()
    verbose.stdout.fnmatch_lines(["figures:", "  checked: *", "  failing_trace_ids: *"])


def test_a_missing_corpus_fails_its_items_with_the_message(pytester: pytest.Pytester) -> None:
    make_project(pytester, corpus=False, pyproject=PYPROJECT.replace("corpus/", "traces/"))
    result = run(pytester, "-m", "nectar_corpus or nectar_property")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "traces: configured corpus does not exist; set [tool.nectar] corpus or "
            "--nectar-corpus to a trace file or folder",
        ]
    )
    # the corpus-free checks still pass; nothing errors at collection
    result.stdout.fnmatch_lines(["*FAILED pyproject.toml::corpus-ingest*"])
    assert "error" not in result.parseoutcomes()
    # what needs no corpus still runs: parse, the all-traces proofs, compiles
    assert result.parseoutcomes()["passed"] == 4
    _no_python(out)


def test_lints_warn_and_fail_only_when_strict(pytester: pytest.Pytester) -> None:
    unreached = UNSAFE_POLICY.replace("sample-rest,Everything else,true,sample(1/10),0", "")
    unreached = unreached.replace("rules[3]", "rules[2]")
    make_project(pytester, policy=unreached)
    loose = run(pytester, "-m", "nectar_lint")
    loose.assert_outcomes(passed=6, warnings=1)
    loose.stdout.fnmatch_lines(
        ["*shop.toon:6: NectarLintWarning: warning: policies/shop.toon:6:3: no rule matches every*"]
    )
    strict = run(pytester, "-m", "nectar_lint", "--nectar-strict")
    strict.assert_outcomes(passed=5, failed=1)
    strict.stdout.fnmatch_lines(["(failing because of --nectar-strict)"])


def test_expectations_are_items_checked_on_the_compiled_rules(
    pytester: pytest.Pytester,
) -> None:
    lines = [
        expectation("t1", "/cart", 503, rule="keep-errors", decision="keep", name="5xx kept"),
        expectation("t2", "/health", 200, rule="drop-health", decision="drop"),
        expectation("t3", "/cart", 200, rule="sample-rest", decision="sample", rate=10),
        expectation("t4", "/health", 503, rule="keep-errors", decision="keep", name="oops"),
        '{"trace": [], "decision": "keep",}',
        expectation("t5", "/cart", 200, decision="maybe"),
        expectation("t6", "/cart", 200, rule="keep-all", decision="keep"),
    ]
    make_project(
        pytester,
        policy=UNSAFE_POLICY,
        extra={"policies/shop.expect.jsonl": "\n".join(["# examples", *lines]) + "\n"},
    )
    result = run(pytester, "-v", "-m", "nectar_expect")
    result.assert_outcomes(passed=3, failed=4)
    result.stdout.re_match_lines(
        [
            re.escape(f"policies/shop.toon::expect[{name}] {outcome}")
            for name, outcome in (
                ("5xx kept", "PASSED"),
                ("shop.expect.jsonl:3", "PASSED"),
                ("shop.expect.jsonl:4", "PASSED"),
                ("oops", "FAILED"),
                ("shop.expect.jsonl:6", "FAILED"),
                ("shop.expect.jsonl:7", "FAILED"),
                ("shop.expect.jsonl:8", "FAILED"),
            )
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "policies/shop.expect.jsonl:5:1: expectation 'oops' not met",
            "  expected rule 'keep-errors', decision keep",
            "  got rule 'drop-health' (compiled rule 'drop-health'), decision drop",
            "  reason: rules/trace/drop-health",
        ]
    )
    result.stdout.fnmatch_lines(
        ["policies/shop.expect.jsonl:6:*: expectation is not valid JSON: *"]
    )
    result.stdout.fnmatch_lines(
        [
            "policies/shop.expect.jsonl:7:1: expectation 'decision' must be keep, drop or "
            "sample; got 'maybe'"
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "policies/shop.expect.jsonl:8:1: expectation names a rule the policy does not "
            "have; got 'keep-all'; rules: drop-health, keep-errors, sample-rest (or null for none)"
        ]
    )
    _no_python(result.stdout.str())


def test_rule_coverage_counts_expectations(pytester: pytest.Pytester) -> None:
    policy = UNSAFE_POLICY.replace("rules[3]", "rules[4]").replace(
        "    sample-rest,",
        '    keep-admin,,"http.route = \\"/admin\\"",keep,10\n    sample-rest,',
    )
    make_project(pytester, policy=policy)
    without = run(pytester, "-m", "nectar_property")
    without.stdout.fnmatch_lines(
        ["  rule coverage: 1 of 4 rules reached by no corpus trace and no expectation: keep-admin"]
    )
    (pytester.path / "policies" / "shop.expect.jsonl").write_text(
        expectation("a", "/admin", 200, rule="keep-admin", decision="keep") + "\n"
    )
    with_expect = run(pytester, "-m", "nectar_property or nectar_expect")
    with_expect.stdout.fnmatch_lines(
        ["  rule coverage: all 4 rules reached by the corpus or an expectation"]
    )


def test_an_empty_corpus_folder_skips_the_corpus_proofs_with_a_reason(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, corpus=False, extra={"corpus/README.md": "traces go here\n"})
    result = run(pytester, "-rs", "-m", "nectar_corpus or nectar_property")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] pyproject.toml:1: corpus holds no trace files yet: add some (OTLP "
            "JSON, Jaeger, Zipkin or Honeycomb events) and the corpus proofs run",
        ]
    )
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1[]] policies/shop.toon:*: error-preservation: unknown: no corpus given*"]
    )
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 4  # parse, the two all-traces proofs, compiles
