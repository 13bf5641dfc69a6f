"""Budget verdicts against a brute-force count on small hand-built corpora."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nectar.corpus.table import KIND_INT, Column, Corpus, StringPool
from pytest_nectar.policy.error_criteria import default_error_match
from pytest_nectar.prover import Verdict
from pytest_nectar.prover.budget import budget_figures, check_budget
from pytest_nectar.prover.corpus_proofs import CorpusContext
from pytest_nectar.prover.target import Target, probe_of
from pytest_nectar.refinery import rules_model as rm


def make_corpus(traces: list[tuple[float, int, float, int]]) -> Corpus:
    """``(start time, events, weight, status)`` per trace; the status is on every row."""
    lengths = [n for _, n, _, _ in traces]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    rows = int(offsets[-1])
    row_trace = np.repeat(np.arange(len(traces), dtype=np.int32), lengths)
    statuses = np.repeat(np.array([s for *_, s in traces], dtype=np.int64), lengths)
    column = Column(
        "http.status_code",
        np.arange(rows, dtype=np.int64),
        np.full(rows, KIND_INT, dtype=np.uint8),
        statuses,
        statuses.astype(np.float64),
        np.full(rows, -1, dtype=np.int32),
        StringPool.from_strings([]),
    )
    times = np.repeat(np.array([t for t, *_ in traces], dtype=np.float64), lengths)
    return Corpus(
        trace_ids=tuple(f"t{i}" for i in range(len(traces))),
        trace_offsets=offsets,
        row_trace=row_trace,
        is_root=np.zeros(rows, dtype=np.bool_),
        root_row=np.full(len(traces), -1, dtype=np.int64),
        row_time=times,
        trace_start=np.array([t for t, *_ in traces], dtype=np.float64),
        weight=np.array([w for _, _, w, _ in traces], dtype=np.float64),
        must_keep=np.zeros(len(traces), dtype=np.bool_),
        must_keep_reasons={},
        columns={"http.status_code": column},
        digest="test",
    )


RULES = rm.RulesFile(
    2,
    {
        "__default__": rm.SamplerEntry(
            (
                rm.RulesBasedSamplerConfig(
                    rules=(
                        rm.Rule(
                            "keep",
                            sample_rate=1,
                            conditions=(rm.Condition("http.status_code", None, ">=", 500, "int"),),
                        ),
                        rm.Rule(
                            "drop",
                            drop=True,
                            conditions=(rm.Condition("http.status_code", None, "=", 404, "int"),),
                        ),
                        rm.Rule("rest", sample_rate=4),
                    )
                ),
            )
        )
    },
)
PROB = {500: 1.0, 404: 0.0, 200: 0.25}


def _ctx(corpus: Corpus) -> CorpusContext:
    target = Target("t", RULES, None, probe_of(default_error_match()))
    return CorpusContext.evaluate(target, corpus, None)


TRACES = st.lists(
    st.tuples(
        st.integers(0, 300).map(float),
        st.integers(1, 6),
        st.sampled_from([1.0, 2.0, 10.0]),
        st.sampled_from([500, 404, 200]),
    ),
    min_size=2,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(TRACES, st.sampled_from([10.0, 60.0]), st.floats(1, 200))
def test_budget_matches_brute_force(traces, window, budget) -> None:  # type: ignore[no-untyped-def]
    corpus = make_corpus(traces)
    figures = budget_figures(_ctx(corpus), window)
    times = [t for t, *_ in traces]
    duration = max(times) - min(times)
    if duration <= 0:
        assert isinstance(figures, str)
        return
    assert not isinstance(figures, str)
    kept = [n * w * PROB[s] for _, n, w, s in traces]
    kept_tr = [w * PROB[s] for _, _, w, s in traces]
    assert math.isclose(figures.mean_events, sum(kept) / duration, rel_tol=1e-9)
    assert math.isclose(figures.mean_traces, sum(kept_tr) / duration, rel_tol=1e-9)
    width = min(window, duration)
    peak = max(
        sum(k for (t, *_), k in zip(traces, kept, strict=True) if start <= t < start + width)
        for start in times
    )
    assert math.isclose(figures.peak_events, peak / width, rel_tol=1e-9, abs_tol=1e-12)
    at = figures.peak_start  # traces/s is reported for the peak window
    in_peak = [k for (t, *_), k in zip(traces, kept, strict=True) if at <= t < at + width]
    assert math.isclose(sum(in_peak), peak, rel_tol=1e-9, abs_tol=1e-12)
    peak_tr = sum(k for (t, *_), k in zip(traces, kept_tr, strict=True) if at <= t < at + width)
    assert math.isclose(figures.peak_traces, peak_tr / width, rel_tol=1e-9, abs_tol=1e-12)
    result = check_budget(_ctx(corpus), budget, window)
    over = max(sum(kept) / duration, peak / width) > budget
    offered = [n * w for _, n, w, _ in traces]
    offered_peak = max(
        sum(k for (t, *_), k in zip(traces, offered, strict=True) if start <= t < start + width)
        for start in times
    )
    assert math.isclose(figures.offered_peak_events, offered_peak / width, rel_tol=1e-9)
    unexercised = offered_peak / width < 0.1 * budget  # cannot fail here: a warning
    expected = Verdict.FAIL if over else Verdict.WARN if unexercised else Verdict.PASS
    assert result.verdict is expected


def test_traces_without_start_time_are_left_out_of_windows() -> None:
    traces = [(30.0, 2, 1.0, 200), (0.0, 4, 1.0, 500), (10.0, 3, 2.0, 500), (5.0, 1, 1.0, 500)]
    corpus = make_corpus(traces)
    start = corpus.trace_start.copy()
    start[3] = math.nan  # its rows keep their time: the duration is still 30 s
    figures = budget_figures(_ctx(dataclasses.replace(corpus, trace_start=start)), 20.0)
    assert not isinstance(figures, str)
    assert figures.mean_events == (2 * 0.25 + 4 + 6 + 1) / 30  # every trace in the mean
    assert figures.peak_start == 0.0  # windows start at timed traces only: [0, 20)
    assert figures.peak_events == (4 + 6) / 20
    assert figures.peak_traces == (1 + 2) / 20


def test_no_timestamps_is_unknown() -> None:
    corpus = make_corpus([(0.0, 2, 1.0, 200), (0.0, 1, 1.0, 500)])
    corpus = Corpus(
        **{**corpus.__dict__, "trace_start": np.full(2, np.nan), "row_time": np.full(3, np.nan)}
    )
    result = check_budget(_ctx(corpus), 10, 60)
    assert result.verdict is Verdict.UNKNOWN
    assert "no usable timestamps" in result.summary


def test_throughput_sampler_is_bounded_by_its_goal() -> None:
    throughput = rm.EMAThroughputSamplerConfig(goal_throughput_per_sec=2, field_list=("a",))
    rules = rm.RulesFile(
        2,
        {
            "__default__": rm.SamplerEntry(
                (
                    rm.RulesBasedSamplerConfig(
                        rules=(rm.Rule("all", sampler=rm.SamplerEntry((throughput,))),)
                    ),
                )
            )
        },
    )
    corpus = make_corpus([(float(t), 5, 1.0, 200) for t in range(11)])  # 55 events in 10 s
    ctx = CorpusContext.evaluate(
        Target("t", rules, None, probe_of(default_error_match())), corpus, None
    )
    figures = budget_figures(ctx, 60)
    assert not isinstance(figures, str)
    assert math.isclose(figures.mean_events, 2.0)  # min(5.5 offered, goal 2)
    assert figures.peak_events <= 2.0 + 1e-9
