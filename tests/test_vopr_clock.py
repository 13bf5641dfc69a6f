from __future__ import annotations

import numpy as np
import pytest

from pytest_nectar.vopr.clock import DAY, HOUR, RateCurve, RateProcess, Timeline, VirtualClock
from pytest_nectar.vopr.rng import RngFamily


def test_virtual_clock_only_moves_forward() -> None:
    clock = VirtualClock(10.0)
    assert clock.advance(5) == 15.0
    assert clock.advance_to(20.0) == 20.0
    with pytest.raises(ValueError):
        clock.advance_to(19.0)


def test_timeline_compression() -> None:
    year = Timeline.over(365 * DAY, step_seconds=DAY, active_seconds=60.0)
    assert year.steps == 365
    assert year.duration == 365 * DAY
    assert year.traffic_seconds == 365 * 60.0
    assert year.compression == 1440.0
    assert year.window(3) == (3 * DAY, 3 * DAY + 60.0)
    assert year.step_at(3 * DAY + 10) == 3
    assert list(Timeline(3, 2.0, first_step=5).step_indices()) == [5, 6, 7]
    with pytest.raises(ValueError):
        Timeline(3, 1.0, active_seconds=2.0)


def test_cycles_shape_the_rate() -> None:
    curve = RateCurve(RateProcess(base=100.0, burst_probability=0.0), RngFamily("c", 1))
    peak = curve.rate_at(14 * HOUR)  # Monday 14:00
    trough = curve.rate_at(2 * HOUR)
    weekend = curve.rate_at(5 * DAY + 14 * HOUR)
    assert peak == pytest.approx(150.0)
    assert trough == pytest.approx(50.0)
    assert weekend == pytest.approx(90.0)


def test_vector_and_scalar_rates_agree() -> None:
    curve = RateCurve(RateProcess(burst_probability=0.3), RngFamily("c", 7))
    t = np.linspace(0.0, 3 * DAY, 1000)
    assert np.allclose(curve.rate(t), [curve.rate_at(x) for x in t.tolist()])


def test_bursts_are_a_function_of_the_seed() -> None:
    process = RateProcess(burst_probability=0.5)
    a = RateCurve(process, RngFamily("c", 1))
    b = RateCurve(process, RngFamily("c", 1))
    c = RateCurve(process, RngFamily("c", 2))
    slots = range(200)
    bursts_a = [a.burst(s) for s in slots]
    assert bursts_a == [b.burst(s) for s in reversed(slots)][::-1]  # order does not matter
    assert bursts_a != [c.burst(s) for s in slots]
    found = [x for x in bursts_a if x is not None]
    assert 60 < len(found) < 140
    for burst in found:
        assert 60.0 <= burst.end - burst.start <= 900.0 and 2.0 <= burst.multiplier <= 8.0
        inside = (burst.start + burst.end) / 2
        assert a.rate_at(inside) == pytest.approx(
            float(process.cycle(np.array([inside]))[0]) * burst.multiplier
        )


def test_arrivals_follow_the_rate() -> None:
    curve = RateCurve(RateProcess(base=20.0, burst_probability=0.0), RngFamily("c", 3))
    family = RngFamily("c", 3)
    times = curve.arrivals(0.0, DAY, family.generator(0))
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < DAY
    assert len(times) == pytest.approx(curve.expected(0.0, DAY), rel=0.02)
    afternoon = np.sum((times >= 12 * HOUR) & (times < 16 * HOUR))
    night = np.sum(times < 4 * HOUR)
    assert afternoon > 2 * night
    short = curve.arrivals(100.0, 101.0, family.generator(1))
    assert np.all((short >= 100.0) & (short < 101.0))
