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

A corpus of several captures far apart is not one long quiet window: the mean divides by
the seconds the corpus was recording (the captures of ``corpus/captures.py``), and
``W = min(window, longest capture)``.  ``scale`` (from the ``traffic`` setting) multiplies
every trace's weight, so the figures are those of the production volume the corpus stands
for.  A budget the offered traffic does not approach (its peak under
:data:`EXERCISED_SHARE` of the budget even if every event were kept) cannot fail on this
corpus: that is a warning, not a pass.

Windows slide over trace start times: for every trace start ``t`` the window
``[t, t + W)``.  The traces are sorted by start
once; every window's end is one binary search and every windowed series one cumulative sum
(O(n log n) in all, no loop over traces).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.captures import CorpusRate, learn_rate
from pytest_nectar.corpus.table import TraceTable
from pytest_nectar.project.settings import Traffic
from pytest_nectar.prover.corpus_proofs import CorpusContext
from pytest_nectar.prover.properties import PropertyResult, Verdict
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig, SamplerConfig
from pytest_nectar.refinery.samplers.settings import sharing_key

__all__ = [
    "EXERCISED_SHARE",
    "BudgetFigures",
    "BudgetWindows",
    "budget_figures",
    "check_budget",
    "prepare_windows",
]

#: Offered traffic below this share of the budget (peak, every event kept) does not
#: exercise the budget: warned, not passed.
EXERCISED_SHARE = 0.1

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
    offered_peak_events: float = 0.0
    scale: float = 1.0
    rate: CorpusRate | None = None


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
        goal = params.get("GoalThroughputPerSec")
        key = sharing_key(config.KIND, params)
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


class BudgetWindows:
    """Sums over the sliding windows ``[t, t + width)``, for every sorted trace start ``t``.

    The timed traces are sorted once (not at all when the corpus already is) and each
    window's end found once by binary search; a series is then one cumulative sum and a
    difference: O(n log n) in all, O(n) per series.  Independent of the decisions, so
    :func:`prepare_windows` can run while the corpus is evaluated.
    """

    def __init__(self, start: FloatArray, timed: npt.NDArray[np.bool_], width: float) -> None:
        self.width = width
        self.index: npt.NDArray[np.intp] | None = None  # None: every trace, in order
        times = start if timed.all() else start[timed]
        if not bool((times[1:] >= times[:-1]).all()):
            order = np.argsort(times, kind="stable")
            times = times[order]
            self.index = order if timed.all() else np.flatnonzero(timed)[order]
        elif not timed.all():
            self.index = np.flatnonzero(timed)
        self.times = times
        self.hi = np.searchsorted(times, times + width, side="left")

    def cumulative(self, values: FloatArray) -> FloatArray:
        ordered = values if self.index is None else values[self.index]
        return np.concatenate(([0.0], np.cumsum(ordered)))

    def sums(self, cum: FloatArray) -> FloatArray:
        return np.asarray(cum[self.hi] - cum[:-1], dtype=np.float64)

    def sum_at(self, cum: FloatArray, i: int) -> float:
        return float(cum[self.hi[i]] - cum[i])


def prepare_windows(corpus: TraceTable, window_s: float) -> tuple[BudgetWindows, CorpusRate] | str:
    """The windows and the rate they were learned at (its seconds recorded), or why there
    are none (no decisions needed)."""
    if corpus.n_traces == 0:
        return "the corpus has no traces"
    start = np.asarray(corpus.trace_start, dtype=np.float64)
    timed = ~np.isnan(start)
    duration = corpus.duration_s
    if not timed.any() or math.isnan(duration) or duration <= 0:
        return "the corpus has no usable timestamps (events per second need a time span)"
    rate = learn_rate(corpus)
    if rate.recording_s <= 0:
        return rate.why
    longest = max(c.seconds for c in rate.captures)
    return BudgetWindows(start, timed, min(window_s, longest)), rate


