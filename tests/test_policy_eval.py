"""The policy interpreter against the compiled rules: same decision for every trace.

``policy.interpreter`` walks the policy tree; ``reference.decide`` runs the compiled Refinery rules.
Agreement (rule mapped back through the split names, rate, keep, probability, key) on random
policies and traces and on every trace of the real corpora is the compiler's correctness check.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_nectar.compiler.compile import Compilation, compile_policies
from pytest_nectar.corpus import load_corpus
from pytest_nectar.errors import CompileError
from pytest_nectar.policy.interpreter import PolicyDecision, PolicyEvaluator, interpret
from pytest_nectar.policy.model import Policy
from pytest_nectar.policy.parser import load_policy, parse_policy
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.trace import Span, Trace
from tests.compile_strategies import policies, trace_bank, traces
from tests.realdata import TRACE_FOLDERS, files

ROOT = Path(__file__).resolve().parent.parent
CORPORA = [p for folder in TRACE_FOLDERS for p in files("*.json", folder)]
EXAMPLES = sorted((ROOT / "examples").glob("*/policies/*.toon"))
BANK = trace_bank(seed=4, count=200)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_agree(policy: Policy, compiled: Compilation, trace_list: list[Trace]) -> int:
    env = policy.effective_environment
    reference = Evaluator(compiled.rules_file, env)
    interp = PolicyEvaluator(policy)
    origin = compiled.environments[env].origin
    for trace in trace_list:
        want = interp.decide(trace)
        got = reference.decide(trace)
        mapped = PolicyDecision(
            origin(got.rule_index), got.rate, got.keep, got.keep_probability, got.key
        )
        assert mapped.rule == want.rule, (trace, got, want)
        assert (mapped.rate, mapped.keep, mapped.key) == (want.rate, want.keep, want.key), (
            trace,
            got,
            want,
        )
        assert _same(mapped.keep_probability, want.keep_probability)
    return len(trace_list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(policy=policies(), trace_list=st.lists(traces(), min_size=1, max_size=4))
def test_compiled_rules_decide_like_the_policy(policy: Policy, trace_list: list[Trace]) -> None:
    try:
        compiled = compile_policies([policy])
    except CompileError:
        assume(False)
        raise
    assert_agree(policy, compiled, trace_list + BANK)


@pytest.fixture(scope="module")
def corpus_traces(realdata: Path) -> list[Trace]:
    out: list[Trace] = []
    for path in CORPORA:
        corpus = load_corpus(path, cache=False)
        out.extend(corpus.trace(i) for i in range(corpus.n_traces))
    return out


def test_real_corpora_are_present(corpus_traces: list[Trace]) -> None:
    assert len(CORPORA) >= 10
    assert len(corpus_traces) > 100


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_policies_agree_on_every_real_trace(path: Path, corpus_traces: list[Trace]) -> None:
    policy = load_policy(path)
    assert assert_agree(policy, compile_policies([policy]), corpus_traces) == len(corpus_traces)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(policy=policies())
def test_random_policies_agree_on_real_traces(policy: Policy, corpus_traces: list[Trace]) -> None:
    try:
        compiled = compile_policies([policy])
    except CompileError:
        assume(False)
        raise
    assert_agree(policy, compiled, corpus_traces[::7])


# --- the interpreter's own meaning, by hand ---------------------------------------------------

POLICY = """\
nectar_policy{version,name,rules}:
  1
  p
  rules[4]{name,description,match,action,priority}:
    errors,,http.status >= 500 or error = true,keep,100
    cart,,"span(http.route = \\"/cart\\" and not (service.name = \\"a\\"))",sample(1/4),90
    health,,"root.http.route = \\"/h\\" and has_root",drop,80
    rest,,true,"dynamic(20 by service.name)",0
"""


def trace(*spans: dict[str, object], root: int | None = None) -> Trace:
    return Trace("t1", tuple(Span(d, i == root) for i, d in enumerate(spans)))


def test_or_matches_either_alternative() -> None:
    policy = parse_policy(POLICY)
    assert interpret(policy, trace({"http.status_code": 503})) == PolicyDecision(
        "errors", 1, True, 1.0, ""
    )
    assert interpret(policy, trace({"x": 1}, {"error": True})).rule == "errors"
    # a string "503" is an int under Datatype int
    assert interpret(policy, trace({"http.response.status_code": "503"})).rule == "errors"


def test_span_scope_needs_one_span_with_everything() -> None:
    policy = parse_policy(POLICY)
    split = trace({"http.route": "/cart", "service.name": "a"}, {"service.name": "b"})
    assert interpret(policy, split).rule == "rest"
    together = trace({"http.route": "/cart", "service.name": "b"})
    assert interpret(policy, together) == PolicyDecision("cart", 4, None, 0.25, "")
    # span without service.name: not (= "a" as string) holds (the field reads as "<nil>")
    assert interpret(policy, trace({"http.route": "/cart"})).rule == "cart"


def test_root_fields_and_has_root() -> None:
    policy = parse_policy(POLICY)
    assert interpret(policy, trace({"http.route": "/h"}, root=0)) == PolicyDecision(
        "health", 0, False, 0.0, ""
    )
    assert interpret(policy, trace({"http.route": "/h"})).rule == "rest"


def test_dynamic_action_uses_refinery_first_call_rate_and_key() -> None:
    policy = parse_policy(POLICY)
    got = interpret(policy, trace({"service.name": "cart"}))
    assert got == PolicyDecision("rest", 20, None, 0.05, "cart•,")


def test_no_rule_matched_keeps() -> None:
    policy = parse_policy(POLICY.replace("rest,,true", "rest,,b exists"))
    assert interpret(policy, trace({"a": 1})) == PolicyDecision(None, 1, True, 1.0, "")
