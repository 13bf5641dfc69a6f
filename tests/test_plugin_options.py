"""Seeds, JUnit, xdist, the header and summary, and the lockfile item."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from pytest_nectar.pytest_plugin.session import derive_seeds
from tests.plugin_support import QUIET, SAFE_POLICY, make_project, run

pytest_plugins = ["pytester"]

DEFAULT_SEED = f"{derive_seeds('evolution', 1)[0]:#x}"


def test_the_header_names_config_corpus_and_seeds(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = run(pytester, "--co", "--nectar-seeds=2", "--nectar-campaigns=evolution,chaos")
    seeds = derive_seeds("evolution", 2)
    chaos = derive_seeds("chaos", 2)
    result.stdout.fnmatch_lines(
        [
            "nectar: config pyproject.toml; corpus corpus; budget window 60s",
            f"nectar seeds: evolution {seeds[0]:#x},{seeds[1]:#x}; "
            f"chaos {chaos[0]:#x},{chaos[1]:#x}",
        ]
    )
    vopr = [line for line in result.outlines if "<NectarItem vopr[" in line]
    assert len(vopr) == 4


def test_vopr_items_carry_their_campaign_and_seed(pytester: pytest.Pytester) -> None:
    from pytest_nectar.pytest_plugin.items import SimulationRun

    make_project(pytester)
    items, _ = pytester.inline_genitems(*QUIET, "--nectar-seeds=2", "--nectar-campaigns=chaos")
    runs = [getattr(item, "simulation", None) for item in items]
    assert [r for r in runs if r is not None] == [
        SimulationRun("chaos", seed) for seed in derive_seeds("chaos", 2)
    ]
    assert all(r is None for item, r in zip(items, runs, strict=True) if "vopr[" not in item.name)


def test_nectar_seed_collects_and_runs_exactly_that_seed(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = run(pytester, "-v", "--nectar-seed=42", "-m", "nectar_vopr")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "nectar seeds (--nectar-seed): evolution 0x2a",
            "*policies/shop.toon::vopr?evolution-0x2a? PASSED*",
        ]
    )
    again = run(pytester, "--nectar-seed=0x2a", "policies/shop.toon::vopr[evolution-0x2a]")
    again.assert_outcomes(passed=1)
    bad = run(pytester, "--nectar-seed=forty-two")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*invalid seed; got 'forty-two'; write it in hex like 0x2a*"])


def test_junit_xml_carries_seeds_verdicts_and_policy(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    run(pytester, "--junitxml=report.xml", "-m", "nectar_vopr or nectar_property")
    root = ET.parse(pytester.path / "report.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    seed_case = cases[f"vopr[evolution-{DEFAULT_SEED}]"]
    props = {p.get("name"): p.get("value") for p in seed_case.iter("property")}
    assert props["nectar.seed"] == DEFAULT_SEED
    assert props["nectar.policy"] == "policies/shop.toon"
    ep = {p.get("name"): p.get("value") for p in cases["error-preservation"].iter("property")}
    assert ep == {"nectar.policy": "policies/shop.toon", "nectar.verdict": "pass"}
    assert cases["error-preservation"].get("classname") == "policies.shop.toon"


def test_xdist_gives_the_same_results(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    serial = pytester.runpytest_subprocess(*QUIET, "-rA", "-q")
    parallel = pytester.runpytest_subprocess(*QUIET, "-rA", "-q", "-n", "2")

    def outcomes(result: pytest.RunResult) -> list[str]:
        return sorted(
            line for line in result.outlines if line.startswith(("PASSED", "SKIPPED", "FAILED"))
        )

    assert serial.ret == parallel.ret == pytest.ExitCode.OK
    assert outcomes(serial) == outcomes(parallel)
    assert len(outcomes(serial)) == 20
    # the summary is built from the reports, so the controller prints it under xdist too
    parallel.stdout.fnmatch_lines(["*nectar summary*", "policies/shop.toon (shop)", "  kept *"])


def test_the_summary_shows_kept_share_budget_and_verdicts(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    result = run(pytester)
    result.stdout.fnmatch_lines(
        [
            "*= nectar summary =*",
            "policies/shop.toon (shop)",
            "  kept *% of traces, * kept events/s (peak * over *s) against a budget of 1000/s",
            # a budget of 1000 events/s against a few events/s checks nothing: a warning
            "  verdicts: 1 warned (budget); 2 skipped (must-keep, lockfile); 14 passed",
            "  rule coverage: all 3 rules reached by the corpus or an expectation",
            "pyproject.toml",
            "  verdicts: 3 passed",
        ]
    )


def test_the_lockfile_item_catches_a_stale_rules_file(pytester: pytest.Pytester) -> None:
    from pytest_nectar.cli import main

    make_project(pytester)
    os.chdir(pytester.path)
    assert main(["compile"]) == 0
    fresh = run(pytester, "-k", "lockfile")
    fresh.assert_outcomes(passed=1)
    policy = pytester.path / "policies" / "shop.toon"
    policy.write_text(SAFE_POLICY.replace("sample(1/10)", "sample(1/20)"))
    stale = run(pytester, "-k", "lockfile")
    stale.assert_outcomes(failed=1)
    stale.stdout.fnmatch_lines(
        [
            "lockfile: FAIL: rules.yaml and nectar.lock are not what the policies compile to now",
            "  rules.yaml: stale; *",
            "  fix: run 'nectar compile' and commit both files",
        ]
    )


def test_a_bad_config_is_a_usage_error_with_the_located_message(
    pytester: pytest.Pytester,
) -> None:
    make_project(pytester, pyproject='[tool.nectar]\nseeds = "two"\n')
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: */pyproject.toml:2:9: [[]tool.nectar[]] seeds has the wrong type; got 'two'; *"]
    )


def test_command_line_options_override_the_config(pytester: pytest.Pytester) -> None:
    make_project(pytester)
    (pytester.path / "corpus").rename(pytester.path / "other")
    result = run(pytester, "--co", "--nectar-corpus=other", "--nectar-seeds=0")
    result.stdout.fnmatch_lines(["nectar: config pyproject.toml; corpus other; budget window 60s"])
    assert "vopr[" not in result.stdout.str()
    ran = run(pytester, "--nectar-corpus=other", "--nectar-seeds=0", "-m", "nectar_corpus")
    ran.assert_outcomes(passed=3)


class _FailedRun:
    passed = False

    def evidence(self) -> None:
        return None  # it simulated enough traffic: only the violation fails it

    def render(self) -> str:
        return "vopr evolution seed 0x2a: 3 iterations\n  VIOLATION budget at t=120s: over budget"


def test_a_failing_seed_prints_the_run_and_its_replay_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_nectar.vopr import campaigns

    seen: list[tuple[str, int]] = []

    def fake_run_seed(policy: object, corpus: object, campaign: str, seed: int, **kw: object):
        seen.append((campaign, seed))
        return _FailedRun()

    monkeypatch.setattr(campaigns, "run_seed", fake_run_seed)
    make_project(pytester)
    result = run(pytester, "--nectar-seed=0x2a", "-m", "nectar_vopr")
    result.assert_outcomes(failed=1)
    assert seen == [("evolution", 42)]
    result.stdout.fnmatch_lines(
        [
            "vopr: FAIL for policies/shop.toon, campaign evolution, seed 0x2a",
            "vopr evolution seed 0x2a: 3 iterations",
            "  VIOLATION budget at t=120s: over budget",
            "rerun: pytest --nectar-seed=0x2a 'policies/shop.toon::vopr[evolution-0x2a]'",
        ]
    )


def test_vopr_items_judge_by_the_project_error_expression(pytester: pytest.Pytester) -> None:
    """A policy without its own ``error``: the vopr items use ``[tool.nectar] error``, as
    the prover does, not the default error criteria."""
    from tests.test_cli_vopr import NO_ERROR_POLICY, SHOP

    shop = SHOP.read_text(encoding="utf-8")
    pyproject = '[tool.nectar]\npolicies = ["policies/*.toon"]\ncorpus = "corpus/"\n'
    seeds = ("--nectar-campaigns=chaos", "--nectar-seed=0x2a", "-m", "nectar_vopr")
    kept = pyproject + 'error = "http.status >= 500"\n'
    extra = {"corpus/shop.jsonl": shop}
    make_project(pytester, policy=NO_ERROR_POLICY, pyproject=kept, corpus=False, extra=extra)
    run(pytester, *seeds).assert_outcomes(passed=1)
    (pytester.path / "pyproject.toml").write_text(pyproject + 'error = "http.status >= 400"\n')
    lost = run(pytester, *seeds)
    lost.assert_outcomes(failed=1)
    lost.stdout.fnmatch_lines(["*VIOLATION error-kept*"])
