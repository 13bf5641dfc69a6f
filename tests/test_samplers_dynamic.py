"""AvgSampleRate, EMASampleRate and EMAThroughput on the virtual clock.

Numbers marked "dynsampler-go" are transcribed from its *_test.go at v0.6.4 (78025e5).
"""

from __future__ import annotations

import math

import pytest

from pytest_nectar.refinery.samplers.dynamic import (
    AvgSampleRate,
    EMAParams,
    EMASampleRate,
    EMAThroughput,
)

S = 1_000_000_000

# dynsampler-go TestAvgSampleUpdateMaps / TestEMASampleUpdateMaps (goal rate 20).
UPDATE_MAPS = [
    (
        dict(
            one=1, two=1, three=2, four=5, five=8, six=15, seven=45, eight=612, nine=2000, ten=10000
        ),
        dict(one=1, two=1, three=1, four=1, five=1, six=1, seven=1, eight=6, nine=14, ten=47),
    ),
    (
        dict(one=1, two=1, three=2, four=5, five=8, six=15, seven=45, eight=50, nine=60),
        dict(one=1, two=1, three=2, four=5, five=8, six=11, seven=24, eight=26, nine=30),
    ),
    (dict(one=1, two=1, three=2, four=5, five=7), dict(one=1, two=1, three=2, four=5, five=7)),
    (
        dict(one=1000, two=1000, three=2000, four=5000, five=7000),
        dict(one=7, two=7, three=13, four=29, five=39),
    ),
    (
        dict.fromkeys(["one", "two", "three", "four", "five"], 6000),
        dict.fromkeys(["one", "two", "three", "four", "five"], 20),
    ),
    ({"one": 12000}, {"one": 20}),
    ({}, {}),
    (
        {"one": 10, **dict.fromkeys([f"k{i:02d}" for i in range(19)], 1)},
        {"one": 7, **dict.fromkeys([f"k{i:02d}" for i in range(19)], 1)},
    ),
]


@pytest.mark.parametrize(("counts", "expected"), UPDATE_MAPS)
def test_avg_sample_rate_update_maps(counts: dict[str, int], expected: dict[str, int]) -> None:
    sampler = AvgSampleRate(20, 30 * S, 0)
    for key, count in counts.items():
        assert sampler.get_sample_rate_multi(key, count, 1.0) == 20  # goal rate before data
    sampler.advance(30.0)
    assert sampler.saved_sample_rates == expected
    assert sampler.current_counts == {}


def test_avg_sample_rate_startup_and_intervals() -> None:
    sampler = AvgSampleRate(0, 0, 500)  # 0 -> goal 10, clear 30s
    assert sampler.goal_sample_rate == 10
    assert sampler.interval_ns == 30 * S
    assert sampler.get_sample_rate_multi("key", 1, 0.0) == 10
    assert sampler.current_counts == {"key": 1.0}
    # Ticks at 30s: one key with count 1 -> log sum 0 -> ratio +Inf -> rate 1.
    assert sampler.get_sample_rate_multi("key", 1, 30.0) == 1
    assert sampler.get_sample_rate_multi("other", 1, 31.0) == 1  # unknown key after data
    # Tick at 60s had data (2 counts). A silent interval then clears the map, and haveData
    # stays set: every key gets 1, never the goal rate again.
    sampler.advance(90.0)
    assert sampler.saved_sample_rates == {}
    assert sampler.get_sample_rate_multi("key", 1, 95.0) == 1


def test_avg_sample_rate_silence_before_data_keeps_goal_rate() -> None:
    sampler = AvgSampleRate(7, 10 * S, 0)
    sampler.advance(1000.0)
    assert sampler.get_sample_rate_multi("k", 3, 1000.5) == 7


def test_avg_sample_rate_max_keys() -> None:
    # dynsampler-go TestAvgSampleRateMaxKeys.
    sampler = AvgSampleRate(10, 30 * S, 3)
    for key in ("one", "two", "three", "four", "one"):
        sampler.get_sample_rate_multi(key, 1, 0.0)
    assert sampler.current_counts == {"one": 2.0, "two": 1.0, "three": 1.0}


