"""The verification behind ``nectar propose``: what passes, and how problems read."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.claude.verify import build_verifier, verdict_from_diagnostics
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import Diagnostic, PolicyError, Position
from pytest_nectar.policy.match_parser import parse_match
from tests.claude_support import BAD_POLICY, GOOD_POLICY

QUICKSTART_CORPUS = Path(__file__).parent.parent / "examples" / "quickstart" / "corpus"


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return load_corpus(str(QUICKSTART_CORPUS))


def test_seed_policy_passes_and_a_broken_one_fails_with_its_position() -> None:
    verify = build_verifier(policy_path="policies/main.toon")
    assert verify(GOOD_POLICY).passed
    verdict = verify(BAD_POLICY)
    assert not verdict.passed
    (problem,) = verdict.problems
    first, source, caret = problem.splitlines()
    assert first.startswith("policies/main.toon:5:")
    assert source.strip() == "rules[4]{name,description,match,action,priority}:"
    assert caret.strip() == "^"


def test_diagnostics_split_into_problems_and_notes() -> None:
    warning = Diagnostic("warning", "w", "rule is shadowed", Position("p.toon", 3, 5))
    error = Diagnostic("error", "e", "drops errors", Position("p.toon", 4, 5), got="drop")
    verdict = verdict_from_diagnostics([warning, error, PolicyError("bad"), "plain text"])
    assert verdict.problems == ("p.toon:4:5: drops errors; got 'drop'", "bad", "plain text")
    assert verdict.notes == ("warning: p.toon:3:5: rule is shadowed",)


def test_check_errors_are_problems_and_warnings_are_notes() -> None:
    verify = build_verifier(policy_path="p.toon")
    inexact = verify(GOOD_POLICY.replace("duration > 5s", "not http.route exists"))
    (problem,) = inexact.problems
    assert problem.startswith(
        "p.toon:7:36: 'not' around a trace-scope condition cannot be compiled exactly"
    )
    no_catch_all = verify(GOOD_POLICY.replace("true,sample", "http.status >= 400,sample"))
    assert no_catch_all.passed
    check_note, proof_note, unknown = no_catch_all.notes
    assert check_note.startswith("warning: p.toon:5:3: no rule matches every trace")
    assert proof_note == (
        "nectar prove for all traces (no corpus): 4 properties pass (error-preservation-all, "
        "must-keep-all, shadowed-rules, negative-trace-scope)"
    )
    assert unknown == (
        "unknown: fallback, error-preservation, must-keep, budget, unreachable-rules, "
        "unknown-fields, mixed-types: no corpus given (--corpus)"
    )


#: GOOD_POLICY keeps HTTP errors: checked against that definition (the default asks for more)
HTTP = parse_match("http.status >= 500", position=Position("pyproject.toml", 3, 10))


def test_proven_on_the_corpus_passes_with_notes(corpus: Corpus) -> None:
    verdict = build_verifier(policy_path="p.toon", corpus=corpus, error=HTTP)(GOOD_POLICY)
    assert verdict.passed, verdict.problems
    assert verdict.notes[0].startswith(
        "nectar prove on 340 corpus traces and for all traces: 8 properties pass (fallback, "
        "error-preservation, error-preservation-all,"
    )
    # a budget of 10000 events/s against 69 events/s of traffic checks nothing: said so
    assert verdict.notes[1].startswith("warning: budget: not exercised: even keeping every")
    assert not any("mixed-types" in note for note in verdict.notes[1:])


def test_dropped_errors_fail_with_witnesses(corpus: Corpus) -> None:
    verify = build_verifier(policy_path="p.toon", corpus=corpus, error=HTTP)
    dropped = GOOD_POLICY.replace("http.status >= 500,keep", "http.status >= 503,keep")
    # default_errors still keeps every 5xx trace of this corpus (server spans, status ERROR):
    # only the all-traces proof finds the 500 on a span that is neither
    (all_traces,) = verify(dropped).problems
    lines = all_traces.splitlines()
    assert lines[0].startswith(
        "property error-preservation-all failed (no trace at all is an error trace kept with "
        "probability < 1): a trace matching http.status >= 500 is decided by rule 'sample-rest'"
    )
    assert lines[1].endswith(
        "the trace: span 0: http.status_code=500; it is an error trace by http.status >= 500: "
        "http.response.status_code,http.status_code >= 500 (int) met by span 0 with 500"
    )


def test_budget_overrun_names_the_figures(corpus: Corpus) -> None:
    verify = build_verifier(policy_path="p.toon", corpus=corpus, error=HTTP)
    greedy = GOOD_POLICY.replace("10000", "1").replace("sample(0.01)", "keep")
    (problem,) = verify(greedy).problems
    assert problem == (
        "property budget failed (kept events/s stay within the budget, on average and at the "
        "windowed peak): exceeds 1 events/s: mean 68.61 events/s (6.849 traces/s), peak 68.61 "
        "events/s (6.849 traces/s) over 59.7149 s windows, at the corpus's own rate; rate "
        "learned from 1 capture(s) (time blocks split at gaps over 3600 s), 59.7149 s of "
        "recording"
    )


def test_the_error_expression_and_window_are_nectar_proves(corpus: Corpus) -> None:
    wider = parse_match("http.status >= 400", position=Position("pyproject.toml", 3, 10))
    strict = build_verifier(policy_path="p.toon", corpus=corpus, error=wider)
    (problem,) = strict(GOOD_POLICY).problems
    assert problem.startswith(
        "property error-preservation-all failed (no trace at all is an error trace kept with "
        "probability < 1): a trace matching http.status >= 400 is decided by rule 'sample-rest'"
    )


def test_a_project_check_runs_last_and_only_on_proven_text() -> None:
    seen: list[str] = []

    def project(text: str) -> list[str]:
        seen.append(text)
        return ["rules.yaml: would clash"]

    verify = build_verifier(policy_path="p.toon", project=project)
    assert verify(BAD_POLICY).problems[0].startswith("p.toon:5:9: row count differs")
    assert seen == []
    assert verify(GOOD_POLICY).problems == ("rules.yaml: would clash",)
    assert seen == [GOOD_POLICY]
