"""The plugin collects policies and corpora as items: names, selection, parse errors."""

from __future__ import annotations

import pytest

from tests.plugin_support import PYPROJECT, SAFE_POLICY, make_project, run

pytest_plugins = ["pytester"]

PROPERTY_ITEMS = (
    "parse",
    "fallback",
    "error-preservation",
    "error-preservation-all",
    "must-keep",
    "must-keep-all",
    "budget",
    "compiles",
    "equivalence",
    "lockfile",
)
LINT_ITEMS = (
    "policy-warnings",
    "unreachable-rules",
    "shadowed-rules",
    "unknown-fields",
    "mixed-types",
    "negative-trace-scope",
)


def _collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and " " not in line.strip()]


def test_a_safe_policy_collects_every_item_and_passes(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = run(pytester, "-v")
    # no must_keep and no corpus label: must-keep has nothing to check (skipped, not passed)
    result.assert_outcomes(passed=len(PROPERTY_ITEMS) - 2 + len(LINT_ITEMS) + 3 + 1, skipped=2)
    out = result.stdout.str()
    for name in (*PROPERTY_ITEMS, *LINT_ITEMS):
        assert f"policies/shop.toon::{name} " in out
    for name in ("corpus-ingest", "corpus-roots", "corpus-fields"):
        assert f"pyproject.toml::{name} PASSED" in out
    # the one seed item of the default campaign; no lockfile committed yet -> skipped
    result.stdout.re_match_lines([r"policies/shop.toon::vopr\[evolution-0x[0-9a-f]+\] PASSED.*"])
    result.stdout.fnmatch_lines(["*policies/shop.toon::lockfile SKIPPED*"])
    result.stdout.fnmatch_lines(["*policies/shop.toon::must-keep SKIPPED*"])
    assert "Traceback" not in out


def test_collection_is_the_same_every_time(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    first = run(pytester, "--co", "-q")
    second = run(pytester, "--co", "-q")
    assert _collected(first) == _collected(second)
    assert len(_collected(first)) == len(PROPERTY_ITEMS) + len(LINT_ITEMS) + 1 + 3


def test_toon_files_without_a_policy_are_not_collected(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toon", notes="title: not a policy\nitems[2]: a,b\n")
    result = run(pytester, "--co", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "nectar:" not in result.stdout.str()
    assert "nectar summary" not in result.stdout.str()


def test_a_parse_error_is_one_failing_item_with_the_located_message(
    pytester: pytest.Pytester,
) -> None:
    broken = SAFE_POLICY.replace("http.status >= 500,keep,100", "http.status >== 500,keep,100")
    make_project(pytester, policy=broken)
    result = run(pytester, "policies")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*_ parse _*",
            "policies/shop.toon:7:46: unexpected token in match expression; got '='*",
            "rerun: pytest policies/shop.toon::parse",
        ]
    )
    assert "Traceback" not in out and "pytest_plugin/checks.py" not in out


def test_k_selects_one_property_by_name(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = run(pytester, "-v", "-k", "error-preservation")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*policies/shop.toon::error-preservation PASSED*",
            "*policies/shop.toon::error-preservation-all PASSED*",
        ]
    )


def test_m_selects_by_marker_under_strict_markers(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    lints = run(pytester, "-v", "--strict-markers", "-m", "nectar_lint")
    lints.assert_outcomes(passed=len(LINT_ITEMS))
    corpus = run(pytester, "-q", "-m", "nectar_corpus")
    corpus.assert_outcomes(passed=3)
    no_seeds = run(pytester, "-q", "-m", "nectar and not nectar_vopr and not nectar_lint")
    no_seeds.assert_outcomes(passed=len(PROPERTY_ITEMS) - 2 + 3, skipped=2)


def test_policy_globs_restrict_collection(pytester: pytest.Pytester) -> None:
    make_project(
        pytester,
        pyproject=PYPROJECT.replace('"policies/*.toon"', '"policies/other*.toon"'),
    )
    result = run(pytester, "--co", "-q")
    assert not [line for line in _collected(result) if line.startswith("policies/")]


def test_a_repository_without_nectar_gets_no_header_and_no_summary(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "nectar:" not in result.stdout.str()
    assert "nectar summary" not in result.stdout.str()
