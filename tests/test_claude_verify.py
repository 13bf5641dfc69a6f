"""The verification behind ``nectar propose``: what passes, and how problems read."""

from __future__ import annotations

from pytest_nectar.claude.verify import build_verifier, verdict_from_diagnostics
from pytest_nectar.errors import Diagnostic, PolicyError, Position
from tests.claude_support import BAD_POLICY, GOOD_POLICY


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
    (note,) = no_catch_all.notes
    assert note.startswith("warning: p.toon:5:3: no rule matches every trace")
