"""The reference evaluator on the traps of refinery-semantics.md section 14."""

# ruff: noqa: E501  (verbatim messages and inline rules files)
from __future__ import annotations

import math
from typing import Any

import pytest

from pytest_nectar.errors import RulesError
from pytest_nectar.refinery.reference import Decision, Evaluator, decide
from pytest_nectar.refinery.rules_model import RulesFile, select_sampler
from pytest_nectar.refinery.rules_reader import read_rules_text, rules_from_data
from pytest_nectar.trace import Span, Trace


def rules(*rule: dict[str, Any], nested: bool = False) -> RulesFile:
    sampler = {"Rules": list(rule), "CheckNestedFields": nested}
    return rules_from_data(
        {"RulesVersion": 2, "Samplers": {"__default__": {"RulesBasedSampler": sampler}}}
    ).rules_file


def trace(*spans: dict[str, Any], root: int | None = None, trace_id: str = "t") -> Trace:
    return Trace(trace_id, tuple(Span(d, i == root) for i, d in enumerate(spans)))


def one(
    cond: dict[str, Any],
    *spans: dict[str, Any],
    root: int | None = None,
    scope: str = "trace",
    nested: bool = False,
) -> bool:
    r = rules({"Name": "r", "SampleRate": 1, "Scope": scope, "Conditions": [cond]}, nested=nested)
    return decide(r, trace(*spans, root=root)).rule_name == "r"


def test_rule_without_sample_rate_drops() -> None:
    d = decide(rules({"Name": "r"}), trace({"a": 1}))
    assert d == Decision(0, "r", 0, False, 0.0, "rules/trace/r", "")


def test_no_rule_matched_keeps_at_rate_1() -> None:
    assert decide(rules(), trace({})) == Decision(None, None, 1, True, 1.0, "no rule matched", "")


def test_sample_rate_is_a_probability_and_drop_wins() -> None:
    d = decide(rules({"Name": "r", "SampleRate": 4}), trace({}))
    assert (d.rate, d.keep, d.keep_probability) == (4, None, 0.25)
    d = decide(rules({"Name": "r", "SampleRate": 4, "Drop": True}), trace({}))
    assert (d.rate, d.keep) == (4, False)
    d = decide(rules({"Name": "r", "SampleRate": -1}), trace({}))
    assert (d.rate, d.keep) == (2**64 - 1, False)


def test_invalid_scope_always_matches() -> None:
    d = decide(
        rules(
            {
                "Name": "r",
                "SampleRate": 1,
                "Scope": "both",
                "Conditions": [{"Field": "x", "Operator": "exists"}],
            }
        ),
        trace({}),
    )
    assert d.reason == "rules/invalid scope/r"


def test_untyped_string_vs_number() -> None:
    assert not one({"Field": "s", "Operator": "=", "Value": 500}, {"s": "500"})
    assert not one({"Field": "s", "Operator": "!=", "Value": 500}, {"s": "500"})
    assert one({"Field": "s", "Operator": "=", "Value": 500}, {"s": 500.0})
    assert one({"Field": "s", "Operator": "=", "Value": 500, "Datatype": "int"}, {"s": "500"})


def test_missing_field_string_vs_untyped() -> None:
    assert one({"Field": "f", "Operator": "!=", "Value": "x", "Datatype": "string"}, {})
    assert not one({"Field": "f", "Operator": "!=", "Value": "x"}, {})
    assert one({"Field": "f", "Operator": "does-not-contain", "Value": "x"}, {})
    assert one({"Field": "f", "Operator": "not-in", "Value": ["x"]}, {})
    assert one({"Field": "f", "Operator": "starts-with", "Value": "<"}, {})
    assert one({"Field": "f", "Operator": "matches", "Value": ".*"}, {})
    assert not one({"Field": "f", "Operator": "!=", "Value": 1, "Datatype": "int"}, {})


def test_null_field_exists_and_is_less() -> None:
    assert one({"Field": "f", "Operator": "<", "Value": 5}, {"f": None})
    assert one({"Field": "f", "Operator": "exists"}, {"f": None})
    assert one({"Field": "f", "Operator": ">"}, {"f": 1})


