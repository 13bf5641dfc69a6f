"""``calculateSampleRates`` and the Go float helpers it needs."""

from __future__ import annotations

import math

import pytest

from pytest_nectar.refinery.samplers.rates import (
    calculate_sample_rates,
    go_div,
    go_float_to_int,
    go_log10,
    go_max,
    go_seconds,
    go_trunc_div,
    sort_go,
)


def test_go_max_propagates_nan_unlike_python() -> None:
    assert max(1.0, math.nan) == 1.0  # the Python pitfall
    assert math.isnan(go_max(1.0, math.nan))
    assert math.isnan(go_max(math.nan, 1.0))
    assert go_max(math.nan, math.inf) == math.inf
    assert go_max(1.0, 2.0) == 2.0
    assert math.copysign(1.0, go_max(-0.0, 0.0)) == 1.0
    assert math.copysign(1.0, go_max(0.0, -0.0)) == 1.0


def test_go_division_and_log() -> None:
    assert go_div(1.0, 0.0) == math.inf
    assert go_div(-1.0, 0.0) == -math.inf
    assert go_div(1.0, -0.0) == -math.inf
    assert math.isnan(go_div(0.0, 0.0))
    assert go_log10(0.0) == -math.inf
    assert math.isnan(go_log10(-1.0))
    assert go_log10(1000.0) == 3.0
    assert go_trunc_div(-7, 2) == -3
    assert go_trunc_div(7, -2) == -3
    assert go_trunc_div(7, 2) == 3
    assert go_seconds(1_500_000_000) == 1.5
    assert go_seconds(-1_500_000_000) == -1.5
    assert go_float_to_int(2.9) == 2
    assert go_float_to_int(-2.9) == -2
    assert go_float_to_int(math.nan) == -(1 << 63)


def test_sort_is_bytewise() -> None:
    assert sort_go(["b", "a•", "ab", "a"]) == ["a", "ab", "a•", "b"]


def test_hand_computed_rates() -> None:
    # ratio 10: a goal log10(100)*10 = 20, rate ceil(100/20) = 5, no extra; b goal 10, rate 1.
    assert calculate_sample_rates(10.0, {"a": 100.0, "b": 10.0}) == {"a": 5, "b": 1}
    # a (5 <= log10(5)*10 = 6.99) keeps all and passes 1.99 on: b's goal 30 + 1.99 -> 32.
    assert calculate_sample_rates(10.0, {"a": 5.0, "b": 1000.0}) == {"a": 1, "b": 32}
    # Without a, b alone: ceil(1000/30) = 34.
    assert calculate_sample_rates(10.0, {"b": 1000.0}) == {"b": 34}


def test_counts_below_one_count_as_one() -> None:
    # count max(1, 0.2) = 1: goal max(1, 0*r) = 1, so rate 1.
    assert calculate_sample_rates(5.0, {"x": 0.2}) == {"x": 1}


@pytest.mark.parametrize("ratio", [math.inf, math.nan, -math.inf])
def test_non_finite_goal_ratio_gives_rate_one_everywhere(ratio: float) -> None:
    buckets = {"a": 1.0, "b": 5.0, "c": 100.0, "d": 1e6}
    assert calculate_sample_rates(ratio, buckets) == dict.fromkeys(buckets, 1)


def test_empty_buckets() -> None:
    assert calculate_sample_rates(math.nan, {}) == {}
