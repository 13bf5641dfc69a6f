from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pytest_nectar.vopr.clock import DAY, RateProcess, Timeline
from pytest_nectar.vopr.evolutions import ErrorStorm, LatencyRegression, NewService
from pytest_nectar.vopr.faults import ClockSkew, MissingField, TruncatedTrace
from pytest_nectar.vopr.scenario import Scenario, batch_digest, stream_digest
from pytest_nectar.vopr.shrink import shrink
from pytest_nectar.vopr.traffic import Batch, TrafficModel
from tests.vopr_support import make_traces

MODEL = TrafficModel(make_traces(40, error_every=20))
RATE = RateProcess(base=20.0, burst_probability=0.2, burst_slot=60.0, burst_multiplier=(2.0, 3.0))


def _scenario(seed: int = 42, **changes: object) -> Scenario:
    base = Scenario(
        "chaos",
        seed,
        Timeline(60, step_seconds=10.0, active_seconds=2.0),
        RATE,
        evolutions=(ErrorStorm(factor=10, start=200.0, end=400.0), NewService(share=0.1)),
        faults=(MissingField(share=0.1), ClockSkew(share=0.1), TruncatedTrace(share=0.1)),
    )
    return base.with_(**changes)


def test_same_seed_same_stream_and_different_seeds_differ() -> None:
    a = _scenario().simulate(MODEL).digest()
    assert a == _scenario().simulate(TrafficModel(make_traces(40, error_every=20))).digest()
    assert a != _scenario(seed=43).simulate(MODEL).digest()
    assert a != _scenario().with_(campaign="storm").simulate(MODEL).digest()


def test_a_step_replays_alone() -> None:
    run = list(_scenario().simulate(MODEL))
    assert sum(len(b) for b in run) > 500
    for step in (0, 17, 37, 59):
        alone = _scenario().simulate(MODEL).batch(step)
        assert batch_digest(alone) == batch_digest(run[step])
    shifted = _scenario().only_steps(37, 3)
    assert [batch_digest(b) for b in shifted.simulate(MODEL)] == [
        batch_digest(b) for b in run[37:40]
    ]


def test_batches_are_in_their_windows_and_in_order() -> None:
    for batch in _scenario().simulate(MODEL):
        t0 = batch.step * 10.0
        assert (batch.start, batch.end) == (t0, t0 + 2.0)
        times = batch.times.tolist()
        assert times == sorted(times) and all(t0 <= t < t0 + 2.0 for t in times)


def test_dropping_a_transform_leaves_the_others_alone() -> None:
    full = _scenario()
    fewer = full.with_(faults=full.faults[1:])  # without MissingField
    for a, b in zip(full.simulate(MODEL), fewer.simulate(MODEL), strict=True):
        assert len(a) == len(b)
        for i in range(len(a)):
            if str(full.faults[0]) not in a.labels(i) and "clock_skew" not in str(a.labels(i)):
                assert a.traces[i].trace_id in {t.trace_id for t in b.traces}
                j = [t.trace_id for t in b.traces].index(a.traces[i].trace_id)
                assert a.traces[i] == b.traces[j]


def test_storm_window_raises_the_error_share() -> None:
    def share(batches: list[Batch]) -> float:
        traces = [t for b in batches for t in b.traces]
        return sum(MODEL.is_error(t) for t in traces) / len(traces)

    run = list(_scenario(faults=()).simulate(MODEL))
    calm, storm = share(run[:20] + run[40:]), share(run[20:40])
    assert MODEL.error_share == 0.05
    assert abs(calm - 0.05) < 0.02 and storm > 0.4


def test_a_year_in_compressed_steps() -> None:
    year = Scenario(
        "evolution",
        7,
        Timeline.over(365 * DAY, step_seconds=DAY, active_seconds=1.0),
        RateProcess(base=5.0),
        evolutions=(LatencyRegression(factor=4.0, start=100 * DAY),),
    )
    batches = list(year.simulate(MODEL))
    assert len(batches) == 365 and year.duration == 365 * DAY
    assert batches[-1].start == 364 * DAY
    late = [b for b in batches if b.start >= 100 * DAY and len(b)]
    assert all(b.marks for b in late)
    assert not any(b.marks for b in batches if b.start < 100 * DAY)


def test_cap_and_description() -> None:
    capped = _scenario(max_per_step=3)
    assert all(len(b) <= 3 for b in capped.simulate(MODEL))
    info = capped.describe()
    assert json.loads(json.dumps(info)) == info
    assert info["seed"] == "0x2a" and info["max_per_step"] == 3
    assert info["evolutions"][0] == "error_storm(start=200.0, end=400.0, factor=10, floor=0.001)"
    assert str(capped).startswith("scenario chaos seed 0x2a: steps 0..59 of 10s")
    assert capped.replay_line(step=4) == "nectar vopr --campaign chaos --seed 0x2a --step 4"


def _over_budget(scenario: Scenario) -> bool:
    """A stand-in invariant: a keep-all-errors policy with a budget of 12 error traces/step."""
    return any(
        sum(MODEL.is_error(t) for t in batch.traces) > 12 for batch in scenario.simulate(MODEL)
    )


def test_shrinker_finds_a_smaller_failing_scenario_deterministically() -> None:
    original = _scenario()
    assert _over_budget(original)
    result = shrink(original, _over_budget)
    small = result.scenario
    assert result.shrunk and _over_budget(small)
    assert small.evolutions == (original.evolutions[0],)  # only the storm matters
    assert small.faults == ()
    assert small.timeline.steps == 1 and 20 <= small.timeline.first_step < 40
    assert small.max_per_step is not None and small.max_per_step <= 32
    assert small.rate.burst_probability == 0.0
    assert result.trail and result.attempts <= 500
    assert shrink(original, _over_budget) == result
    assert stream_digest(small.simulate(MODEL)) == stream_digest(small.simulate(MODEL))


def test_shrinker_keeps_a_scenario_that_cannot_shrink() -> None:
    tiny = Scenario("c", 1, Timeline(1, 1.0), RateProcess(base=1.0, burst_probability=0.0))
    tiny = tiny.with_(rate=RateProcess(1.0, 0.0, 14.0, 1.0, 0.0), max_per_step=1)
    result = shrink(tiny, lambda s: True)
    assert not result.shrunk and result.trail == ()


def test_digest_does_not_depend_on_the_process() -> None:
    code = (
        "from tests.test_vopr_scenario import _scenario, MODEL\n"
        "print(_scenario().with_(timeline=Timeline(8, 10.0, 2.0)).simulate(MODEL).digest())\n"
    ).replace("Timeline(", "__import__('pytest_nectar.vopr.clock').vopr.clock.Timeline(")
    root = Path(__file__).parent.parent
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    here = _scenario().with_(timeline=Timeline(8, 10.0, 2.0)).simulate(MODEL).digest()
    assert outputs == {here}