def test_nan_is_equal_untyped() -> None:
    assert one({"Field": "f", "Operator": "=", "Value": 5}, {"f": math.nan})
    assert not one(
        {"Field": "f", "Operator": "=", "Value": 5, "Datatype": "float"}, {"f": math.nan}
    )


def test_trace_scope_vs_span_scope() -> None:
    c1 = {"Field": "a", "Operator": "=", "Value": 1}
    c2 = {"Field": "b", "Operator": "=", "Value": 2}
    t = trace({"a": 1}, {"b": 2})
    assert decide(rules({"Name": "r", "SampleRate": 1, "Conditions": [c1, c2]}), t).rule_name == "r"
    assert (
        decide(
            rules({"Name": "r", "SampleRate": 1, "Scope": "span", "Conditions": [c1, c2]}), t
        ).rule_name
        is None
    )


def test_fields_first_present_wins_and_root() -> None:
    cond = {"Fields": ["a", "b"], "Operator": "=", "Value": 2}
    assert not one(cond, {"a": 1, "b": 2})
    assert one(cond, {"b": 2})
    assert one({"Field": "root.x", "Operator": "not-exists"}, {"x": 1})  # no root: skipped
    assert not one({"Field": "root.x", "Operator": "not-exists"}, {"x": 1}, root=0)
    assert one(
        {"Field": "root.x", "Operator": "=", "Value": 1, "Datatype": "int"},
        {"y": 0},
        {"x": 1},
        root=1,
        scope="span",
    )


def test_has_root_span() -> None:
    cond = {"Operator": "has-root-span", "Value": True}
    assert one(cond, {}, root=0)
    assert not one(cond, {})
    assert not one(cond, {}, root=0, scope="span")
    assert one({"Operator": "has-root-span"}, {})  # omitted Value is false


def test_num_descendants() -> None:
    cond = {"Field": "?.NUM_DESCENDANTS", "Operator": ">", "Value": 2, "Datatype": "int"}
    assert one(cond, {}, {}, {})
    assert not one(cond, {}, {})
    assert not one({"Fields": ["?.NUM_DESCENDANTS"], "Operator": "exists"}, {}, {}, {})


def test_nested_fields() -> None:
    data = {"a": {"b": 5, "c": [1, {"d": 2.5}], "n": None}}
    assert one({"Field": "a.b", "Operator": "=", "Value": "5"}, data, nested=True)
    assert not one({"Field": "a.b", "Operator": "=", "Value": 5}, data, nested=True)
    assert one({"Field": "a.c.1.d", "Operator": "=", "Value": "2.5"}, data, nested=True)
    assert one({"Field": "a.n", "Operator": "=", "Value": ""}, data, nested=True)
    assert one({"Field": "a.c", "Operator": "=", "Value": '[1,{"d":2.5}]'}, data, nested=True)
    assert not one({"Field": "a.b", "Operator": "exists"}, data)
    assert not one({"Field": "a.b", "Operator": "exists"}, {**data, "bad": math.inf}, nested=True)


def test_meta_fields_exist_only_when_set() -> None:
    assert not one({"Field": "meta.signal_type", "Operator": "exists"}, {"meta.signal_type": ""})
    assert not one({"Field": "meta.span_count", "Operator": "exists"}, {"meta.span_count": 2.0})
    assert one(
        {"Field": "meta.refinery.root", "Operator": "=", "Value": False},
        {"meta.refinery.root": False},
    )


def test_init_errors_fall_back() -> None:
    # Datatype int with a non-numeric Value: untyped compare.
    assert one({"Field": "f", "Operator": "=", "Value": "abc", "Datatype": "int"}, {"f": "abc"})
    # bool with '<': untyped compare (false < true).
    assert one({"Field": "f", "Operator": "<", "Value": True, "Datatype": "bool"}, {"f": False})
    # in with Datatype bool, invalid regex, missing operator: never match.
    assert not one(
        {"Field": "f", "Operator": "not-in", "Value": ["x"], "Datatype": "bool"}, {"f": "y"}
    )
    assert not one({"Field": "f", "Operator": "matches", "Value": "[a-z+"}, {"f": "[a-z+"})
    assert not one({"Field": "f", "Value": 1}, {"f": 1})


