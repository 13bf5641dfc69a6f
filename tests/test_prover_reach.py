"""The near-linear reachability procedure against the full one it replaced (issue 19).

Differential: on generated policies (every operator, datatype, scope, ``root.`` fields,
existence, has-root, negation inside ``span(...)``, CheckNestedFields) the shadowed-rules
lint and error preservation for all traces give the full procedure's verdict wherever the
full procedure decided; where it could not decide (a cap, a condition outside the decided
fragment), the new one may decide, but only with evidence: a witness the reference
evaluator confirms, or an exact proof.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from pytest_nectar.compiler.compile import compile_policies
from pytest_nectar.errors import NectarError
from pytest_nectar.policy.error_criteria import error_match
from pytest_nectar.policy.model import Policy, Rule
from pytest_nectar.prover.properties import PropertyResult, Verdict
from pytest_nectar.prover.reach import first_rules
from pytest_nectar.prover.target import Target, probe_of
from pytest_nectar.prover.universal import (
    prove_keep_all,
    prove_keep_all_full,
    shadowed_rules,
    shadowed_rules_full,
)
from pytest_nectar.refinery.reference import Evaluator
from tests.compile_strategies import actions, exprs, trace_bank


@st.composite
def many_rules(draw: st.DrawFn) -> Policy:
    n = draw(st.integers(2, 9))
    prios = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n, unique=True))
    rules = tuple(Rule(f"r{i}", None, draw(exprs), draw(actions), prios[i]) for i in range(n))
    nested = draw(st.sampled_from([None, None, None, True]))
    return Policy(1, "p", rules, check_nested_fields=nested)


def _target(policy: Policy) -> Target:
    nested = bool(policy.check_nested_fields)
    try:
        compiled = compile_policies([policy])
    except NectarError:
        reject()  # the compiler refuses it (e.g. a datatype the operator cannot take)
    return Target(
        "p.toon",
        compiled.rules_file,
        policy.effective_environment,
        probe_of(error_match(policy), nested=nested),
    )


def _names(result: PropertyResult, key: str, why: str = "") -> set[str]:
    """Rule names in a figure (``'r1' (shadowed)`` -> ``r1``), optionally of one reason."""
    return {s.split(" (")[0].strip("'") for s in result.figures.get(key, ()) if why in s}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(many_rules())
def test_shadowed_rules_agree_with_the_full_procedure(policy: Policy) -> None:
    target = _target(policy)
    new, old = shadowed_rules(target), shadowed_rules_full(target)
    old_undecided = _names(old, "undecided")
    # Every rule the full procedure decided is decided the same way ...
    assert _names(old, "shadowed") <= _names(new, "shadowed")
    assert _names(new, "undecided") <= old_undecided
    assert _names(new, "shadowed") - _names(old, "shadowed") <= old_undecided
    # ... and "never matches" is proven on the rule's own conditions, so where the full
    # procedure proved it, so does the new one (it may prove it where the other could not).
    assert _names(old, "shadowed", "never") <= _names(new, "shadowed", "never")
    if not old_undecided and _names(old, "shadowed", "never") == _names(new, "shadowed", "never"):
        assert (new.verdict, new.summary, new.figures) == (old.verdict, old.summary, old.figures)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(many_rules())
def test_error_preservation_for_all_traces_agrees(policy: Policy) -> None:
    target = _target(policy)
    new = prove_keep_all(target, "error-preservation-all", (target.error,))
    old = prove_keep_all_full(target, "error-preservation-all", (target.error,))
    if old.verdict is Verdict.UNKNOWN:
        assert new.verdict in (Verdict.UNKNOWN, Verdict.PASS, Verdict.FAIL)
    else:
        assert new.verdict is old.verdict, (new.summary, old.summary)


@settings(max_examples=40, deadline=None)
@given(many_rules(), st.integers(0, 2**16))
def test_first_rules_is_the_reference_first_match(policy: Policy, seed: int) -> None:
    target = _target(policy)
    evaluator = Evaluator(target.rules_file, target.env)
    traces = trace_bank(seed, 12)
    expected = [evaluator.decide(t).rule_index for t in traces]
    if policy.check_nested_fields:
        return  # the vectorised matches set CheckNestedFields traces apart (reference decides)
    assert first_rules(target.rules_file, target.env, traces) == expected
