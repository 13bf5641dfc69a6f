"""Every case of Refinery's transcribed tests (../shared/refinery-cases) is reproduced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_reader import rules_from_data
from pytest_nectar.trace import GoInt, Span, Trace
from tests.realdata import case_params, load_cases

CASES = load_cases()  # read in place; [] when absent (the realdata fixture then skips)


def case_trace(case: dict[str, Any]) -> Trace:
    spans = []
    for s in case["spans"]:
        data = dict(s["data"])
        for key, gotype in (s.get("go_types") or {}).items():
            assert gotype == "int"
            data[key] = GoInt(data[key])
        spans.append(Span(data, s["root"]))
    return Trace(case.get("trace_id", ""), tuple(spans))


def case_rules(case: dict[str, Any]) -> Any:
    sampler = {"Rules": case["rules"], "CheckNestedFields": case["check_nested_fields"]}
    return rules_from_data(
        {"RulesVersion": 2, "Samplers": {"__default__": {"RulesBasedSampler": sampler}}}
    ).rules_file


def test_all_cases_are_here(realdata: Path) -> None:
    assert len(CASES) == 64
    assert len({c["name"] for c in CASES}) == 64


@pytest.mark.parametrize("case", case_params())
def test_given_case(case: dict[str, Any], realdata: Path) -> None:
    decision = Evaluator(case_rules(case)).decide(case_trace(case))
    expected = case["expected"]
    assert decision.rate == expected["rate"]
    assert decision.keep is expected["keep"]
    assert decision.reason == expected["reason"]
    assert expected["reason_contains"] in decision.reason
    assert decision.key == expected["key"]
    if expected["keep"] is None:
        assert decision.keep_probability == pytest.approx(1 / expected["rate"])
    if "condition_matches" in expected:
        assert (decision.rule_index is not None) is expected["condition_matches"]
