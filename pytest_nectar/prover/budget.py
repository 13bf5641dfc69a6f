"""The ``budget`` property: kept events per second, on average and at the windowed peak.

Events are what Refinery's throughput samplers count: spans plus span events and links
(every corpus row).  Each trace contributes ``weight * events * keep_probability`` from the
shared decisions (compiled rates ``1/N``; a dynamic sampler's first-call rate is its goal
rate, which is also its steady-state mean).

Throughput samplers get a steady-state bound instead of their first-call rate.  The bound:
the traces a throughput sampler decides (rules sharing one sampler instance, as Refinery
shares identical configs, count together) keep ``min(offered events/s, goal)`` events/s,
where ``goal`` is ``GoalThroughputPerSec`` for one Refinery instance (EMAThroughput aims
``sum(count/rate) ~= goal * AdjustmentInterval`` per interval; Windowed and Total divide
the goal among keys the same way).  With ``UseClusterSize`` the per-instance goal is lower,
so the bound stays an upper bound.  Transients (the initial rate, bursts) are the
simulator's business.  The traces/s figure is scaled by the same ratio.

Windows slide over trace start times: for every trace start ``t`` the window
``[t, t + W)``, with ``W = min(window, corpus duration)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pytest_nectar.prover.corpus import CorpusContext
from pytest_nectar.prover.properties import PropertyResult, Verdict
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig, SamplerConfig

__all__ = ["BudgetFigures", "budget_figures", "check_budget"]

_THROUGHPUT = ("EMAThroughputSampler", "WindowedThroughputSampler", "TotalThroughputSampler")
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BudgetFigures:
    mean_events: float
    mean_traces: float
    peak_events: float
    peak_traces: float
    peak_start: float
    window_s: float
    duration_s: float


def _groups(ctx: CorpusContext) -> tuple[npt.NDArray[np.int32], list[float]]:
    """Per trace its throughput group (-1: none), and each group's goal (events/s)."""
    n = ctx.corpus.n_traces
    group = np.full(n, -1, dtype=np.int32)
    goals: list[float] = []
    keys: dict[str, int] = {}

    def add(config: SamplerConfig | None, where: npt.NDArray[np.bool_]) -> None:
        if config is None or config.KIND not in _THROUGHPUT:
            return
        params = config.params()
        fields = sorted(str(f) for f in params.get("FieldList", []))  # type: ignore[attr-defined]
        goal = params.get("GoalThroughputPerSec")
        key = f"{config.KIND}:{goal}:{fields}"
        if key not in keys:
            keys[key] = len(goals)
            goals.append(float(goal) if isinstance(goal, int | float) else 1.0)
        group[where] = keys[key]

    if isinstance(ctx.evaluator.sampler, RulesBasedSamplerConfig):
        for i, (rule, _) in enumerate(ctx.evaluator.compiled_rules):
            add(rule.downstream, np.asarray(ctx.decisions.rule_index == i))
    else:
        add(ctx.evaluator.sampler, np.ones(n, dtype=np.bool_))
    return group, goals


def _window_sums(times: FloatArray, values: FloatArray, width: float) -> FloatArray:
    """For each sorted start time t, the sum of ``values`` with time in [t, t + width)."""
    cum = np.concatenate(([0.0], np.cumsum(values)))
    lo = np.arange(len(times))
    hi = np.searchsorted(times, times + width, side="left")
    return np.asarray(cum[hi] - cum[lo], dtype=np.float64)


def budget_figures(ctx: CorpusContext, window_s: float) -> BudgetFigures | str:
    """The figures, or why they cannot be computed."""
    corpus = ctx.corpus
    if corpus.n_traces == 0:
        return "the corpus has no traces"
    start = np.asarray(corpus.trace_start, dtype=np.float64)
    timed = ~np.isnan(start)
    duration = corpus.duration_s
    if not timed.any() or math.isnan(duration) or duration <= 0:
        return "the corpus has no usable timestamps (events per second need a time span)"
    events = np.diff(corpus.trace_offsets).astype(np.float64) * corpus.weight
    prob = np.asarray(ctx.decisions.keep_probability, dtype=np.float64)
    traces = np.asarray(corpus.weight, dtype=np.float64)
    group, goals = _groups(ctx)
    plain = group < 0
    order = np.argsort(start[timed], kind="stable")
    times = start[timed][order]
    width = min(window_s, duration)

    def series(values: FloatArray) -> FloatArray:
        return np.asarray(values[timed][order], dtype=np.float64)

    kept_ev = np.where(plain, events * prob, 0.0)
    kept_tr = np.where(plain, traces * prob, 0.0)
    mean_ev = float(kept_ev.sum()) / duration
    mean_tr = float(kept_tr.sum()) / duration
    win_ev = _window_sums(times, series(kept_ev), width)
    win_tr = _window_sums(times, series(kept_tr), width)
    for g, goal in enumerate(goals):
        sel = group == g
        offered_ev = np.where(sel, events, 0.0)
        offered_tr = np.where(sel, traces, 0.0)
        total = float(offered_ev.sum())
        kept = min(total, goal * duration)
        mean_ev += kept / duration
        mean_tr += float(offered_tr.sum()) * (kept / total if total else 0.0) / duration
        w_ev = _window_sums(times, series(offered_ev), width)
        w_tr = _window_sums(times, series(offered_tr), width)
        capped = np.minimum(w_ev, goal * width)
        ratio = np.divide(capped, w_ev, out=np.zeros_like(w_ev), where=w_ev > 0)
        win_ev = win_ev + capped
        win_tr = win_tr + w_tr * ratio
    peak = int(np.argmax(win_ev)) if len(win_ev) else 0
    return BudgetFigures(
        mean_events=mean_ev,
        mean_traces=mean_tr,
        peak_events=float(win_ev[peak]) / width,
        peak_traces=float(win_tr[peak]) / width,
        peak_start=float(times[peak]),
        window_s=width,
        duration_s=duration,
    )


def check_budget(ctx: CorpusContext, budget: float | None, window_s: float) -> PropertyResult:
    figures = budget_figures(ctx, window_s)
    if isinstance(figures, str):
        return PropertyResult("budget", Verdict.UNKNOWN, f"budget unknown: {figures}")
    data = {
        "budget_per_second": budget,
        "mean_events_per_second": round(figures.mean_events, 6),
        "mean_traces_per_second": round(figures.mean_traces, 6),
        "peak_events_per_second": round(figures.peak_events, 6),
        "peak_traces_per_second": round(figures.peak_traces, 6),
        "peak_window_start": figures.peak_start,
        "window_s": figures.window_s,
        "corpus_duration_s": round(figures.duration_s, 6),
    }
    text = (
        f"mean {figures.mean_events:.4g} events/s ({figures.mean_traces:.4g} traces/s), "
        f"peak {figures.peak_events:.4g} events/s ({figures.peak_traces:.4g} traces/s) "
        f"over {figures.window_s:g} s windows"
    )
    if budget is None:
        return PropertyResult(
            "budget",
            Verdict.UNKNOWN,
            f"no budget set (budget_per_second or --budget); {text}",
            figures=data,
        )
    over = max(figures.mean_events, figures.peak_events) > budget
    verdict = Verdict.FAIL if over else Verdict.PASS
    word = "exceeds" if over else "within"
    return PropertyResult(
        "budget",
        verdict,
        f"{word} {budget:g} events/s: {text}",
        figures=data,
        total_failing=int(over),
    )