def test_deterministic_top_level_and_downstream() -> None:
    text = "RulesVersion: 2\nSamplers:\n  __default__:\n    DeterministicSampler:\n      SampleRate: 10\n  zero:\n    DeterministicSampler:\n      SampleRate: 0\n"
    rf = read_rules_text(text, "r.yaml").rules_file
    assert decide(rf, trace(trace_id="def456")) == Decision(
        None, None, 10, True, 1.0, "deterministic/chance", ""
    )
    assert decide(rf, trace(trace_id="abc123")).keep is False
    assert decide(rf, trace(), env="other").reason == "deterministic/chance"
    with pytest.raises(RulesError, match="panic"):
        decide(rf, trace(), env="zero")
    r = rules({"Name": "d", "Sampler": {"DeterministicSampler": {"SampleRate": 10}}})
    assert decide(r, trace(trace_id="")) == Decision(
        0, "d", 10, False, 0.0, "rules/trace/d:deterministic/chance", ""
    )


def test_downstream_first_call_rates_and_key() -> None:
    span = {"service.name": "svc", "status": 200.0}
    root_span = {"route": "/x", "status": 500}
    for sampler, rate, reason in [
        ({"EMADynamicSampler": {"GoalSampleRate": 0, "FieldList": ["status"]}}, 10, "emadynamic"),
        (
            {"EMAThroughputSampler": {"GoalThroughputPerSec": 5, "FieldList": ["status"]}},
            10,
            "emathroughput",
        ),
        (
            {"WindowedThroughputSampler": {"GoalThroughputPerSec": 5, "FieldList": ["status"]}},
            1,
            "windowedthroughput",
        ),
        (
            {"TotalThroughputSampler": {"GoalThroughputPerSec": 5, "FieldList": ["status"]}},
            1,
            "totalthroughput",
        ),
    ]:
        d = decide(rules({"Name": "n", "Sampler": sampler}), trace(span, root_span, root=1))
        assert (d.rate, d.reason) == (rate, f"rules/trace/n:{reason}")
        assert d.keep is (True if rate == 1 else None)
        assert d.key == "200\u2022500\u2022,"
    r = rules(
        {
            "Name": "n",
            "Sampler": {
                "DynamicSampler": {
                    "SampleRate": 3,
                    "FieldList": ["root.route", "service.name"],
                    "UseTraceLength": True,
                }
            },
        }
    )
    assert decide(r, trace(span, root_span, root=1)).key == "svc\u2022,/x,2"


def test_select_sampler_order_and_missing_default() -> None:
    text = "RulesVersion: 2\nSamplers:\n  __default__:\n    EMAThroughputSampler: {GoalThroughputPerSec: 1, FieldList: [a]}\n    DeterministicSampler: {SampleRate: 3}\n"
    rf = read_rules_text(text, "r.yaml").rules_file
    name, config = select_sampler(rf, "prod")
    assert (name, config.KIND) == ("__default__", "DeterministicSampler")
    with pytest.raises(RulesError, match="no sampler"):
        Evaluator(RulesFile(2, {}))


def test_stateful_evaluator_shares_identical_downstream_samplers() -> None:
    sampler = {"DynamicSampler": {"SampleRate": 10, "FieldList": ["service.name"]}}
    r = rules(
        {
            "Name": "a",
            "Conditions": [{"Field": "k", "Operator": "=", "Value": 1}],
            "Sampler": sampler,
        },
        {
            "Name": "b",
            "Conditions": [{"Field": "k", "Operator": "=", "Value": 2}],
            "Sampler": sampler,
        },
    )
    ev = Evaluator(r, stateful=True)
    first = ev.decide(trace({"k": 1, "service.name": "s"}), now=0.0)
    second = ev.decide(trace({"k": 2, "service.name": "s"}), now=1.0)
    assert (first.rate, first.reason) == (10, "rules/trace/a:dynamic")
    assert (second.rate, second.reason, second.key) == (10, "rules/trace/b:dynamic", "s\u2022,")
    # After ClearFrequency (30s) the shared sampler has data: the only key gets its own rate.
    later = ev.decide(trace({"k": 1, "service.name": "s"}), now=31.0)
    assert later.reason == "rules/trace/a:dynamic" and later.rate >= 1
