"""Go float semantics and dynsampler-go's ``calculateSampleRates`` (shared by three samplers).

Python's ``max(1, nan)`` is 1 and ``x / 0.0`` raises; Go's ``math.Max`` propagates NaN and a
float division by zero gives ±Inf or NaN.  Those differences decide the rates when every count
is 1 (the log sum is 0), so the helpers here reproduce Go exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = [
    "calculate_sample_rates",
    "go_div",
    "go_float_to_int",
    "go_log10",
    "go_max",
    "go_seconds",
    "go_trunc_div",
    "sort_go",
]

_INT64_MIN = -(1 << 63)


def go_max(x: float, y: float) -> float:
    """Go ``math.Max``: NaN if either is NaN, +Inf wins, +0 beats -0."""
    if (math.isinf(x) and x > 0) or (math.isinf(y) and y > 0):
        return math.inf
    if math.isnan(x) or math.isnan(y):
        return math.nan
    if x == 0 and y == 0:
        return y if math.copysign(1.0, x) < 0 else x
    return x if x > y else y


def go_div(x: float, y: float) -> float:
    """Go float64 ``x / y``: division by zero gives ±Inf, or NaN for 0/0 and NaN/0."""
    if y != 0:
        return x / y
    if math.isnan(x) or x == 0:
        return math.nan
    negative = (math.copysign(1.0, x) < 0) != (math.copysign(1.0, y) < 0)
    return -math.inf if negative else math.inf


def go_log10(x: float) -> float:
    """Go ``math.Log10``: -Inf at 0, NaN below 0."""
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log10(x)


def go_trunc_div(a: int, b: int) -> int:
    """Go integer ``a / b``: truncates toward zero (Python's ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def go_seconds(ns: int) -> float:
    """Go ``Duration.Seconds()``: whole seconds plus the nanosecond remainder."""
    sec = go_trunc_div(ns, 1_000_000_000)
    return float(sec) + float(ns - sec * 1_000_000_000) / 1e9


def go_float_to_int(x: float) -> int:
    """Go ``int(x)`` on amd64: truncation; NaN, ±Inf and out-of-range give MinInt64."""
    if math.isnan(x) or math.isinf(x) or not (-(2.0**63) <= x < 2.0**63):
        return _INT64_MIN
    return int(x)


def sort_go(keys: Iterable[str]) -> list[str]:
    """Go ``sort.Strings``: byte order of the UTF-8 text.

    UTF-8 (surrogates included) orders bytes as it orders code points, and Python compares
    strings by code point: a plain sort is that order, without encoding every key."""
    return sorted(keys)


def calculate_sample_rates(goal_ratio: float, buckets: Mapping[str, float]) -> dict[str, int]:
    """dynsampler-go ``calculateSampleRates``: a log10 share of the goal per key.

    Keys go in sorted order; a key below its goal gets rate 1 and passes its unused share on
    to the keys after it.  A NaN rate (counts of 1 with an infinite goal ratio) becomes 1.
    """
    rates: dict[str, int] = {}
    remaining = len(buckets)
    extra = 0.0
    for key in sorted(buckets):  # sort_go's order
        count = buckets[key]
        if not count > 1.0:  # go_max(1.0, count) without the call on the common path
            count = go_max(1.0, count)
        # go_log10, go_max and go_div inlined on their common paths (count >= 1 or NaN;
        # remaining >= 1 inside the loop)
        goal = (math.log10(count) if count >= 1.0 else go_log10(count)) * goal_ratio
        if not goal > 1.0:
            goal = go_max(1.0, goal)
        share = extra / float(remaining)
        goal += share
        extra -= share
        remaining -= 1
        if count <= goal:
            rates[key] = 1
            extra += goal - count
            continue
        ratio = go_div(count, goal)
        if math.isnan(ratio):
            rates[key] = 1
        elif math.isinf(ratio):
            rates[key] = _INT64_MIN
        else:
            rates[key] = go_float_to_int(float(math.ceil(ratio)))
        extra += goal - go_div(count, float(rates[key]))
    return rates
