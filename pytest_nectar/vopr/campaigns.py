"""Campaigns: seeded simulations of a policy that check real invariants and can fail.

- ``chaos``: faulty traffic (missing fields, wrong types, NaN, extremes, duplicates, orphans,
  skew, truncation) one step per simulated hour; every 200th iteration also corrupts the policy
  text or the compiled rules text.  Refinery restarts every 1,000 iterations (a chunk).
- ``evolution``: one step per simulated day (drifting through the hours of the day) with random
  evolutions (error storms, latency regressions, new services, renamed and retyped fields,
  giant and rootless traces); samplers keep their state for the whole year.
- ``determinism``: replays single steps alone (traffic and decision digests must match) and
  compiles randomly mutated policies twice (the same bytes, or the same error).
- ``storm``: an x10 error storm over ten windows, plus the headroom: the largest error-share
  multiplier whose storm stays within the budget, by deterministic bisection.

Work is cut into jobs that do not depend on the number of workers; results merge in job order.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import UsageError
from pytest_nectar.policy.model import Policy
from pytest_nectar.project.settings import ProjectSettings, Traffic
from pytest_nectar.vopr import runs
from pytest_nectar.vopr.campaign_setup import Setup
from pytest_nectar.vopr.invariants import Finding
from pytest_nectar.vopr.rng import format_seed, replay_command
from pytest_nectar.vopr.runs import (
    CAMPAIGNS,
    DEFAULT_SIZES,
    SHORT_SIZES,
    Job,
    JobResult,
    fails_like,
    jobs_for,
    run_job,
    storm_headroom,
)
from pytest_nectar.vopr.shrink import shrink

__all__ = [
    "CAMPAIGNS",
    "DEFAULT_SIZES",
    "MIN_SIMULATED_TRACES",
    "SHORT_SIZES",
    "CampaignResult",
    "Setup",
    "Violation",
    "run_campaign",
    "run_campaigns",
    "run_seed",
]

_MAX_SHRUNK = 3  # violations shrunk per campaign run (the first of each invariant)

#: A campaign that simulated fewer traces than this rests on too little traffic to mean
#: anything: a warning (a failure under strict); none at all is an error.
MIN_SIMULATED_TRACES = 100
#: A storm-headroom probe is one storm run: weighed like a storm job of one iteration.
_STORM_PROBE = 30.0


@dataclass(frozen=True)
class Violation:
    """An invariant broken: seed, simulated time, scenario, traces, the shrunk scenario."""

    campaign: str
    seed: int
    invariant: str
    step: int | None
    time: float | None
    message: str
    traces: tuple[dict[str, Any], ...]
    detail: dict[str, Any]
    scenario: dict[str, Any] | None
    shrunk: dict[str, Any] | None
    replay: str

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "seed": format_seed(self.seed),
            "invariant": self.invariant,
            "step": self.step,
            "time": self.time,
            "message": self.message,
            "traces": list(self.traces),
            "detail": self.detail,
            "scenario": self.scenario,
            "shrunk": self.shrunk,
            "replay": self.replay,
        }


@dataclass(frozen=True)
class CampaignResult:
    """A campaign run: sizes, simulated time, digests and violations (wall time aside)."""

    campaign: str
    seed: int
    iterations: int
    simulated_seconds: float
    traces: int
    kept: int
    checks: int
    digest: str
    violations: tuple[Violation, ...]
    violation_counts: dict[str, int]
    headroom: dict[str, Any] | None
    wall_seconds: float
    rate: float = 0.0  # the traces/s simulated
    rate_note: str = ""  # how that rate was found
    min_traces: int = MIN_SIMULATED_TRACES

    @property
    def ok(self) -> bool:
        return not self.violations

    def evidence(self) -> tuple[str, str] | None:
        """``("error" | "warning", why)`` when the run rests on too little traffic."""
        if self.traces == 0:
            return "error", (
                f"simulated no trace: nothing was checked (traffic {self.rate:.4g} traces/s, "
                f"{self.rate_note})"
            )
        if self.traces < self.min_traces:
            return "warning", (
                f"simulated only {self.traces} traces, under the minimum of {self.min_traces} "
                f"(traffic {self.rate:.4g} traces/s, {self.rate_note})"
            )
        return None

    @property
    def passed(self) -> bool:
        return not self.violations

    def render(self) -> str:
        """The human summary: one line of figures, then per violation what broke and the
        one-line replay command."""
        days = self.simulated_seconds / 86400.0
        lines = [
            f"vopr {self.campaign} seed {format_seed(self.seed)}: {self.iterations} iterations, "
            f"{days:.6g} simulated days, {self.traces} traces ({self.kept} kept), "
            f"{self.checks} checks, {self.wall_seconds:.2f} s wall, "
            f"{sum(self.violation_counts.values())} violation(s)",
            f"  traffic: {self.rate:.4g} traces/s ({self.rate_note})",
        ]
        problem = self.evidence()
        if problem is not None:
            lines.append(f"  {problem[0].upper()}: {problem[1]}")
        if self.headroom is not None:
            h = self.headroom
            if h.get("saturated") and self.traces == 0:
                pass  # "within budget" about no traffic at all would be a vacuous green
            elif h.get("saturated"):
                lines.append(
                    f"  storm headroom: within budget even when every trace is an error "
                    f"(error share x{h['largest_factor']:.4g})"
                )
            else:
                lines.append(
                    f"  storm headroom: error share x{h['largest_factor']:.4g} stays within "
                    f"budget (corpus error share {h['error_share']:.4g})"
                )
        for name, n in sorted(self.violation_counts.items()):
            lines.append(f"  {name}: {n}")
        for v in self.violations:
            when = "" if v.time is None else f" at t={v.time:.6g}s"
            step = "" if v.step is None else f" (step {v.step})"
            lines.append(f"  VIOLATION {v.invariant}{step}{when}: {v.message}")
            for t in v.traces[:3]:
                lines.append(f"    trace {t.get('trace_id')} {t}")
            if v.shrunk is not None:
                lines.append("    shrunk to: " + v.shrunk["text"].replace("\n", "\n      "))
            lines.append(f"    replay: {v.replay}")
        return "\n".join(lines)

    def summary(self, *, wall: bool = True) -> dict[str, Any]:
        """JSON-ready summary; ``wall=False`` leaves out the only non-deterministic figure."""
        out: dict[str, Any] = {
            "campaign": self.campaign,
            "seed": format_seed(self.seed),
            "iterations": self.iterations,
            "simulated_seconds": self.simulated_seconds,
            "simulated_days": self.simulated_seconds / 86400.0,
            "traces": self.traces,
            "kept": self.kept,
            "checks": self.checks,
            "digest": self.digest,
            "violations": [v.to_json() for v in self.violations],
            "violation_counts": dict(sorted(self.violation_counts.items())),
            "headroom": self.headroom,
            "rate": self.rate,
            "rate_note": self.rate_note,
            "evidence": None if self.evidence() is None else list(self.evidence() or ()),
        }
        if wall:
            out["wall_seconds"] = self.wall_seconds
        return out


def _executor(workers: int) -> ProcessPoolExecutor | None:
    if workers <= 1 or os.name != "posix":
        return None
    import multiprocessing

    # fork: workers inherit the set-up (corpus, compiled rules) instead of rebuilding it.
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))


def _weight(job: Job) -> float:
    """Rough cost of a job in chaos steps (an evolution day carries ~30x a chaos step's
    traffic; a determinism check runs two steps)."""
    per = {"evolution": 30.0, "storm": 30.0, "determinism": 2.0}.get(job.campaign, 1.0)
    return per * job.count


def _run_jobs(
    setup: Setup, jobs: Sequence[Job], workers: int, done: Callable[[float], None] | None = None
) -> list[JobResult]:
    """Run the jobs; ``done(weight)`` after each (progress: the weights sum to the total)."""
    pool = _executor(min(workers, len(jobs)))
    if pool is None:
        out = []
        for job in jobs:
            out.append(run_job(setup, job))
            if done is not None:
                done(_weight(job))
        return out
    runs.CURRENT = setup  # forked workers inherit it: the set-up holds closures
    try:
        with pool:
            # Longest first (one job per evolution or storm run), so no long job starts last;
            # results are still merged in job order.
            order = sorted(range(len(jobs)), key=lambda i: (-_weight(jobs[i]), i))
            futures = {i: pool.submit(runs.run_current, jobs[i]) for i in order}
            if done is not None:
                index = {f: i for i, f in futures.items()}
                for finished in as_completed(futures.values()):
                    done(_weight(jobs[index[finished]]))
            return [futures[i].result() for i in range(len(jobs))]
    finally:
        runs.CURRENT = None


def _violation(setup: Setup, job: Job, finding: Finding, do_shrink: bool) -> Violation:
    scenario = job.scenario
    shrunk = None
    if do_shrink and scenario is not None and finding.step is not None:
        result = shrink(
            scenario, lambda s: fails_like(setup, job, s, finding.invariant), max_attempts=40
        )
        shrunk = {
            "scenario": result.scenario.describe(),
            "text": str(result.scenario),
            "attempts": result.attempts,
            "trail": list(result.trail),
        }
    return Violation(
        job.campaign,
        job.seed,
        finding.invariant,
        finding.step,
        finding.time,
        finding.message,
        finding.traces,
        finding.detail,
        None if scenario is None else scenario.describe(),
        shrunk,
        replay_command(job.campaign, job.seed, finding.step, job.replay_args(setup)),
    )


def _merge(
    setup: Setup,
    campaign: str,
    seed: int,
    results: Sequence[tuple[Job, JobResult]],
    headroom: dict[str, Any] | None,
    wall: float,
    do_shrink: bool,
) -> CampaignResult:
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    counts: dict[str, int] = {}
    violations: list[Violation] = []
    shrunk_kinds: set[str] = set()
    for job, r in results:
        h.update(r.digest.encode())
        for name, n in r.counts.items():
            counts[name] = counts.get(name, 0) + n
        for f in r.findings:
            first = f.invariant not in shrunk_kinds and len(shrunk_kinds) < _MAX_SHRUNK
            if first:
                shrunk_kinds.add(f.invariant)
                violations.append(_violation(setup, job, f, do_shrink))
    return CampaignResult(
        campaign,
        seed,
        sum(r.iterations for _, r in results),
        sum(r.simulated_seconds for _, r in results),
        sum(r.traces for _, r in results),
        sum(r.kept for _, r in results),
        sum(r.checks for _, r in results),
        h.hexdigest(),
        tuple(violations),
        counts,
        headroom,
        wall,
    )


def run_campaigns(
    setup: Setup,
    campaigns: Sequence[str],
    seed: int,
    *,
    sizes: dict[str, int] | None = None,
    step: int | None = None,
    workers: int = 1,
    do_shrink: bool = True,
    progress: Callable[[float], Callable[[float], None]] | None = None,
) -> list[CampaignResult]:
    """Several campaigns for one seed, their jobs sharing one pool of ``workers`` processes.

    ``progress(total)``, when given, is called once with the total work (jobs weighted by
    their rough cost) and returns the function to call with each finished job's weight.
    """
    start = time.perf_counter()
    plan: list[tuple[str, list[Job]]] = []
    for name in campaigns:
        size = (sizes or {}).get(name, DEFAULT_SIZES[name])
        plan.append((name, jobs_for(setup, name, seed, size, step)))
    flat = [job for _, jobs in plan for job in jobs]
    probes = (sizes or {}).get("storm", DEFAULT_SIZES["storm"])
    bisecting = "storm" in campaigns and step is None and setup.target.budget is not None
    total = sum(_weight(j) for j in flat) + (_STORM_PROBE * (probes + 2) if bisecting else 0.0)
    done = progress(total) if progress is not None else None
    results = iter(_run_jobs(setup, flat, workers, done))
    out = []
    for name, jobs in plan:
        mine = [(job, next(results)) for job in jobs]
        headroom = None
        if name == "storm" and step is None:
            headroom = _headroom(setup, seed, probes, done)
        out.append(_merge(setup, name, seed, mine, headroom, 0.0, do_shrink))
    wall = time.perf_counter() - start
    return [_finish(r, setup, wall, 1 if step is not None else MIN_SIMULATED_TRACES) for r in out]


def _headroom(
    setup: Setup, seed: int, probes: int, done: Callable[[float], None] | None
) -> dict[str, Any] | None:
    """The storm headroom, each probe advancing the progress (the skipped ones at the end)."""
    used = [0]

    def probe_done(_units: float) -> None:
        used[0] += 1
        if done is not None:
            done(_STORM_PROBE)

    headroom = storm_headroom(setup, seed, probes, probe_done)
    if done is not None and headroom is not None:
        done(_STORM_PROBE * max(0, probes + 2 - used[0]))
    return headroom


def _finish(result: CampaignResult, setup: Setup, wall: float, minimum: int) -> CampaignResult:
    from dataclasses import replace

    return replace(
        result,
        wall_seconds=wall,
        rate=setup.rate.base,
        rate_note=setup.rate_note,
        min_traces=minimum,
    )


def run_campaign(
    setup: Setup,
    campaign: str,
    seed: int,
    *,
    size: int | None = None,
    step: int | None = None,
    workers: int = 1,
    do_shrink: bool = True,
) -> CampaignResult:
    """One campaign for one seed (``size``: iterations, days, checks or bisection probes)."""
    sizes = {campaign: size} if size is not None else None
    return run_campaigns(
        setup, [campaign], seed, sizes=sizes, step=step, workers=workers, do_shrink=do_shrink
    )[0]


def run_seed(
    policy_path_or_policy: str | os.PathLike[str] | Policy,
    corpus: Corpus | str | os.PathLike[str] | None,
    campaign: str,
    seed: int,
    *,
    iterations: int | None = None,
    days: int | None = None,
    budget: float | None = None,
    window_s: float = 60.0,
    rate: float | None = None,
    traffic: Traffic | None = None,
    settings: ProjectSettings | None = None,
) -> CampaignResult:
    """A short campaign for one seed, as a pytest ``vopr[<campaign>-<seed>]`` item runs it.

    ``iterations`` (chaos, determinism, storm probes) or ``days`` (evolution) override the
    short defaults; ``budget`` overrides the policy's ``budget_per_second``; ``rate`` the
    traces per second learned from the corpus; ``settings`` the error expression (as
    ``prove`` resolves it).  Raises ``UsageError`` for an unknown campaign.
    """
    if corpus is None:
        raise UsageError(
            "a simulation needs a corpus to learn traffic from",
            hint="set corpus in [tool.nectar] or pass --corpus",
        )
    setup = Setup.build(
        policy_path_or_policy,
        corpus,
        budget=budget,
        window_s=window_s,
        rate=rate,
        traffic=traffic,
        settings=settings,
    )
    size = days if campaign == "evolution" else iterations
    if size is None:
        size = SHORT_SIZES.get(campaign)
    if size is not None and not math.isfinite(size):
        size = None
    return run_campaign(setup, campaign, seed, size=size, workers=1)
