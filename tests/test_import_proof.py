"""The import's equivalence proof: it passes on faithful imports, and a file that decides
differently is caught with a counterexample both evaluators confirm."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings

from pytest_nectar.compiler.compile import compile_policies
from pytest_nectar.compiler.importer import import_rules
from pytest_nectar.errors import CompileError
from pytest_nectar.policy.model import Policy
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.policy.printer import format_policy
from pytest_nectar.prover.import_proof import corpus_differences, prove_equivalent, same_decision
from pytest_nectar.prover.properties import Verdict
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_reader import read_rules_text
from tests.compile_strategies import policies, trace_bank
from tests.realdata import REALDATA

HEAD = "RulesVersion: 2\nSamplers:\n  __default__:\n    RulesBasedSampler:\n      Rules:\n"


def _imported(original: rm.RulesFile) -> tuple[rm.RulesFile, dict[str, dict[str, str]]]:
    result = import_rules(original)
    assert not result.problems, result.problems
    texts = [format_policy(p) for p in result.policies.values()]
    compiled = compile_policies([parse_policy(t) for t in texts]).rules_file
    return compiled, {env: dict(names) for env, names in result.renamed.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_import_of_compiled_rules_is_proven_and_decides_alike(policy: Policy) -> None:
    try:
        original = compile_policies([policy]).rules_file
    except CompileError:
        assume(False)
        raise
    imported, renamed = _imported(original)
    proof = prove_equivalent(original, imported, "__default__", renamed=renamed.get("__default__"))
    assert proof.verdict is not Verdict.FAIL, proof
    left, right = Evaluator(original), Evaluator(imported)
    for trace in trace_bank(7, 60):
        assert same_decision(left.decide(trace), right.decide(trace), {})


def test_a_different_file_fails_with_a_rechecked_counterexample() -> None:
    original = read_rules_text(
        HEAD + "        - Name: slow\n          SampleRate: 1\n          Conditions:\n"
        "            - {Field: duration_ms, Operator: '>', Value: 500, Datatype: float}\n"
        "        - Name: rest\n          SampleRate: 10\n"
    ).rules_file
    changed = read_rules_text(
        HEAD + "        - Name: slow\n          SampleRate: 1\n          Conditions:\n"
        "            - {Field: duration_ms, Operator: '>', Value: 800, Datatype: float}\n"
        "        - Name: rest\n          SampleRate: 10\n"
    ).rules_file
    proof = prove_equivalent(original, changed, "__default__")
    assert proof.verdict is Verdict.FAIL
    assert proof.summary == (
        "decisions differ (constructed by the decision procedure, re-checked by the reference "
        "evaluator)"
    )
    trace = proof.counterexample
    assert trace is not None and proof.original is not None and proof.imported is not None
    assert Evaluator(original).decide(trace) == proof.original
    assert Evaluator(changed).decide(trace) == proof.imported
    assert (proof.original.rule_name, proof.imported.rule_name) == ("slow", "rest")
    duration = next(s.data["duration_ms"] for s in trace.spans if "duration_ms" in s.data)
    assert 500 < float(duration) <= 800  # type: ignore[arg-type]


def test_the_decision_procedure_proves_rewritten_conditions() -> None:
    # Refinery compares untyped when Value does not convert to the Datatype; the import
    # writes that exactly (`as untyped`), so the matchers differ in text, not in meaning.
    original = read_rules_text(
        HEAD + "        - Name: odd\n          SampleRate: 1\n          Conditions:\n"
        "            - {Field: status, Operator: '=', Value: abc, Datatype: int}\n"
        "        - Name: rest\n          SampleRate: 10\n"
    ).rules_file
    imported, _ = _imported(original)
    conditions = imported.samplers["__default__"].samplers[0].rules[0].conditions  # type: ignore[attr-defined]
    assert conditions[0].datatype is None
    proof = prove_equivalent(original, imported, "__default__")
    assert proof.verdict is Verdict.PASS
    assert proof.summary.startswith("proven for all traces (2 rules against 2, the first 2 ")
    assert "pair(s) of differing outcomes shown impossible" in proof.summary


def test_samplers_compare_by_effective_settings() -> None:
    def env(body: str) -> rm.RulesFile:
        text = "RulesVersion: 2\nSamplers:\n  __default__:\n" + body
        return read_rules_text(text).rules_file

    a = env("    DeterministicSampler: {SampleRate: -3}\n")
    b = env("    DeterministicSampler: {SampleRate: 1}\n")
    c = env("    DeterministicSampler: {SampleRate: 2}\n")
    assert prove_equivalent(a, b, "__default__").verdict is Verdict.PASS
    assert prove_equivalent(a, c, "__default__").verdict is Verdict.FAIL
    d = env(
        "    EMADynamicSampler: {GoalSampleRate: 5, FieldList: [a], AdjustmentInterval: 1m0s}\n"
    )
    e = env("    EMADynamicSampler: {GoalSampleRate: 5, FieldList: [a], AdjustmentInterval: 60s}\n")
    assert prove_equivalent(d, e, "__default__").verdict is Verdict.PASS


def test_undecided_conditions_give_unknown_after_a_seeded_search() -> None:
    original = read_rules_text(
        HEAD + "        - Name: odd\n          SampleRate: 1\n          Conditions:\n"
        "            - {Field: status, Operator: '>', Value: abc, Datatype: int}\n"
        "            - {Field: http.route, Operator: matches, Value: '^/api/v[0-9]+'}\n"
        "        - Name: api\n          SampleRate: 2\n          Conditions:\n"
        "            - {Field: http.route, Operator: contains, Value: api}\n"
    ).rules_file
    imported, _ = _imported(original)
    proof = prove_equivalent(original, imported, "__default__", seed=7)
    assert proof.verdict is Verdict.UNKNOWN
    assert proof.summary.endswith("random search with seed 7 found no difference in 2000 traces")


@pytest.mark.usefixtures("realdata")
def test_replay_equality_names_the_traces_decided_differently() -> None:
    from pytest_nectar.corpus import load_corpus

    corpus = load_corpus([str(REALDATA / "otlp" / "oteltui-test_data.json")])
    rules = "        - Name: slow\n          SampleRate: 1\n          Conditions:\n"
    rules += "            - {Field: duration_ms, Operator: '>', Value: 500, Datatype: float}\n"
    original = read_rules_text(HEAD + rules + "        - Name: rest\n          SampleRate: 10\n")
    changed = read_rules_text(HEAD + rules + "        - Name: rest\n          SampleRate: 20\n")
    checked, same = corpus_differences(
        original.rules_file, original.rules_file, "__default__", corpus
    )
    assert (checked, same) == (corpus.n_traces, [])
    checked, differ = corpus_differences(
        original.rules_file, changed.rules_file, "__default__", corpus
    )
    assert checked == corpus.n_traces and differ
    left = Evaluator(original.rules_file)
    for trace_id, a, b in differ:
        assert (a.rule_name, a.rate, b.rule_name, b.rate) == ("rest", 10, "rest", 20)
        index = corpus.trace_ids.index(trace_id)
        assert left.decide(corpus.trace(index)) == a  # the reference evaluator agrees


def test_renamed_rules_are_compared_under_their_original_names() -> None:
    original = read_rules_text(
        HEAD + "        - Name: ''\n          SampleRate: 3\n          Conditions:\n"
        "            - {Field: a, Operator: exists}\n"
        "        - Name: rule-1\n          SampleRate: 5\n          Conditions:\n"
        "            - {Field: b, Operator: exists}\n"
    ).rules_file
    imported, renamed = _imported(original)
    assert renamed["__default__"] == {"rule-1": "", "rule-1 (2)": "rule-1"}
    proof = prove_equivalent(original, imported, "__default__", renamed=renamed["__default__"])
    assert proof.verdict is Verdict.PASS, proof
    swapped = {"rule-1": "rule-1", "rule-1 (2)": ""}  # a wrong map is caught
    wrong = prove_equivalent(original, imported, "__default__", renamed=swapped)
    assert wrong.verdict is Verdict.FAIL
