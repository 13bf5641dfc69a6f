"""build_sampler, parameters and defaults, sharing, cluster size, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nectar.errors import RulesError
from pytest_nectar.refinery.rules_model import EMAThroughputSamplerConfig
from pytest_nectar.refinery.samplers import (
    KINDS,
    EMASampleRate,
    EMAThroughput,
    SamplerPool,
    TotalThroughput,
    WindowedThroughput,
    build_sampler,
    parse_settings,
)
from pytest_nectar.refinery.samplers.settings import sharing_key
from pytest_nectar.trace import Span, Trace

S = 1_000_000_000


def _trace(n: int = 1, **fields: object) -> Trace:
    return Trace("t", tuple(Span(dict(fields)) for _ in range(n)))


def _build(kind: str, **params: object) -> object:
    return build_sampler(kind, params, destination="prod", downstream=False)


@pytest.mark.parametrize(
    ("kind", "params", "rate", "reason"),
    [
        ("DynamicSampler", {"SampleRate": 0}, 10, "dynamic"),
        ("DynamicSampler", {"SampleRate": 7}, 7, "dynamic"),
        ("EMADynamicSampler", {"GoalSampleRate": 0}, 10, "emadynamic"),
        ("EMAThroughputSampler", {"GoalThroughputPerSec": 5}, 10, "emathroughput"),
        (
            "EMAThroughputSampler",
            {"GoalThroughputPerSec": 5, "InitialSampleRate": 3},
            3,
            "emathroughput",
        ),
        ("WindowedThroughputSampler", {"GoalThroughputPerSec": 5}, 1, "windowedthroughput"),
        ("TotalThroughputSampler", {"GoalThroughputPerSec": 5}, 1, "totalthroughput"),
    ],
)
def test_first_call_rates(kind: str, params: dict[str, object], rate: int, reason: str) -> None:
    sampler = build_sampler(
        kind, {**params, "FieldList": ["status"]}, destination="d", downstream=False
    )
    assert sampler.reason == reason
    assert sampler.sample_rate(_trace(3, status=200), 0.0) == (rate, "200•,")


def test_refinery_wrapper_examples() -> None:
    # sample/dynamic_ema_test.go and ema_throughput_test.go: rate 10 and this key.
    fields = {
        "http.status_code": 200,
        "app.team.id": 4.0,
        "important_field": True,
        "request.path": "/{slug}/fun",
    }
    field_list = ["http.status_code", "request.path", "app.team.id", "important_field"]
    for kind, params in (
        ("EMADynamicSampler", {"GoalSampleRate": 0}),
        ("EMAThroughputSampler", {"GoalThroughputPerSec": 1}),
    ):
        s = build_sampler(
            kind, {**params, "FieldList": field_list}, destination="d", downstream=False
        )
        assert s.sample_rate(_trace(5, **fields), 0.0) == (10, "4•,200•,true•,/{slug}/fun•,")


def test_defaults_applied_per_section_2() -> None:
    ema = parse_settings("EMADynamicSampler", {"GoalSampleRate": 0, "FieldList": []}).create(0.0)
    assert isinstance(ema, EMASampleRate)
    assert (ema.goal_sample_rate, ema.interval_ns, ema.weight, ema.age_out_value) == (
        10,
        15 * S,
        0.5,
        0.5,
    )
    assert (ema.burst_multiple, ema.burst_detection_delay, ema.max_keys) == (2.0, 3, 500)
    params = {
        "GoalThroughputPerSec": 9,
        "FieldList": ["a"],
        "UpdateFrequency": "5s",
        "LookbackFrequency": "18s",
    }
    win = parse_settings("WindowedThroughputSampler", params).create(0.0)
    assert isinstance(win, WindowedThroughput)
    assert (win.interval_ns, win.lookback_ns, win.count_list.max_keys) == (5 * S, 15 * S, 500)
    tot = parse_settings(
        "TotalThroughputSampler", {"GoalThroughputPerSec": 9, "FieldList": ["a"], "MaxKeys": -1}
    ).create(0.0)
    assert isinstance(tot, TotalThroughput)
    assert (tot.interval_ns, tot.max_keys) == (30 * S, -1)
    emt = parse_settings(
        "EMAThroughputSampler",
        {
            "GoalThroughputPerSec": 9,
            "FieldList": ["a"],
            "AdjustmentInterval": "1m30s",
            "Weight": 1,
            "AgeOutValue": 0.1,
        },
    ).create(0.0)
    assert isinstance(emt, EMAThroughput)
    assert (emt.interval_ns, emt.weight, emt.age_out_value) == (90 * S, 1.0, 0.1)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        (
            "EMADynamicSampler",
            {"GoalSampleRate": 5, "FieldList": ["a"], "AdjustmentInterval": "10"},
            "EMADynamicSampler.AdjustmentInterval is not a Go duration (time: missing unit in "
            "duration \"10\"); got '10'; units are ns, us, ms, s, m, h; "
            'write it like "30s" or "500ms"',
        ),
        (
            "DynamicSampler",
            {"SampleRate": 5, "FieldList": ["a"], "ClearFrequency": "1d"},
            'DynamicSampler.ClearFrequency is not a Go duration (time: unknown unit "d" in '
            "duration \"1d\"); got '1d'; units are ns, us, ms, s, m, h; "
            'write it like "30s" or "500ms"',
        ),
        (
            "DynamicSampler",
            {"SampleRate": 5, "FieldList": ["a"], "ClearFrequency": 30},
            "DynamicSampler.ClearFrequency must be a duration string; got 30; "
            'write it like "1m30s"',
        ),
        (
            "TotalThroughputSampler",
            {"GoalThroughputPerSec": 5, "FieldList": ["a"], "ClearFrequency": "-5s"},
            "TotalThroughputSampler.ClearFrequency must not be negative (Go's ticker panics); "
            "got '-5s'",
        ),
        (
            "DynamicSampler",
            {"SampleRate": 5.0, "FieldList": ["a"]},
            "DynamicSampler.SampleRate must be an int; got 5.0",
        ),
        (
            "DynamicSampler",
            {"SampleRate": 5},
            "DynamicSampler.FieldList is required; Refinery refuses a rules file without it",
        ),
        (
            "EMADynamicSampler",
            {"GoalSampleRate": -2, "FieldList": ["a"]},
            "EMADynamicSampler.GoalSampleRate must not be negative; got -2; "
            "Refinery returns it as the first rate and panics in rand.Intn",
        ),
        (
            "EMAThroughputSampler",
            {"GoalThroughputPerSec": 5, "FieldList": ["a"], "BurstDetectionDelay": -1},
            "EMAThroughputSampler.BurstDetectionDelay must not be negative (Go uint); got -1",
        ),
        (
            "WindowedThroughputSampler",
            {"GoalThroughputPerSec": 5, "FieldList": ["a"], "ClearFrequency": "5s"},
            "WindowedThroughputSampler.ClearFrequency is not a field of this sampler; got '5s'",
        ),
        (
            "RulesBasedSampler",
            {},
            "unknown dynamic sampler type; got 'RulesBasedSampler'; use one of " + ", ".join(KINDS),
        ),
    ],
)
def test_bad_params_are_errors(kind: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError) as info:
        parse_settings(kind, params)
    assert info.value.message == message


def test_sharing_follows_refinery_keys() -> None:
    pool = SamplerPool()
    dyn = {"SampleRate": 10, "FieldList": ["service.name"]}
    a = pool.get("DynamicSampler", dyn, destination="prod", downstream=True)
    b = pool.get("DynamicSampler", dyn, destination="prod", downstream=True)
    assert a.core is b.core
    assert list(pool.cores) == ["rules:prod::dynamic:10:[service.name]"]
    # Field order does not matter; the first config's other settings win.
    c = pool.get(
        "DynamicSampler",
        {"SampleRate": 10, "FieldList": ["z", "a"], "ClearFrequency": "5s"},
        destination="prod",
        downstream=True,
    )
    d = pool.get(
        "DynamicSampler",
        {
            "SampleRate": 10,
            "FieldList": ["a", "z"],
            "ClearFrequency": "60s",
            "UseTraceLength": True,
        },
        destination="prod",
        downstream=True,
    )
    assert c.core is d.core and c.core.interval_ns == 5 * S
    assert c.sample_rate(_trace(2, a=1), 0.0)[1] == "1•,"
    assert d.sample_rate(_trace(2, a=1), 0.0)[1] == "1•,2"  # UseTraceLength stays per config
    # Different destination, top level vs downstream, type or configured rate: not shared.
    others = [
        pool.get("DynamicSampler", dyn, destination="dev", downstream=True),
        pool.get("DynamicSampler", dyn, destination="prod", downstream=False),
        pool.get(
            "EMADynamicSampler",
            {"GoalSampleRate": 10, "FieldList": ["service.name"]},
            destination="prod",
            downstream=True,
        ),
        pool.get("DynamicSampler", {**dyn, "SampleRate": 0}, destination="prod", downstream=True),
    ]
    assert len({id(s.core) for s in [a, *others]}) == 5
    assert "prod:dynamic:10:[service.name]" in pool.cores


def test_one_sharing_key_for_pool_compiler_and_budget() -> None:
    """``makeDynsamplerKey``: Go's byte-order sort of FieldList (``Z`` before ``a``, ``é``
    last), the configured rate; a rules-file config gets the key the pool shares cores by."""
    params = {"GoalThroughputPerSec": 0, "FieldList": ["é", "a", "Z"]}
    assert sharing_key("EMAThroughputSampler", params, "prod") == "prod:emathroughput:0:[Z a é]"
    config = EMAThroughputSamplerConfig(goal_throughput_per_sec=7, field_list=("b", "a"))
    key = sharing_key(config.KIND, config.params(), "rules:prod:")
    assert key == "rules:prod::emathroughput:7:[a b]"
    pool = SamplerPool()
    pool.get(config.KIND, config.params(), destination="prod", downstream=True)
    assert list(pool.cores) == [key]


def test_shared_downstream_case_from_refinery() -> None:
    # TestRulesBasedSamplerWithSharedDynsamplers (refinery-cases given.json): both rules share
    # one dynsampler; the first call returns the goal rate 10 and this key.
    pool = SamplerPool()
    cfg = {"SampleRate": 10, "FieldList": ["service.name"]}
    rule1 = pool.get("DynamicSampler", cfg, destination="env", downstream=True)
    rule2 = pool.get("DynamicSampler", cfg, destination="env", downstream=True)
    trace = Trace("", (Span({"rule_test": 1, "service.name": "test-service"}),))
    assert rule1.sample_rate(trace, 0.0) == (10, "test-service\u2022,")
    rule2.sample_rate(trace, 1.0)
    assert rule1.core is rule2.core
    assert rule1.core.current_counts == {"test-service•,": 2.0}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kind", "goal"),
    [
        ("EMAThroughputSampler", 5),
        ("WindowedThroughputSampler", 5.0),
        ("TotalThroughputSampler", 5),
    ],
)
def test_cluster_size_divides_goal(kind: str, goal: float) -> None:
    # sample/sample_test.go Test*ClusterSize: goal 10, two peers -> 5.
    params = {"GoalThroughputPerSec": 10, "UseClusterSize": True, "FieldList": ["a"]}
    s = build_sampler(kind, params, destination="production", downstream=False, cluster_size=2)
    assert s.core.goal_throughput_per_sec == goal  # type: ignore[attr-defined]
    s = build_sampler(
        kind, {**params, "UseClusterSize": False}, destination="p", downstream=False, cluster_size=2
    )
    assert s.core.goal_throughput_per_sec == 10  # type: ignore[attr-defined]


def test_cluster_size_changes_and_sharing() -> None:
    pool = SamplerPool(cluster_size=3)
    plain = {"GoalThroughputPerSec": 7, "FieldList": ["a"]}
    first = pool.get("TotalThroughputSampler", plain, destination="p", downstream=False)
    assert first.core.goal_throughput_per_sec == 7  # type: ignore[attr-defined]
    # A sharing config with UseClusterSize makes the shared core cluster-sized: 7 // 3 = 2.
    pool.get(
        "TotalThroughputSampler",
        {**plain, "UseClusterSize": True},
        destination="p",
        downstream=False,
    )
    assert first.core.goal_throughput_per_sec == 2  # type: ignore[attr-defined]
    pool.set_cluster_size(10)
    assert first.core.goal_throughput_per_sec == 1  # type: ignore[attr-defined]
    pool.set_cluster_size(1)
    assert first.core.goal_throughput_per_sec == 7  # type: ignore[attr-defined]


def test_total_throughput_rates_use_the_cluster_goal() -> None:
    s = build_sampler(
        "TotalThroughputSampler",
        {
            "GoalThroughputPerSec": 10,
            "UseClusterSize": True,
            "FieldList": ["k"],
            "ClearFrequency": "10s",
        },
        destination="p",
        downstream=False,
        cluster_size=2,
    )
    s.sample_rate(_trace(500, k="x"), 1.0)
    # goal 5/s * 10s = 50 per key: 500 / 50 = 10.
    assert s.sample_rate(_trace(1, k="x"), 10.0) == (10, "x•,")


_KIND_PARAMS = {
    "DynamicSampler": {"SampleRate": 4, "ClearFrequency": "5s"},
    "EMADynamicSampler": {"GoalSampleRate": 4, "AdjustmentInterval": "5s"},
    "EMAThroughputSampler": {"GoalThroughputPerSec": 3, "AdjustmentInterval": "5s", "MaxKeys": 3},
    "WindowedThroughputSampler": {
        "GoalThroughputPerSec": 3,
        "UpdateFrequency": "1s",
        "LookbackFrequency": "4s",
        "MaxKeys": 3,
    },
    "TotalThroughputSampler": {"GoalThroughputPerSec": 3, "ClearFrequency": "5s"},
}


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    traffic=st.lists(
        st.tuples(
            st.floats(0, 30, allow_nan=False),
            st.sampled_from([200, 404, 500, "x", 1.5, None, True]),
            st.integers(0, 300),
        ),
        max_size=80,
    ),
)
def test_rates_are_always_positive_ints(
    kind: str, traffic: list[tuple[float, object, int]]
) -> None:
    s = build_sampler(
        kind, {**_KIND_PARAMS[kind], "FieldList": ["code"]}, destination="d", downstream=False
    )
    now = 0.0
    for gap, code, spans in traffic:
        now += gap
        rate, _ = s.sample_rate(_trace(spans, code=code), now)
        assert isinstance(rate, int) and 1 <= rate < 2**63 and math.isfinite(rate)


@settings(max_examples=25, deadline=None)
@given(
    goal=st.integers(2, 300),
    interval=st.sampled_from([5, 15, 30]),
    multiples=st.lists(st.integers(10, 200), min_size=1, max_size=5),
)
def test_ema_throughput_steady_state_meets_goal(
    goal: int, interval: int, multiples: list[int]
) -> None:
    """Constant traffic, every key at >= 10x the goal: kept events/s within [0.85, 1] x goal.

    Each key's rate is then >= 10, so rounding up a rate loses at most 1/11 of its share, and
    unused shares pass to later keys.  Refinery also keeps at least one event per key per
    interval, which is the ``len(keys) / interval`` slack above the goal.
    """
    params = {
        "GoalThroughputPerSec": goal,
        "AdjustmentInterval": f"{interval}s",
        "FieldList": ["k"],
    }
    s = build_sampler("EMAThroughputSampler", params, destination="d", downstream=False)
    per_sec = {f"key{i}": m * goal for i, m in enumerate(multiples)}
    kept_per_sec: list[float] = []
    for n in range(60):
        t = n * interval + 0.5
        kept = 0.0
        for key, rate_per_sec in per_sec.items():
            # One call per key and interval stands for all its traces (the core only sums
            # counts; the rate changes only at updates), so use the core with the key text.
            count = rate_per_sec * interval
            rate = s.core.get_sample_rate_multi(key + "\u2022,", count, t)
            kept += count / rate
        kept_per_sec.append(kept / interval)
    for value in kept_per_sec[40:]:
        assert 0.85 * goal <= value <= goal + len(per_sec) / interval + 1e-9
