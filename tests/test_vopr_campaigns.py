"""VOPR campaigns: real invariants that fail when broken, replayable from their seed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.vopr import campaigns, invariants, runs
from pytest_nectar.vopr.campaigns import Setup, run_campaign, run_seed
from pytest_nectar.vopr.refinery_sim import RefinerySim, content_key
from pytest_nectar.vopr.rng import RngFamily
from tests.realdata import REALDATA

CORPUS = REALDATA / "otlp/oteltui-test_data.json"

HEADER = "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  vopr-test\n"

#: keeps every error, samples the rest; 15 events/s is too little for a x10 storm at 6/s.
STORM_POLICY = HEADER + (
    "  15\n"
    "  rules[2]{name,description,match,action,priority}:\n"
    "    keep-errors,Errors,http.status >= 500 or status_code = 2 or error = true,keep,100\n"
    "    sample-rest,Rest,true,sample(1/100),0\n"
)
#: samples errors like everything else: error traces get dropped.
LOSSY_POLICY = HEADER + (
    "  100000\n  rules[1]{name,description,match,action,priority}:\n"
    "    sample-all,Everything,true,sample(1/10),0\n"
)
MUST_KEEP_POLICY = (
    "nectar_policy{version,name,must_keep,rules}:\n  1\n  must\n"
    '  [1]: "service.name = \\"frontend\\""\n'
    "  rules[1]{name,description,match,action,priority}:\n"
    "    sample-all,Everything,true,sample(1/10),0\n"
)
SAFE_POLICY = HEADER + (
    "  100000\n  rules[2]{name,description,match,action,priority}:\n"
    "    keep-errors,Errors,http.status >= 500 or status_code = 2 or error = true,keep,100\n"
    '    sample-api,API,"http.route starts-with \\"/api/\\"",'
    '"throughput(50/s by service.name, http.route)",10\n'
)


def _policy(tmp_path: Path, text: str, name: str = "p.toon") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def storm_setup(tmp_path_factory: pytest.TempPathFactory, realdata: Path) -> Setup:
    path = _policy(tmp_path_factory.mktemp("storm"), STORM_POLICY)
    return Setup.build(path, CORPUS, rate=6.0)


def test_storm_fails_with_seed_and_replays_at_same_time(storm_setup: Setup) -> None:
    result = run_campaign(storm_setup, "storm", 0x2A, size=4)
    assert not result.passed
    v = result.violations[0]
    assert v.invariant == "budget" and v.step is not None and v.time is not None
    assert v.traces and all(t["kept"] for t in v.traces)
    assert "--seed 0x2a" in v.replay and f"--step {v.step}" in v.replay
    assert v.shrunk is not None and v.shrunk["scenario"]["steps"] <= 10
    again = run_campaign(storm_setup, "storm", 0x2A, step=v.step)
    w = again.violations[0]
    assert (w.invariant, w.step, w.time, w.message) == (v.invariant, v.step, v.time, v.message)
    head = result.headroom
    assert head is not None and 1.0 <= head["largest_factor"] < 10.0  # type: ignore[operator]
    assert head["largest_factor"] < head["first_failing"]  # type: ignore[operator]


def test_evolution_finds_the_storm_on_some_seed(storm_setup: Setup) -> None:
    found = None
    for seed in range(12):
        r = run_campaign(storm_setup, "evolution", seed, size=20, do_shrink=False)
        if r.violation_counts.get("budget"):
            found = r
            break
    assert found is not None, "no seed of 12 showed the budget blown by drift"
    v = next(v for v in found.violations if v.invariant == "budget")
    replay = run_campaign(storm_setup, "evolution", found.seed, size=20, step=v.step)
    w = next(w for w in replay.violations if w.invariant == "budget")
    assert (w.step, w.time, w.message) == (v.step, v.time, v.message)


def test_same_seed_same_summary_different_seed_differs(storm_setup: Setup) -> None:
    a = run_campaign(storm_setup, "chaos", 7, size=60, do_shrink=False)
    b = run_campaign(storm_setup, "chaos", 7, size=60, do_shrink=False)
    c = run_campaign(storm_setup, "chaos", 8, size=60, do_shrink=False)
    assert a.summary(wall=False) == b.summary(wall=False)
    assert a.digest == b.digest != c.digest


def test_results_do_not_depend_on_worker_count(
    storm_setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "CHAOS_CHUNK", 20)  # three jobs of a 50-iteration campaign
    one = campaigns.run_campaigns(storm_setup, ["chaos"], 3, sizes={"chaos": 50}, workers=1)
    two = campaigns.run_campaigns(storm_setup, ["chaos"], 3, sizes={"chaos": 50}, workers=2)
    assert one[0].summary(wall=False) == two[0].summary(wall=False)


@pytest.mark.usefixtures("realdata")
def test_error_kept_can_fail(tmp_path: Path) -> None:
    r = run_seed(_policy(tmp_path, LOSSY_POLICY), CORPUS, "chaos", 1, iterations=40)
    assert r.violation_counts.get("error-kept", 0) > 0
    v = next(v for v in r.violations if v.invariant == "error-kept")
    assert v.traces[0]["error"] and not v.traces[0]["kept"]
    assert v.shrunk is not None and "nectar vopr" in v.replay


@pytest.mark.usefixtures("realdata")
def test_must_keep_can_fail(tmp_path: Path) -> None:
    r = run_seed(_policy(tmp_path, MUST_KEEP_POLICY), CORPUS, "chaos", 1, iterations=40)
    assert r.violation_counts.get("must-keep", 0) > 0


@pytest.mark.usefixtures("realdata")
def test_safe_policy_passes_every_short_campaign(tmp_path: Path) -> None:
    path = _policy(tmp_path, SAFE_POLICY)
    for name in ("chaos", "evolution", "determinism", "storm"):
        r = run_seed(path, CORPUS, name, 5, iterations=30, days=5)
        assert r.passed, r.render()


def test_determinism_can_fail(storm_setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = iter(range(10**9))
    original = RefinerySim.run

    def leaky(self: RefinerySim, batch: object) -> object:
        log = original(self, batch)  # type: ignore[arg-type]
        if next(calls) % 2:  # every other run sees a different world
            log.kept[:] = ~log.kept
        return log

    monkeypatch.setattr(RefinerySim, "run", leaky)
    r = run_campaign(storm_setup, "determinism", 2, size=30)
    assert r.violation_counts.get("determinism", 0) > 0


def test_compile_determinism_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_nectar.compiler.compile as compiler

    policy = parse_policy(STORM_POLICY)
    assert invariants.check_compile_determinism(policy, "p") == []
    counter = iter(range(100))
    real = compiler.compile_policies

    class Noisy:
        def __init__(self, text: str) -> None:
            self.text = text

    monkeypatch.setattr(
        compiler, "compile_policies", lambda ps: Noisy(real(ps).text + f"# {next(counter)}")
    )
    found = invariants.check_compile_determinism(policy, "p")
    assert [f.invariant for f in found] == ["compile-determinism"]


def test_corrupt_text_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_nectar.policy.parser as parser

    assert invariants.check_policy_text("nectar_policy{", "truncate", "x", "p.toon") == []

    def broken(text: str, *, path: str = "") -> None:
        raise IndexError("boom")

    monkeypatch.setattr(parser, "parse_policy", broken)
    found = invariants.check_policy_text(STORM_POLICY, "flip_bit", "line 1", "p.toon")
    assert found[0].invariant == "corrupt-text" and "IndexError: boom" in found[0].message


def test_agreement_can_fail(storm_setup: Setup) -> None:
    family = RngFamily("t", 1)
    sim = RefinerySim(storm_setup.target, family, storm_setup.model.fields)
    traces = list(storm_setup.samples)
    right = [
        (0, 0.0, t, -1 if sim.reference(t).rule_index is None else sim.reference(t).rule_index)
        for t in traces
    ]
    assert invariants.check_agreement(sim, right) == []  # type: ignore[arg-type]
    wrong = [(0, 0.0, traces[0], 7)]
    found = invariants.check_agreement(sim, wrong)
    assert found[0].invariant == "agreement"


def test_content_key_tells_types_apart() -> None:
    from pytest_nectar.trace import Span, Trace

    def t(v: object) -> Trace:
        return Trace("a", (Span({"x": v}, True),))

    keys = {content_key(t(v), ("x",)) for v in (True, 1, 1.0, -0.0, 0.0, "1", None)}
    assert len(keys) == 7


def test_mutations_are_a_function_of_the_generator() -> None:
    policy = parse_policy(STORM_POLICY)
    a = runs.mutate_policy(policy, np.random.Generator(np.random.PCG64(1)))
    b = runs.mutate_policy(policy, np.random.Generator(np.random.PCG64(1)))
    assert a == b
    assert dataclasses.replace(a) == b


def test_budget_peak_slides_over_arrivals() -> None:
    times = np.array([0.0, 10.0, 59.0, 61.0])
    events = np.array([1, 2, 3, 100], dtype=np.int64)
    peak, start = invariants.budget_peak(times, events, 60.0)
    assert (peak, start) == (105 / 60.0, 10.0)


def test_decision_cache_keys_are_content_keys() -> None:
    from types import MappingProxyType

    from pytest_nectar.trace import Span, Trace
    from pytest_nectar.vopr.refinery_sim import DecisionCache

    row = MappingProxyType({"x": 1, "y": "a"})
    shared = Span(row, True)
    cache = DecisionCache(("x", "y"), [(shared,)])
    values: list[object] = [True, 1, 1.0, -0.0, 0.0, "1", None]
    traces = [Trace("a", (shared,)), Trace("b", (Span({"x": 1, "y": "a"}, True),))]
    traces += [Trace("c", (Span({"x": v}, root),)) for v in values for root in (True, False)]
    traces += [Trace("d", (shared, Span(MappingProxyType({"x": v})))) for v in values]
    traces.append(Trace("e", (Span({"x": [1]}),)))  # unhashable: no key
    for a in traces:
        for b in traces:
            same = content_key(a, ("x", "y")) == content_key(b, ("x", "y"))
            assert (cache.content_key(a) == cache.content_key(b)) == same
    assert cache.content_key(traces[-1]) is None
