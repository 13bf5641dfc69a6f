"""Campaign jobs: the scenarios of each campaign, cut into worker-independent jobs, and runs.

A job is a pure function of (set-up, campaign, seed, job index): chaos is cut into chunks of
:data:`CHAOS_CHUNK` iterations (a Refinery restart each), determinism into chunks of checks;
evolution and storm are one job each, because samplers carry state through them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable

from pytest_nectar.errors import UsageError
from pytest_nectar.trace import Trace
from pytest_nectar.vopr.campaign_setup import Setup
from pytest_nectar.vopr.clock import DAY, HOUR, Timeline
from pytest_nectar.vopr.evolutions import ErrorStorm, random_evolutions
from pytest_nectar.vopr.faults import random_faults
from pytest_nectar.vopr.invariants import (
    Finding,
    check_agreement,
    check_policy_text,
    check_rules_text,
    check_step,
)
from pytest_nectar.vopr.jobs import CHAOS_ACTIVE, Findings, Job, JobResult, refinery_for
from pytest_nectar.vopr.refinery_sim import DecisionCache, StepLog
from pytest_nectar.vopr.replays import mutate_policy, run_determinism
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.scenario import Scenario, batch_digest
from pytest_nectar.vopr.textfaults import corrupt_text
from pytest_nectar.vopr.traffic import Batch

__all__ = [
    "CAMPAIGNS",
    "CURRENT",
    "DEFAULT_SIZES",
    "SHORT_SIZES",
    "Job",
    "JobResult",
    "fails_like",
    "jobs_for",
    "mutate_policy",
    "run_current",
    "run_job",
    "simulate",
    "storm_headroom",
]

CAMPAIGNS = ("chaos", "evolution", "determinism", "storm")
#: The seed's sizes: iterations, days, checks; storm: bisection probes.
DEFAULT_SIZES = {"chaos": 10_000, "evolution": 365, "determinism": 5_000, "storm": 12}
#: What a pytest item runs per seed.
SHORT_SIZES = {"chaos": 200, "evolution": 14, "determinism": 100, "storm": 6}
CHAOS_CHUNK = 1000
TEXT_EVERY = 200
DETERMINISM_CHUNK = 1000
EVOLUTION_DRIFT = 240.0  # each day's traffic window starts 4 minutes later: all hours in a year
STORM_STEPS = 10
STORM_FACTOR = 10.0
_AGREE_BATCH = 256
_AGREE_MAX = 2048  # distinct traces checked per job (the first ones met)

CURRENT: Setup | None = None


def _check_name(campaign: str) -> None:
    if campaign not in CAMPAIGNS:
        raise UsageError(
            "unknown campaign", got=campaign, hint="use one of " + ", ".join(CAMPAIGNS)
        )


def chaos_scenario(setup: Setup, seed: int, size: int) -> Scenario:
    gen = RngFamily("chaos", seed).generator(0, "chaos/faults")
    faults = random_faults(gen, 3 + int(gen.integers(4)))
    timeline = Timeline(size, HOUR, CHAOS_ACTIVE)
    return Scenario("chaos", seed, timeline, setup.rate, faults=faults)


def evolution_scenario(setup: Setup, seed: int, days: int) -> Scenario:
    timeline = Timeline(days, DAY + EVOLUTION_DRIFT, min(setup.window_s, DAY))
    gen = RngFamily("evolution", seed).generator(0, "evolution/plan")
    horizon = timeline.duration
    evolutions = random_evolutions(
        gen, setup.model, horizon, max(2, days // 30), min_seconds=DAY, max_seconds=horizon / 4
    )
    return Scenario("evolution", seed, timeline, setup.rate, evolutions=evolutions)


def storm_scenario(setup: Setup, seed: int, factor: float = STORM_FACTOR) -> Scenario:
    timeline = Timeline(STORM_STEPS, HOUR, setup.window_s)
    return Scenario("storm", seed, timeline, setup.rate, evolutions=(ErrorStorm(factor=factor),))


def jobs_for(
    setup: Setup, campaign: str, seed: int, size: int, step: int | None = None
) -> list[Job]:
    """The jobs of one campaign run (``step``: only what replaying that step needs)."""
    _check_name(campaign)
    if size < 1:
        raise UsageError("a campaign needs at least one iteration", got=size)
    flag = "--days" if campaign == "evolution" else "--iterations"
    args = (flag, str(size))
    if step is not None and not 0 <= step < (STORM_STEPS if campaign == "storm" else size):
        raise UsageError("--step is outside the campaign", got=step)
    if campaign in ("chaos", "determinism"):
        chunk = CHAOS_CHUNK if campaign == "chaos" else DETERMINISM_CHUNK
        base = chaos_scenario(setup, seed, size) if campaign == "chaos" else None
        jobs = []
        for index, first in enumerate(range(0, size, chunk)):
            count = min(chunk, size - first)
            if step is not None and not first <= step < first + count:
                continue
            scen = base.only_steps(first, count) if base is not None else None
            jobs.append(Job(campaign, seed, index, first, count, scen, step, args))
        return jobs
    if campaign == "evolution":
        return [Job(campaign, seed, 0, 0, size, evolution_scenario(setup, seed, size), step, args)]
    return [Job(campaign, seed, 0, 0, STORM_STEPS, storm_scenario(setup, seed), step, args)]


def run_current(job: Job) -> JobResult:
    """:func:`run_job` with the set-up a forked worker inherited."""
    assert CURRENT is not None
    return run_job(CURRENT, job)


def run_job(setup: Setup, job: Job) -> JobResult:
    if job.campaign == "determinism":
        return run_determinism(setup, job)
    assert job.scenario is not None
    text_every = TEXT_EVERY if job.campaign == "chaos" else 0
    return simulate(setup, job.scenario, until=job.until, text_every=text_every)


def _text_check(setup: Setup, scenario: Scenario, step: int) -> list[Finding]:
    gen = RngFamily(scenario.campaign, scenario.seed).generator(step, "chaos/text")
    when = step * scenario.timeline.step_seconds
    if (step // TEXT_EVERY) % 2 == 0:
        c = corrupt_text(setup.policy_text, gen)
        found = check_policy_text(c.text, c.kind, c.detail, "policy.toon")
    else:
        c = corrupt_text(setup.target.rules_text, gen)
        found = check_rules_text(c.text, c.kind, c.detail, setup.target.env, setup.samples)
    return [dataclasses.replace(f, step=step, time=when) for f in found]


def simulate(
    setup: Setup,
    scenario: Scenario,
    *,
    until: int | None = None,
    text_every: int = 0,
    agreement: bool = True,
    stop_on: str | None = None,
) -> JobResult:
    """Run a scenario with a fresh Refinery, checking every invariant at every step
    (``stop_on``: stop at the first step that breaks that invariant)."""
    sim = scenario.simulate(setup.model)
    refinery = refinery_for(setup, sim.family)
    window = setup.window_s if scenario.timeline.active >= setup.window_s else None
    found = Findings(until)
    h = hashlib.blake2b(digest_size=16)
    traces = kept = checks = steps = 0
    seen: set[object] = set()
    picked: list[tuple[int, float, Trace, int]] = []
    last: tuple[int, Batch] | None = None
    for step in scenario.timeline.step_indices():
        if until is not None and step > until:
            break
        batch = sim.batch(step)
        log = refinery.run(batch)
        h.update(log.digest().encode())
        found.add(check_step(refinery, batch, log, window))
        steps += 1
        traces += len(log)
        kept += int(log.kept.sum())
        checks += 3
        if agreement and len(seen) < _AGREE_MAX:
            _pick(refinery.shortcut, refinery.cache, batch, log, seen, picked)
            if len(picked) >= _AGREE_BATCH:
                found.add(check_agreement(refinery, picked))
                checks += len(picked)
                picked = []
        if text_every and step % text_every == 0:
            found.add(_text_check(setup, scenario, step))
            checks += 1
        last = (step, batch)
        if stop_on is not None and found.counts.get(stop_on):
            break
    if picked:
        found.add(check_agreement(refinery, picked))
        checks += len(picked)
    if last is not None and stop_on is None:  # the last step replayed alone: same traffic
        alone = scenario.simulate(setup.model).batch(last[0])
        checks += 1
        if not _same_batch(alone, last[1]):
            found.add(
                [
                    Finding(
                        "determinism",
                        last[0],
                        last[0] * scenario.timeline.step_seconds,
                        f"step {last[0]} replayed alone gives different traffic",
                    )
                ]
            )
    return JobResult(
        steps,
        steps * scenario.timeline.step_seconds,
        traces,
        kept,
        checks,
        h.hexdigest(),
        tuple(found.kept),
        found.counts,
    )


def _same_batch(a: Batch, b: Batch) -> bool:
    """Equal batches: ids, times, shapes, marks and rows; every value with its type when the
    batch is small (the full digest costs a repr per value)."""
    if a.times.tobytes() != b.times.tobytes() or a.sources.tobytes() != b.sources.tobytes():
        return False
    if a.marks != b.marks or [t.trace_id for t in a.traces] != [t.trace_id for t in b.traces]:
        return False
    if len(a) <= 64:
        return batch_digest(a) == batch_digest(b)
    return all(x.spans == y.spans for x, y in zip(a.traces, b.traces, strict=True))


def _pick(
    shortcut: bool,
    cache: DecisionCache,
    batch: Batch,
    log: StepLog,
    seen: set[object],
    picked: list[tuple[int, float, Trace, int]],
) -> None:
    """Traces for the agreement check: every new corpus shape, and the first changed trace
    of the step whose content is new (changed traces are decided one by one anyway)."""
    changed = False
    for i, (now, trace) in enumerate(batch):
        marked = i in batch.marks
        if not shortcut:
            key: object = (batch.step, i) if i == 0 else None
        elif not marked:
            key = (int(batch.sources[i]), None)
        elif changed:
            continue
        else:
            key = cache.content_key(trace)
            changed = True
        if key is None or key in seen:
            continue
        seen.add(key)
        picked.append((batch.step, now, trace, int(log.rule[i])))


def fails_like(setup: Setup, job: Job, scenario: Scenario, invariant: str) -> bool:
    """Does ``scenario`` (a shrinking candidate) still break ``invariant``?"""
    result = simulate(setup, scenario, agreement=invariant == "agreement", stop_on=invariant)
    return result.counts.get(invariant, 0) > 0


# --- storm headroom -------------------------------------------------------------------------


def _within(setup: Setup, seed: int, factor: float) -> bool:
    scenario = storm_scenario(setup, seed, factor)
    result = simulate(setup, scenario, agreement=False, stop_on="budget")
    return result.counts.get("budget", 0) == 0


def storm_headroom(
    setup: Setup, seed: int, probes: int = 12, done: Callable[[float], None] | None = None
) -> dict[str, object] | None:
    """The largest error-share multiplier whose storm stays within the budget.

    Bisection on a log scale between 1 (no storm) and the factor at which every trace is an
    error; a pure function of the set-up and the seed.  None without a budget.  ``done(1)``
    is called after each of the ``probes + 2`` storms at most (progress).
    """
    budget = setup.target.budget
    if budget is None:
        return None

    def within(factor: float) -> bool:
        ok = _within(setup, seed, factor)
        if done is not None:
            done(1.0)
        return ok

    share = max(setup.model.error_share, ErrorStorm().floor)
    top = 1.0 / share
    out: dict[str, object] = {"error_share": setup.model.error_share, "saturates_at": top}
    if within(top):
        return {**out, "largest_factor": top, "saturated": True, "probes": 1}
    if not within(1.0):
        return {**out, "largest_factor": 0.0, "saturated": False, "probes": 2}
    lo, hi = 1.0, top
    for _ in range(probes):
        mid = math.sqrt(lo * hi)
        if within(mid):
            lo = mid
        else:
            hi = mid
    return {
        **out,
        "largest_factor": round(lo, 6),
        "first_failing": round(hi, 6),
        "saturated": False,
        "probes": probes + 2,
    }
