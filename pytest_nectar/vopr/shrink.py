"""Shrinking: from a failing scenario to the smallest one that still fails.

Greedy and deterministic, like Hypothesis's shrinker in spirit: candidates are tried in a
fixed order, the first that still fails is taken, and the search restarts from it.  Every
accepted candidate is strictly smaller in (evolutions + faults, steps, traces per step, rate
features), so the search ends; ``max_attempts`` bounds the predicate calls.  Because each step
and each transform draws from its own named substream, a smaller scenario replays the same
traffic at the steps and for the transforms it keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

from pytest_nectar.vopr.clock import Timeline
from pytest_nectar.vopr.scenario import Scenario

__all__ = ["ShrinkResult", "shrink"]

_MAX_CAP = 1 << 16


@dataclass(frozen=True, slots=True)
class ShrinkResult:
    """The smallest failing scenario found, and how it was reached."""

    scenario: Scenario
    original: Scenario
    attempts: int
    trail: tuple[str, ...]  # what each accepted step removed, in order

    @property
    def shrunk(self) -> bool:
        return self.scenario != self.original


_T = TypeVar("_T")


def _without(items: tuple[_T, ...], index: int) -> tuple[_T, ...]:
    return items[:index] + items[index + 1 :]


def _timeline(t: Timeline, first: int, steps: int) -> Timeline:
    return Timeline(steps, t.step_seconds, t.active_seconds, first)


def _candidates(s: Scenario) -> Iterator[tuple[str, Scenario]]:
    for i in reversed(range(len(s.evolutions))):
        rest = _without(s.evolutions, i)
        yield f"removed evolution {s.evolutions[i]}", replace(s, evolutions=rest)
    for i in reversed(range(len(s.faults))):
        others = _without(s.faults, i)
        yield f"removed fault {s.faults[i]}", replace(s, faults=others)
    t = s.timeline
    chunk = t.steps // 2
    while chunk >= 1:
        keep = t.steps - chunk
        yield (
            f"dropped the last {chunk} steps",
            replace(s, timeline=_timeline(t, t.first_step, keep)),
        )
        yield (
            f"dropped the first {chunk} steps",
            replace(s, timeline=_timeline(t, t.first_step + chunk, keep)),
        )
        chunk //= 2
    cap = 1
    limit = s.max_per_step if s.max_per_step is not None else _MAX_CAP + 1
    while cap < limit:
        yield f"kept at most {cap} traces per step", replace(s, max_per_step=cap)
        cap *= 2
    r = s.rate
    if r.burst_probability > 0:
        yield "removed bursts", replace(s, rate=replace(r, burst_probability=0.0))
    if r.diurnal_amplitude > 0:
        yield "removed the diurnal cycle", replace(s, rate=replace(r, diurnal_amplitude=0.0))
    if r.weekend_factor != 1.0:
        yield "removed the weekly cycle", replace(s, rate=replace(r, weekend_factor=1.0))


def shrink(
    scenario: Scenario,
    fails: Callable[[Scenario], bool],
    *,
    max_attempts: int = 500,
) -> ShrinkResult:
    """The smallest scenario found for which ``fails`` is still true.

    ``fails`` must be deterministic (it runs the simulation and checks the invariant).  The
    original scenario is assumed to fail and is not re-run.
    """
    current = scenario
    attempts = 0
    trail: list[str] = []
    tried: set[Scenario] = {scenario}
    progress = True
    while progress and attempts < max_attempts:
        progress = False
        for what, candidate in _candidates(current):
            if candidate in tried:
                continue
            if attempts >= max_attempts:
                break
            tried.add(candidate)
            attempts += 1
            if fails(candidate):
                current = candidate
                trail.append(what)
                progress = True
                break
    return ShrinkResult(current, scenario, attempts, tuple(trail))
