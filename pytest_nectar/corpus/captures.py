"""Captures: the contiguous blocks of time a corpus was recorded in, and the rates they show.

A corpus is often several captures far apart (files from different days or years).  Taken as
one long window, its traces per second are nonsense: two 10-minute captures a year apart
give a rate near zero, every simulation then sees no traffic and every budget passes.  So
the rate is learned per capture: traces are ordered by start time and a gap of more than
:data:`CAPTURE_GAP_S` without a trace starts a new capture; the corpus rate is the weighted
traces (and events) over the captures' summed durations, the time the corpus was really
recording.  A capture shorter than :data:`MIN_CAPTURE_S` (a single trace, a test file's
burst) is too short to time: it adds no rate (one trace in 5 ms is not 200 traces/s of
production).  With no capture long enough there is no rate, and :func:`learn_rate` says why.

The ``traffic`` setting says what production volume the corpus stands for
(``"2000 traces/s"`` or ``"15000 events/s"``; ``config.parse_traffic``), and
:meth:`CorpusRate.scale_to` gives the factor that multiplies the corpus's own sample-rate
weights so the budget and the simulations run at that volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from pytest_nectar.corpus.table import TraceTable
from pytest_nectar.project.settings import Traffic

__all__ = ["CAPTURE_GAP_S", "MIN_CAPTURE_S", "Capture", "CorpusRate", "learn_rate"]

#: A gap longer than this (seconds) between consecutive trace starts separates two captures.
CAPTURE_GAP_S: Final = 3600.0
#: A capture shorter than this (seconds) is too short to learn a rate from.
MIN_CAPTURE_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class Capture:
    """One contiguous block of recording: first and last event time, its weighted amounts."""

    start: float
    end: float
    traces: int
    weighted_traces: float
    weighted_events: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class CorpusRate:
    """The corpus's rate while recording, learned per capture (None: no rate, see ``why``)."""

    captures: tuple[Capture, ...]
    traces_per_s: float | None
    events_per_s: float | None
    recording_s: float
    why: str  # how the rate was learned, or why there is none

    def scale_to(self, traffic: Traffic | None) -> float:
        """The factor that makes the corpus stand for ``traffic`` (1 without one)."""
        if traffic is None:
            return 1.0
        own = self.traces_per_s if traffic.unit == "traces" else self.events_per_s
        if own is None or own <= 0:
            return 1.0
        return traffic.amount / own


def _captures(corpus: TraceTable) -> tuple[Capture, ...]:
    start = np.asarray(corpus.trace_start, dtype=np.float64)
    timed = np.flatnonzero(~np.isnan(start))
    if timed.size == 0:
        return ()
    rows = np.diff(corpus.trace_offsets).astype(np.float64)
    ends = corpus.trace_end
    order = timed[np.argsort(start[timed], kind="stable")]
    s = start[order]
    e = np.where(np.isnan(ends[order]), s, np.fmax(ends[order], s))
    breaks = np.flatnonzero(np.diff(s) > CAPTURE_GAP_S) + 1
    out = []
    for block in np.split(np.arange(order.size), breaks):
        idx = order[block]
        w = corpus.weight[idx]
        out.append(
            Capture(
                float(s[block].min()),
                float(e[block].max()),
                int(block.size),
                float(w.sum()),
                float((w * rows[idx]).sum()),
            )
        )
    return tuple(out)


def learn_rate(corpus: TraceTable) -> CorpusRate:
    """Traces and events per second while recording, over the corpus's captures."""
    captures = _captures(corpus)
    if not captures:
        return CorpusRate((), None, None, 0.0, "the corpus has no usable timestamps")
    timed = [c for c in captures if c.seconds >= MIN_CAPTURE_S]
    seconds = math.fsum(c.seconds for c in timed)
    if not timed or seconds <= 0:
        return CorpusRate(
            captures,
            None,
            None,
            0.0,
            f"no capture of the corpus lasts {MIN_CAPTURE_S:g} s or more ({len(captures)} "
            f"capture(s) split at gaps over {CAPTURE_GAP_S:g} s)",
        )
    traces = math.fsum(c.weighted_traces for c in timed)
    events = math.fsum(c.weighted_events for c in timed)
    how = (
        f"learned from {len(timed)} capture(s) (time blocks split at gaps over "
        f"{CAPTURE_GAP_S:g} s), {seconds:.6g} s of recording"
    )
    if len(timed) < len(captures):
        how += f"; {len(captures) - len(timed)} shorter than {MIN_CAPTURE_S:g} s left out"
    if len(captures) > 1:
        rates = sorted(c.weighted_traces / c.seconds for c in timed)
        how += f"; per capture {rates[0]:.4g}..{rates[-1]:.4g} traces/s"
    return CorpusRate(captures, traces / seconds, events / seconds, seconds, how)