def test_avg_sample_rate_counts_spans_per_trace() -> None:
    sampler = AvgSampleRate(20, 30 * S, 0)
    sampler.get_sample_rate_multi("eight", 600, 0.0)
    sampler.get_sample_rate_multi("eight", 12, 1.0)
    sampler.get_sample_rate_multi("one", 1, 2.0)
    sampler.advance(30.0)
    # 613 events; goal count 30.65 over log sum log10(612) + 0.
    ratio = (613 / 20) / math.log10(612)
    assert sampler.saved_sample_rates == {
        "eight": math.ceil(612 / (math.log10(612) * ratio)),
        "one": 1,
    }


def _ema(**kw: float) -> EMAParams:
    return EMAParams(**kw)  # type: ignore[arg-type]


def test_ema_defaults() -> None:
    e = EMASampleRate(0, EMAParams())
    assert (e.goal_sample_rate, e.interval_ns, e.weight, e.age_out_value) == (10, 15 * S, 0.5, 0.5)
    assert (e.burst_multiple, e.burst_detection_delay, e.max_keys) == (2.0, 3, 0)
    assert EMASampleRate(5, EMAParams(weight=0.2)).age_out_value == 0.2
    t = EMAThroughput(0, 0, EMAParams())
    assert (t.goal_throughput_per_sec, t.initial_sample_rate) == (100, 10)
    assert t.get_sample_rate_multi("key", 1, 0.0) == 10
    assert t.current_counts == {"key": 1.0}


def test_update_ema_values() -> None:
    # dynsampler-go TestUpdateEMA: weight 0.2, age-out 0.2, rounded averages.
    rows = [
        (463, 93, 235, 47, 0, 0),
        (176, 109, 458, 129, 0, 0),
        (345, 156, 470, 197, 0, 0),
        (339, 193, 317, 221, 0, 0),
        (197, 194, 165, 210, 0, 0),
        (387, 232, 95, 187, 6960, 1392),
    ]
    e = EMASampleRate(20, EMAParams(weight=0.2, age_out_value=0.2, burst_multiple=-1))
    for i, (a, ea, b, eb, c, ec) in enumerate(rows):
        t = 15.0 * i + 1
        for key, value in (("a", a), ("b", b), ("c", c)):
            e.get_sample_rate_multi(key, value, t)
        e.advance(15.0 * (i + 1))
        assert round(e.moving_average.get("a", 0)) == ea
        assert round(e.moving_average.get("b", 0)) == eb
        assert round(e.moving_average.get("c", 0)) == ec


@pytest.mark.parametrize(("counts", "expected"), UPDATE_MAPS)
def test_ema_sample_rate_converges_to_avg_rates(
    counts: dict[str, int], expected: dict[str, int]
) -> None:
    # dynsampler-go TestEMASampleUpdateMaps: the same counts for 101 intervals.
    e = EMASampleRate(20, EMAParams(weight=0.2, age_out_value=0.2, burst_multiple=-1))
    for i in range(101):
        for key, count in counts.items():
            e.get_sample_rate_multi(key, count, 15.0 * i)
    e.advance(15.0 * 101)
    assert e.saved_sample_rates == expected


@pytest.mark.parametrize(
    ("sampler", "largest", "expected"),
    [
        (EMASampleRate(20, EMAParams(weight=0.2, age_out_value=0.2, burst_multiple=-1)), 20, 16),
        (
            EMAThroughput(10, 0, EMAParams(S, weight=0.2, age_out_value=0.2, burst_multiple=-1)),
            40,
            4,
        ),
    ],
)
def test_sparse_counts(sampler: EMASampleRate | EMAThroughput, largest: int, expected: int) -> None:
    # dynsampler-go Test{EMASample,EMAThroughputSample}UpdateMapsSparseCounts.
    interval = sampler.interval_ns / S
    for i in range(101):
        sampler.get_sample_rate_multi("largest_count", largest, interval * i)
        for j in range(5):
            sampler.get_sample_rate_multi(f"sporadic-{i:03d}-{j}", 1, interval * i)
    sampler.advance(interval * 101)
    assert sampler.saved_sample_rates["largest_count"] == expected


def test_ema_ages_out_small_values_and_does_not_decay_in_silence() -> None:
    # dynsampler-go TestEMAAgesOutSmallValues, plus a silent stretch in between.
    e = EMASampleRate(20, EMAParams(weight=0.2, age_out_value=0.2, burst_multiple=-1))
    for i in range(100):
        e.get_sample_rate_multi("foo", 500, 15.0 * i)
    e.advance(1500.0)
    assert list(e.moving_average) == ["foo"]
    assert round(e.moving_average["foo"]) == 500
    before = dict(e.moving_average)
    e.advance(1500.0 + 86400.0)  # a silent day: nothing decays
    assert e.moving_average == before
    assert e.interval_count == 100 + 86400 // 15
    base = 1500.0 + 86400.0
    for i in range(100):
        e.get_sample_rate_multi("asdf", 1, base + 15.0 * i + 1)
    e.advance(base + 1500.0)
    assert "foo" not in e.moving_average
    assert "asdf" in e.moving_average


