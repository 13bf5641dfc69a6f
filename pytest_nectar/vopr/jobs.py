"""What every campaign job shares: its description, its result, the findings it keeps and
the Refinery it runs (stateless verdicts shared by every job of a set-up in one process)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from pytest_nectar.vopr.campaign_setup import Setup
from pytest_nectar.vopr.invariants import Finding
from pytest_nectar.vopr.refinery_sim import DecisionCache, RefinerySim
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.scenario import Scenario

__all__ = ["CHAOS_ACTIVE", "Findings", "Job", "JobResult", "refinery_for"]

CHAOS_ACTIVE = 2.0  # seconds of traffic per simulated hour
_KEEP_FINDINGS = 5  # findings kept per invariant and job (all are counted)


@dataclass(frozen=True)
class Job:
    """A slice of one campaign run that a worker runs alone: a pure function of the set-up
    and these fields, so results do not depend on how many workers there are."""

    campaign: str
    seed: int
    index: int
    first: int
    count: int
    scenario: Scenario | None
    until: int | None = None  # --step: stop after this step, report only it
    size_args: tuple[str, ...] = ()

    def replay_args(self, setup: Setup) -> tuple[str, ...]:
        """What a replay line needs besides campaign and seed."""
        return (*setup.source_args, *self.size_args)


@dataclass(frozen=True)
class JobResult:
    """What a job measured and found; campaign results merge these in job order."""

    iterations: int
    simulated_seconds: float
    traces: int
    kept: int
    checks: int
    digest: str
    findings: tuple[Finding, ...]
    counts: dict[str, int] = field(default_factory=dict)


class Findings:
    """Findings of a job: all counted, the first few of each invariant kept (``only_step``:
    a ``--step`` replay reports that step's findings alone)."""

    def __init__(self, only_step: int | None) -> None:
        self.kept: list[Finding] = []
        self.counts: dict[str, int] = {}
        self.only_step = only_step

    def add(self, findings: list[Finding]) -> None:
        for f in findings:
            if self.only_step is not None and f.step != self.only_step:
                continue
            n = self.counts.get(f.invariant, 0)
            self.counts[f.invariant] = n + 1
            if n < _KEEP_FINDINGS:
                self.kept.append(f)


_CACHES: weakref.WeakKeyDictionary[Setup, DecisionCache] = weakref.WeakKeyDictionary()


def refinery_for(setup: Setup, family: RngFamily) -> RefinerySim:
    """A fresh Refinery whose stateless verdicts are shared by every job of the set-up
    (a pure function of the decision input: results do not depend on which job ran first)."""
    cache = _CACHES.get(setup)
    if cache is None:
        fields = RefinerySim(setup.target, family, setup.model.fields).fields
        shapes = [shape.spans for shape in setup.model.shapes]
        cache = _CACHES[setup] = DecisionCache(fields, shapes)
    return RefinerySim(setup.target, family, setup.model.fields, cache)