def budget_figures(
    ctx: CorpusContext,
    window_s: float,
    prepared: tuple[BudgetWindows, CorpusRate] | str | None = None,
    scale: float = 1.0,
) -> BudgetFigures | str:
    """The figures, or why they cannot be computed (``prepared``: from prepare_windows;
    ``scale``: the traffic factor that multiplies every trace's weight)."""
    windows_or_why = prepare_windows(ctx.corpus, window_s) if prepared is None else prepared
    if isinstance(windows_or_why, str):
        return windows_or_why
    windows, rate = windows_or_why
    duration = rate.recording_s
    corpus = ctx.corpus
    weight = np.asarray(corpus.weight, dtype=np.float64) * scale
    events = np.diff(corpus.trace_offsets).astype(np.float64) * weight
    prob = np.asarray(ctx.decisions.keep_probability, dtype=np.float64)
    traces = weight
    group, goals = _groups(ctx)
    width = windows.width

    if goals:
        plain = group < 0
        kept_ev = np.where(plain, events * prob, 0.0)
        kept_tr = np.where(plain, traces * prob, 0.0)
    else:
        kept_ev, kept_tr = events * prob, traces * prob
    mean_ev = float(kept_ev.sum()) / duration
    mean_tr = float(kept_tr.sum()) / duration
    win_ev = windows.sums(windows.cumulative(kept_ev))
    # Per throughput group: offered events per window, and the cumulative traces (only
    # the peak window's traces/s is reported, so only it is computed).
    capped_groups: list[tuple[FloatArray, FloatArray, FloatArray]] = []
    for g, goal in enumerate(goals):
        sel = group == g
        offered_ev = np.where(sel, events, 0.0)
        offered_tr = np.where(sel, traces, 0.0)
        total = float(offered_ev.sum())
        kept = min(total, goal * duration)
        mean_ev += kept / duration
        mean_tr += float(offered_tr.sum()) * (kept / total if total else 0.0) / duration
        w_ev = windows.sums(windows.cumulative(offered_ev))
        capped = np.minimum(w_ev, goal * width)
        win_ev = win_ev + capped
        capped_groups.append((w_ev, capped, windows.cumulative(offered_tr)))
    offered = windows.sums(windows.cumulative(events))
    offered_peak = float(offered.max()) / width if len(offered) else 0.0
    peak = int(np.argmax(win_ev)) if len(win_ev) else 0
    peak_tr = windows.sum_at(windows.cumulative(kept_tr), peak)
    for w_ev, capped, cum_tr in capped_groups:
        ratio = float(capped[peak] / w_ev[peak]) if w_ev[peak] > 0 else 0.0
        peak_tr = peak_tr + windows.sum_at(cum_tr, peak) * ratio
    return BudgetFigures(
        mean_events=mean_ev,
        mean_traces=mean_tr,
        peak_events=float(win_ev[peak]) / width,
        peak_traces=peak_tr / width,
        peak_start=float(windows.times[peak]),
        window_s=width,
        duration_s=duration,
        offered_peak_events=offered_peak,
        scale=scale,
    )


def check_budget(
    ctx: CorpusContext,
    budget: float | None,
    window_s: float,
    prepared: tuple[BudgetWindows, CorpusRate] | str | None = None,
    traffic: Traffic | None = None,
) -> PropertyResult:
    """Kept events/s against the budget, at the corpus's rate or at ``traffic``."""
    # The rate prepare_windows learned (it sorted every trace start): not learned twice.
    rate = prepared[1] if isinstance(prepared, tuple) else learn_rate(ctx.corpus)
    scale = rate.scale_to(traffic)
    figures = budget_figures(ctx, window_s, prepared, scale)
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
        "recording_s": round(rate.recording_s, 6),
        "captures": len(rate.captures),
        "offered_peak_events_per_second": round(figures.offered_peak_events, 6),
        "traffic": str(traffic) if traffic is not None else None,
        "traffic_scale": scale,
        "traces": ctx.corpus.n_traces,
    }
    at = (
        f"at {traffic} (the corpus's weights x{scale:.4g})"
        if traffic is not None
        else "at the corpus's own rate"
    )
    text = (
        f"mean {figures.mean_events:.4g} events/s ({figures.mean_traces:.4g} traces/s), "
        f"peak {figures.peak_events:.4g} events/s ({figures.peak_traces:.4g} traces/s) "
        f"over {figures.window_s:g} s windows, {at}; rate {rate.why}"
    )
    if budget is None:
        return PropertyResult(
            "budget",
            Verdict.UNKNOWN,
            f"no budget set (budget_per_second or --budget); {text}",
            figures=data,
        )
    over = max(figures.mean_events, figures.peak_events) > budget
    if not over and figures.offered_peak_events < EXERCISED_SHARE * budget:
        return PropertyResult(
            "budget",
            Verdict.WARN,
            f"not exercised: even keeping every event, the traffic peaks at "
            f"{figures.offered_peak_events:.4g} events/s, under {EXERCISED_SHARE:.0%} of the "
            f"budget {budget:g} events/s; set traffic (the production rate the corpus stands "
            f"for) to check it at production volume; {text}",
            figures=data,
        )
    verdict = Verdict.FAIL if over else Verdict.PASS
    word = "exceeds" if over else "within"
    return PropertyResult(
        "budget",
        verdict,
        f"{word} {budget:g} events/s: {text}",
        figures=data,
        total_failing=int(over),
    )