def test_burst_detection_transcribed() -> None:
    # dynsampler-go TestEMABurstDetection, with its "cheat" on the interval count.
    e = EMASampleRate(0, EMAParams(3600 * S))
    e.get_sample_rate_multi("foo", 1000, 0.0)
    e.advance(3600.0)
    assert e.burst_threshold == 1000.0  # 0.5 * 1000 * 2
    for _ in range(1001):
        e.get_sample_rate_multi("bar", 1, 3601.0)
    assert e.current_burst_sum == 1001.0  # interval count 1 < delay 3: no burst
    e.interval_count = e.burst_detection_delay
    e.get_sample_rate_multi("bar", 1, 3601.0)
    assert e.current_burst_sum == 0.0
    assert e.moving_average["bar"] == 501.0
    assert e.next_tick_ns == (3601 + 3600) * S  # the ticker restarted at the burst


def test_burst_on_the_clock_restarts_the_ticker() -> None:
    e = EMAThroughput(5, 0, EMAParams(10 * S))
    # EMA 50, 75, 87.5; thresholds 100, 150, 175; goal 5/s * 10s = 50 events per interval.
    # Rates: initial 10, then ceil(50/50) = 1, ceil(75/50) = 2.
    for i, expected in enumerate([10, 1, 2]):
        assert e.get_sample_rate_multi("a", 100, 10.0 * i + 1) == expected
    e.advance(30.0)
    assert (e.moving_average["a"], e.burst_threshold, e.interval_count) == (87.5, 175.0, 3)
    # 200 >= 175 after 3 intervals: a burst.  The call returns the rate from before it.
    assert e.saved_sample_rates == {"a": 2}
    assert e.get_sample_rate_multi("a", 200, 31.0) == 2
    assert e.moving_average["a"] == 143.75
    assert e.burst_threshold == 287.5
    assert e.interval_count == 3  # bursts do not count intervals
    assert e.next_tick_ns == 41 * S
    e.get_sample_rate_multi("a", 1, 40.5)  # no tick at 40 any more
    assert e.moving_average["a"] == 143.75
    e.advance(41.0)
    assert e.moving_average["a"] == 72.375
    assert e.interval_count == 4
    # goal 5/s * 10s = 50 for one key: ratio 50/log10(72.375), rate ceil(72.375/50) = 2.
    assert e.saved_sample_rates == {"a": 2}


def test_negative_burst_multiple_disables_bursts() -> None:
    e = EMASampleRate(10, EMAParams(10 * S, burst_multiple=-1))
    for i in range(10):
        e.get_sample_rate_multi("a", 10**i, 10.0 * i + 1)
    assert e.burst_count == 0


def test_ema_max_keys_limits_counts_and_burst_sum() -> None:
    e = EMASampleRate(10, EMAParams(max_keys=2))
    for key in ("a", "b", "c", "a"):
        e.get_sample_rate_multi(key, 5, 0.0)
    assert e.current_counts == {"a": 10.0, "b": 5.0}
    assert e.current_burst_sum == 15.0


def test_ema_throughput_goal_count_uses_interval_seconds() -> None:
    e = EMAThroughput(2, 0, EMAParams(1500 * 1_000_000))  # 1.5s: goal count 3
    e.get_sample_rate_multi("k", 600, 0.0)
    e.advance(1.5)
    # EMA 300; one key: goal 3, rate ceil(300/3) = 100.
    assert e.saved_sample_rates == {"k": 100}
    e.set_goal_throughput_per_sec(0)  # ignored
    assert e.goal_throughput_per_sec == 2


def test_ema_throughput_rejects_sub_millisecond_interval() -> None:
    with pytest.raises(ValueError, match="unreasonably short"):
        EMAThroughput(10, 0, EMAParams(999_999))


def test_time_cannot_go_backwards() -> None:
    e = EMASampleRate(10, EMAParams())
    e.advance(5.0)
    with pytest.raises(ValueError, match="backwards"):
        e.get_sample_rate_multi("k", 1, 4.0)
