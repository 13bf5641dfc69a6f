"""The simulator's fast rule match decides exactly as the reference evaluator does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.errors import NectarError
from pytest_nectar.refinery.reference import Decision, Evaluator
from pytest_nectar.refinery.rules_model import RulesFile
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.decision_cache import RuleMatcher

from .realdata import case_params
from .test_refinery_cases import case_rules, case_trace
from .test_vector import rules_files, traces


def _decisions(decide: Any, trace_list: list[Trace]) -> list[Decision] | str:
    try:
        return [decide(t, float(i)) for i, t in enumerate(trace_list)]
    except NectarError as err:  # Refinery would crash: the same error on both sides
        return str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_files(), st.lists(traces, min_size=1, max_size=6))
def test_fast_match_equals_reference(rules_file: RulesFile, trace_list: list[Trace]) -> None:
    """Every scope, operator, Datatype, ``root.``/``meta.`` field, descendant count and
    ``CheckNestedFields`` setting the vectorised differential test draws."""
    reference = Evaluator(rules_file)
    fast = RuleMatcher(Evaluator(rules_file))
    assert _decisions(fast.decide, trace_list) == _decisions(reference.decide, trace_list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_files(), st.lists(traces, min_size=1, max_size=6))
def test_fast_match_equals_reference_with_stateful_samplers(
    rules_file: RulesFile, trace_list: list[Trace]
) -> None:
    """Stateful samplers see the same calls in the same order at the same times."""
    reference = Evaluator(rules_file, stateful=True)
    fast = RuleMatcher(Evaluator(rules_file, stateful=True))
    assert _decisions(fast.decide, trace_list) == _decisions(reference.decide, trace_list)


@pytest.mark.parametrize("case", case_params())
def test_given_case(case: dict[str, Any], realdata: Path) -> None:
    trace = case_trace(case)
    rules = case_rules(case)
    assert RuleMatcher(Evaluator(rules)).decide(trace) == Evaluator(rules).decide(trace)


def test_plain_conditions_take_the_fast_path_and_others_the_reference() -> None:
    rules = read_rules_text(
        """RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - {Name: root, Conditions: [{Field: root.http.method, Operator: '=', Value: POST}]}
        - {Name: plain, Scope: span, Conditions: [{Fields: [a, b], Operator: '>', Value: 2}]}
        - {Name: rest}
""",
        "r.yaml",
    ).rules_file
    matcher = RuleMatcher(Evaluator(rules))
    kinds = [[keys is not None for keys in plain] for _, _, _, plain in matcher._rules]
    assert kinds == [[False], [True], []]
    post = Trace("t", (Span({"b": 3}), Span({"http.method": "POST"}, True)))
    assert matcher.first_match(post) == 0
    assert matcher.first_match(Trace("t", (Span({"a": 1, "b": 3}),))) == 2  # a is read first
    assert matcher.first_match(Trace("t", (Span({"b": 3}),))) == 1
