"""The vectorised evaluator gives the reference evaluator's decision for every trace."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.corpus import load_corpus
from pytest_nectar.errors import NectarError
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_model import (
    OPERATORS,
    Condition,
    DeterministicSamplerConfig,
    EMADynamicSamplerConfig,
    EMAThroughputSamplerConfig,
    Rule,
    RulesBasedSamplerConfig,
    RulesFile,
    SamplerEntry,
    TotalThroughputSamplerConfig,
    WindowedThroughputSamplerConfig,
)
from pytest_nectar.refinery.rules_reader import read_rules
from pytest_nectar.refinery.vector import evaluate_corpus, explain_match, rule_matches
from pytest_nectar.trace import GoInt, Span, Trace

from .realdata import ABSENT, REALDATA, case_params, corpus_names
from .test_refinery_cases import case_rules, case_trace
from .vector_support import corpus_from_traces

FIELDS = ["a", "b", "c", "x.y", "meta.signal_type", "meta.span_count", "meta.refinery.root"]
EDGE_INTS = [0, 1, -1, 3, 500, 503, 2**53 + 1, 2**63 - 1, -(2**63), 1000]
EDGE_FLOATS = [
    0.0,
    -0.0,
    1.0,
    2.5,
    3.9,
    -2.5,
    500.0,
    1e6,
    2.0**53 + 2,
    math.nan,
    math.inf,
    -math.inf,
]
EDGE_STRINGS = [
    "", "503", "500", " 3", "1e400", "0x10", "true", "t", "<nil>", "abc", "ab", "NaN", "nan",
    "1", "-0", "5e2", "+5", "/admin/x", "2e+06", "inf", "9.3", "10.3", "1_000", "0x1p-2",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(EDGE_INTS),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from(EDGE_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=4),
    st.booleans(),
)
span_values = st.one_of(
    scalars, st.none(), st.just([1, "a"]), st.just({"y": 2.0, "k": "v"}), st.just({"y": [3]})
)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    names = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=5))
    return Span({n: draw(span_values) for n in names}, draw(st.booleans()))


traces = st.lists(spans(), min_size=1, max_size=5).map(lambda s: Trace("", tuple(s)))


def _field_name(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from([*FIELDS, "zz", "x", "a\\.b", "x.y.z"]))
    return ("root." + base) if draw(st.integers(0, 3)) == 0 else base


@st.composite
def conditions(draw: st.DrawFn) -> Condition:
    op = draw(st.one_of(st.sampled_from(OPERATORS), st.sampled_from([None, "bogus"])))
    shape = draw(st.integers(0, 9))
    field = fields = None
    if shape == 0:
        field = "?.NUM_DESCENDANTS"
    elif shape == 1:
        fields = ("?.NUM_DESCENDANTS",)
    elif shape <= 5:
        field = _field_name(draw)
    else:
        fields = tuple(_field_name(draw) for _ in range(draw(st.integers(1, 3))))
        if draw(st.integers(0, 9)) == 0:
            field = _field_name(draw)  # Field and Fields: an init error
    value: Any = draw(
        st.one_of(
            st.none(),
            scalars,
            st.lists(st.sampled_from([1, 3, 500, -1]), max_size=3).map(tuple),
            st.lists(st.sampled_from([2.5, 500.0, 0.0, math.nan]), max_size=3).map(tuple),
            st.lists(st.sampled_from(EDGE_STRINGS), max_size=3).map(tuple),
            st.just((1, "500")),
        )
    )
    datatype = draw(st.sampled_from([None, None, "string", "int", "float", "bool", "blah"]))
    return Condition(field=field, fields=fields, operator=op, value=value, datatype=datatype)


@st.composite
def rules(draw: st.DrawFn, index: int) -> Rule:
    sampler = None
    kind = draw(st.integers(0, 9))
    fl = tuple(draw(st.lists(st.sampled_from([*FIELDS, "root.a", "root.b"]), max_size=3)))
    if kind == 0:
        sampler = SamplerEntry((EMADynamicSamplerConfig(goal_sample_rate=5, field_list=fl),))
    elif kind == 1:
        sampler = SamplerEntry((DeterministicSamplerConfig(sample_rate=draw(st.integers(1, 4))),))
    elif kind == 2:
        sampler = SamplerEntry(
            (EMAThroughputSamplerConfig(goal_throughput_per_sec=3, field_list=fl),)
        )
    elif kind == 3:
        sampler = SamplerEntry(
            (
                WindowedThroughputSamplerConfig(
                    goal_throughput_per_sec=3, field_list=fl, use_trace_length=True
                ),
            )
        )
    conds = draw(st.one_of(st.none(), st.lists(conditions(), max_size=3).map(tuple)))
    return Rule(
        name=f"r{index}",
        drop=draw(st.sampled_from([None, False, True])),
        sample_rate=draw(st.sampled_from([None, 0, 1, 1, 3, -2])),
        sampler=sampler,
        scope=draw(st.sampled_from([None, "trace", "span", "span", "weird"])),
        conditions=conds,
    )


@st.composite
def rules_files(draw: st.DrawFn) -> RulesFile:
    n = draw(st.integers(1, 4))
    sampler = RulesBasedSamplerConfig(
        rules=tuple(draw(rules(i)) for i in range(n)),
        check_nested_fields=draw(st.sampled_from([None, False, True])),
    )
    return RulesFile(2, {"__default__": SamplerEntry((sampler,))})


def assert_same(rules_file: RulesFile, corpus: Any, env: str | None = None) -> None:
    evaluator = Evaluator(rules_file, env)
    try:
        wanted = [evaluator.decide(corpus.trace(i)) for i in range(corpus.n_traces)]
    except NectarError as err:  # Refinery would crash or refuse: the same error
        with pytest.raises(NectarError) as raised:
            evaluate_corpus(rules_file, corpus, env)
        assert str(raised.value) == str(err)
        return
    decisions = evaluate_corpus(rules_file, corpus, env)
    for i, expected in enumerate(wanted):
        got = decisions.decision(i)
        assert got == expected, f"trace {i} ({corpus.trace_ids[i]!r}): {got} != {expected}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules_files(), st.lists(traces, min_size=1, max_size=6))
def test_vectorised_equals_reference(rules_file: RulesFile, trace_list: list[Trace]) -> None:
    ids = [Trace(f"t{i}", t.spans) for i, t in enumerate(trace_list)]
    assert_same(rules_file, corpus_from_traces(ids))


@settings(max_examples=80, deadline=None)
@given(st.lists(conditions(), min_size=1, max_size=3), st.lists(traces, min_size=1, max_size=8))
def test_single_rule_matches_equal_reference(
    conds: list[Condition], trace_list: list[Trace]
) -> None:
    for scope in ("trace", "span"):
        rf = RulesFile(
            2,
            {
                "__default__": SamplerEntry(
                    (
                        RulesBasedSamplerConfig(
                            rules=(Rule("m", sample_rate=1, scope=scope, conditions=tuple(conds)),)
                        ),
                    )
                )
            },
        )
        corpus = corpus_from_traces(trace_list)
        (matched,) = rule_matches(rf, corpus)
        evaluator = Evaluator(rf)
        expected = [
            evaluator.decide(corpus.trace(i)).rule_index == 0 for i in range(len(trace_list))
        ]
        assert matched.tolist() == expected


def _plain(trace: Trace) -> Trace:
    # The corpus holds int64 only; no given case's outcome depends on a Go `int` span value.
    return Trace(
        trace.trace_id,
        tuple(
            Span({k: int(v) if isinstance(v, GoInt) else v for k, v in s.data.items()}, s.is_root)
            for s in trace.spans
        ),
    )


@pytest.mark.parametrize("case", case_params())
def test_given_case(case: dict[str, Any], realdata: Path) -> None:
    corpus = corpus_from_traces([_plain(case_trace(case))])
    got = evaluate_corpus(case_rules(case), corpus).decision(0)
    expected = case["expected"]
    assert (got.rate, got.keep, got.reason, got.key) == (
        expected["rate"],
        expected["keep"],
        expected["reason"],
        expected["key"],
    )


def _loadable_rules() -> list[Any]:
    if not REALDATA.is_dir():
        return [pytest.param(ABSENT, None, id=ABSENT)]
    out: list[Any] = []
    for path in sorted((REALDATA / "refinery-rules").glob("*")):
        if path.suffix not in (".yaml", ".yml", ".json", ".toml"):
            continue
        try:
            out.append((path.name, read_rules(str(path)).rules_file))
        except NectarError:
            continue
    return out


CORPORA = corpus_names()


@pytest.fixture(scope="module")
def all_corpora(realdata: Path) -> Any:
    return [load_corpus(realdata / name, cache=False) for name in CORPORA]


@pytest.mark.parametrize(
    "name,rules_file", _loadable_rules(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_real_corpora_and_rules(name: str, rules_file: RulesFile, all_corpora: Any) -> None:
    envs: list[str | None] = [None, *sorted(k for k in rules_file.samplers if k != "__default__")]
    for env in envs:
        for corpus in all_corpora:
            try:
                Evaluator(rules_file, env)
            except NectarError:
                with pytest.raises(NectarError):
                    evaluate_corpus(rules_file, corpus, env)
                continue
            assert_same(rules_file, corpus, env)


def test_real_rules_files_are_covered(realdata: Path) -> None:
    assert len(_loadable_rules()) >= 30
    assert len(CORPORA) == 18


def test_totals_and_weights() -> None:
    rf = RulesFile(
        2,
        {
            "__default__": SamplerEntry(
                (
                    RulesBasedSamplerConfig(
                        rules=(
                            Rule(
                                "errors",
                                sample_rate=1,
                                conditions=(Condition(field="error", operator="exists"),),
                            ),
                            Rule("rest", sample_rate=4),
                        )
                    ),
                )
            )
        },
    )
    traces_ = [
        Trace("e", (Span({"error": True}, True), Span({}))),
        Trace("o1", (Span({}, True),)),
        Trace("o2", (Span({}, True), Span({}), Span({}))),
    ]
    decisions = evaluate_corpus(rf, corpus_from_traces(traces_, weights=[1.0, 2.0, 10.0]))
    totals = decisions.rule_totals(corpus_from_traces(traces_, weights=[1.0, 2.0, 10.0]))
    assert [t.to_json() for t in totals] == [
        {
            "rule_index": 0, "rule": "errors", "traces": 1, "events": 2, "weighted_traces": 1.0,
            "weighted_events": 2.0, "expected_kept_traces": 1.0, "expected_kept_events": 2.0,
        },
        {
            "rule_index": 1, "rule": "rest", "traces": 2, "events": 4, "weighted_traces": 12.0,
            "weighted_events": 32.0, "expected_kept_traces": 3.0, "expected_kept_events": 8.0,
        },
    ]  # fmt: skip
    assert decisions.keep.tolist() == [1, -1, -1]
    assert decisions.reasons[decisions.reason_code[1]] == "rules/trace/rest"


def test_explain_match_names_the_satisfying_spans() -> None:
    rf = RulesFile(
        2,
        {
            "__default__": SamplerEntry(
                (
                    RulesBasedSamplerConfig(
                        rules=(
                            Rule(
                                "slow errors",
                                sample_rate=1,
                                conditions=(
                                    Condition(
                                        field="error", operator="=", value=True, datatype="bool"
                                    ),
                                    Condition(
                                        field="duration_ms",
                                        operator=">",
                                        value=100,
                                        datatype="float",
                                    ),
                                    Condition(operator="has-root-span", value=True),
                                ),
                            ),
                        )
                    ),
                )
            )
        },
    )
    trace = Trace(
        "t", (Span({"duration_ms": 5.0}, True), Span({"error": True}), Span({"duration_ms": 300.0}))
    )
    corpus = corpus_from_traces([Trace("x", (Span({}),)), trace])
    explained = explain_match(rf, corpus, 1)
    assert explained.decision.rule_name == "slow errors"
    assert [(w.condition_index, w.span_index, w.row, w.value) for w in explained.witnesses] == [
        (0, 1, 2, True),
        (1, 2, 3, 300.0),
        (2, 0, 1, True),
    ]
    assert explain_match(rf, corpus, 0).witnesses == ()


def test_big_dictionary_fast_path_is_exact() -> None:
    values = [f"v{i}" for i in range(5000)] + ["503", ""]
    trace_list = [Trace(str(i), (Span({"a": v}, True),)) for i, v in enumerate(values)]
    corpus = corpus_from_traces(trace_list)
    for op, value, dt in (
        ("=", "v7", "string"),
        ("!=", "503", None),
        ("in", ("v1", "", "zz"), None),
        ("not-in", ("v9",), "string"),
    ):
        rf = RulesFile(
            2,
            {
                "__default__": SamplerEntry(
                    (
                        RulesBasedSamplerConfig(
                            rules=(
                                Rule(
                                    "m",
                                    sample_rate=1,
                                    conditions=(
                                        Condition(field="a", operator=op, value=value, datatype=dt),
                                    ),
                                ),
                            )
                        ),
                    )
                )
            },
        )
        assert_same(rf, corpus)


def test_json_round_trip_of_decisions() -> None:
    rf = RulesFile(
        2,
        {
            "__default__": SamplerEntry(
                (TotalThroughputSamplerConfig(goal_throughput_per_sec=5, field_list=("a",)),)
            )
        },
    )
    corpus = corpus_from_traces([Trace("t", (Span({"a": 1.5}, True),))])
    d = evaluate_corpus(rf, corpus).decision(0)
    assert json.loads(json.dumps(d.to_json()))["key"] == "1.5•,"
    assert np.array_equal(evaluate_corpus(rf, corpus).rule_index, [-1])


def _decisions_equal(a: Any, b: Any) -> None:
    assert len(a) == len(b)
    for i in range(len(a)):
        assert a.decision(i) == b.decision(i)
    assert a.fallback.tolist() == b.fallback.tolist()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules_files(),
    st.lists(rules_files(), min_size=0, max_size=3),
    st.lists(traces, min_size=1, max_size=6),
)
def test_probes_evaluated_in_the_same_pass(
    rules_file: RulesFile, probes: list[RulesFile], trace_list: list[Trace]
) -> None:
    """Probe masks are each probe's rules OR-ed (as ``rule_matches``); decisions unchanged,
    in one thread and through the thread pool (forced on for this tiny corpus)."""
    from pytest_nectar.refinery import vector

    corpus = corpus_from_traces([Trace(f"t{i}", t.spans) for i, t in enumerate(trace_list)])
    try:
        expected = evaluate_corpus(rules_file, corpus)
    except NectarError as err:
        with pytest.raises(NectarError) as raised:
            vector.evaluate_with_probes(rules_file, corpus, probes=probes)
        assert str(raised.value) == str(err)
        return
    wanted = []
    for probe in probes:
        mask = np.zeros(corpus.n_traces, dtype=np.bool_)
        for matched in rule_matches(probe, corpus):
            mask |= matched
        wanted.append(mask.tolist())
    saved = vector._THREAD_ROWS
    try:
        for thread_rows in (saved, 0):
            vector._THREAD_ROWS = thread_rows  # type: ignore[misc]
            got = vector.evaluate_with_probes(rules_file, corpus, probes=probes)
            _decisions_equal(got.decisions, expected)
            assert [m.tolist() for m in got.probes] == wanted
    finally:
        vector._THREAD_ROWS = saved  # type: ignore[misc]


def test_identical_rules_share_work_but_not_arrays() -> None:
    cond = Condition("http.status_code", None, ">=", 500, "int")
    rf = RulesFile(
        2,
        {
            "__default__": SamplerEntry(
                (
                    RulesBasedSamplerConfig(
                        rules=(
                            Rule("a", sample_rate=1, conditions=(cond,)),
                            Rule("b", sample_rate=2, scope="trace", conditions=(cond,)),
                        )
                    ),
                )
            )
        },
    )
    spans = [Span({"http.status_code": s}, True) for s in (200, 503, 500)]
    corpus = corpus_from_traces([Trace(f"t{i}", (sp,)) for i, sp in enumerate(spans)])
    a, b = rule_matches(rf, corpus)
    assert a.tolist() == b.tolist() == [False, True, True]
    a[:] = False  # the caller's own array: the other rule's is untouched
    assert b.tolist() == [False, True, True]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.text(alphabet="ab/\u00e9\U0001f600", max_size=4), min_size=1, max_size=30),
    st.text(alphabet="ab/\u00e9\U0001f600", max_size=3),
)
def test_prefix_table_of_a_big_dictionary_equals_the_matcher(words: list[str], prefix: str) -> None:
    """starts-with over a big dictionary takes the bisection path (issue 19: 2,500 prefix
    rules over 5,000 routes were quadratic); it must say what the matcher says."""
    from pytest_nectar.corpus.table import StringPool
    from pytest_nectar.refinery.conditions import compile_condition
    from pytest_nectar.refinery.vector_conditions import string_table

    pool = StringPool.from_strings(
        list(dict.fromkeys([*words, *(f"{w}{i}" for w in words for i in range(70))]))
    )
    cc = compile_condition(Condition("f", "starts-with", prefix))
    expected = np.fromiter((cc.evaluate(s, True) for s in pool), dtype=np.bool_, count=len(pool))
    assert len(pool) > 64
    assert (string_table(pool, cc) == expected).all()
