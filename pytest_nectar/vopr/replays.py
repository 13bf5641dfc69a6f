"""The determinism campaign: single steps replayed on two independent simulations, and
randomly mutated policies compiled twice.

Check ``c`` replays a step in ``[20c, 20c + 20)`` of an eleven-year timeline with random
evolutions and faults; every 25th check compiles a mutated policy twice instead.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from pytest_nectar.policy.model import (
    And,
    AvgDynamic,
    Deterministic,
    Drop,
    Dynamic,
    EnvironmentSampler,
    Keep,
    Or,
    Policy,
    Sample,
)
from pytest_nectar.vopr.campaign_setup import Setup
from pytest_nectar.vopr.clock import DAY, HOUR, Timeline
from pytest_nectar.vopr.evolutions import random_evolutions
from pytest_nectar.vopr.faults import random_faults
from pytest_nectar.vopr.invariants import Finding, check_compile_determinism
from pytest_nectar.vopr.jobs import CHAOS_ACTIVE, Findings, Job, JobResult, refinery_for
from pytest_nectar.vopr.refinery_sim import RefinerySim
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.scenario import Scenario, batch_digest

__all__ = ["DETERMINISM_STEPS", "determinism_scenario", "mutate_policy", "run_determinism"]

_STRIDE = 20  # check c replays a step in [20c, 20c + 20)
DETERMINISM_STEPS = 5_000 * _STRIDE


def determinism_scenario(setup: Setup, seed: int) -> Scenario:
    gen = RngFamily("determinism", seed).generator(0, "determinism/plan")
    timeline = Timeline(DETERMINISM_STEPS, HOUR, CHAOS_ACTIVE)
    evolutions = random_evolutions(gen, setup.model, timeline.duration, 6, min_seconds=DAY)
    return Scenario("determinism", seed, timeline, setup.rate, evolutions, random_faults(gen, 3))


def _mutate_sampler(sampler: EnvironmentSampler, gen: np.random.Generator) -> EnvironmentSampler:
    """Another goal for the environment's sampler, or a deterministic one instead."""
    if isinstance(sampler, Deterministic) or int(gen.integers(2)) == 0:
        return Deterministic(int(gen.choice([1, 2, 10, 100])))
    goal = int(gen.integers(1, 1000))
    if isinstance(sampler, AvgDynamic):
        return dataclasses.replace(sampler, sample_rate=goal)
    if isinstance(sampler, Dynamic):
        return dataclasses.replace(sampler, goal_sample_rate=goal)
    return dataclasses.replace(sampler, per_second=goal)


def mutate_policy(policy: Policy, gen: np.random.Generator) -> Policy:
    """A random variant of ``policy``: priorities, actions, rules removed, copied, combined
    (for a policy with an environment sampler and no rules: that sampler changed)."""
    if policy.sampler is not None:
        return dataclasses.replace(policy, sampler=_mutate_sampler(policy.sampler, gen))
    rules = list(policy.rules)
    if not rules:
        return policy
    for n in range(1 + int(gen.integers(3))):
        i = int(gen.integers(len(rules)))
        j = int(gen.integers(len(rules)))
        r = rules[i]
        op = int(gen.integers(6))
        if op == 0:
            rules[i] = dataclasses.replace(r, priority=int(gen.integers(0, 256)))
        elif op == 1:
            actions = (Keep(), Drop(), Sample(denominator=int(gen.choice([2, 10, 100]))))
            rules[i] = dataclasses.replace(r, action=actions[int(gen.integers(3))])
        elif op == 2 and len(rules) > 1:
            del rules[i]
        elif op == 3:
            rules.append(
                dataclasses.replace(r, name=f"{r.name}-m{n}", priority=int(gen.integers(256)))
            )
        elif op == 4:
            rules[i] = dataclasses.replace(r, match=Or((r.match, rules[j].match)))
        else:
            rules[i] = dataclasses.replace(r, match=And((r.match, rules[j].match)))
    ordered = tuple(sorted(rules, key=lambda r: -r.priority))
    return dataclasses.replace(policy, rules=ordered)


def run_determinism(setup: Setup, job: Job) -> JobResult:
    """Checks: every 25th compiles a mutated policy twice; the others replay a step
    on two independent simulations (one long-lived, one rebuilt every 100 checks), each with
    its own Refinery fed the same steps, and compare decision digests (traffic digests every
    10th check)."""
    family = RngFamily("determinism", job.seed)
    scenario = determinism_scenario(setup, job.seed)
    found = Findings(job.until)
    h = hashlib.blake2b(digest_size=16)
    checks = range(job.first, job.first + job.count)
    a_sim = scenario.simulate(setup.model)
    a_ref = refinery_for(setup, a_sim.family)
    # The second Refinery keeps its own verdicts (computed, not shared); only the row codes
    # its decision keys are made of, a pure function of each row, are shared.
    b_ref = RefinerySim(setup.target, a_sim.family, setup.model.fields, a_ref.cache.sibling())
    b_sim = a_sim
    stream = family.stream("determinism/check")  # at(c): the same draws as generator(c, ...)
    for c in checks:
        if job.until is not None and c != job.until:
            continue
        gen = stream.at(c)
        if c % 25 == 0:
            mutated = mutate_policy(setup.target.policy, gen)
            found.add(
                [
                    dataclasses.replace(f, step=c)
                    for f in check_compile_determinism(mutated, f"mutated policy #{c}")
                ]
            )
            h.update(f"c{c}".encode())
            continue
        if c % 100 == 1 or b_sim is a_sim:
            b_sim = scenario.simulate(setup.model)
        step = c * _STRIDE + int(gen.integers(_STRIDE))  # forward: samplers keep state
        a_batch, b_batch = a_sim.batch(step), b_sim.batch(step)
        a_log, b_log = a_ref.run(a_batch), b_ref.run(b_batch)
        first, again = a_log.digest(), b_log.digest()
        if c % 10 == 3:
            first += batch_digest(a_batch)
            again += batch_digest(b_batch)
        h.update(first.encode())
        if first != again:
            found.add(
                [
                    Finding(
                        "determinism",
                        c,
                        step * scenario.timeline.step_seconds,
                        f"step {step} of seed {job.seed:#x} replayed twice gives different "
                        "traffic or decisions",
                        detail={"first": first, "second": again},
                    )
                ]
            )
    n = len(checks) if job.until is None else 1
    return JobResult(n, 0.0, 0, 0, n, h.hexdigest(), tuple(found.kept), found.counts)
