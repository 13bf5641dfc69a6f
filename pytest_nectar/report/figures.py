"""Corpus figures for reports: per-trace kept amounts, per service, over time.

Every figure is read off one :class:`~pytest_nectar.refinery.vector.CorpusDecisions`:
a trace contributes ``weight`` incoming traces and ``weight * events`` incoming events,
and ``keep_probability`` times those as expected kept traces and events, exactly the
``expected_kept_*`` totals ``nectar replay`` prints.  Events are corpus rows (spans, span
events and links: what Refinery's throughput samplers count).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import KIND_STRING, Corpus
from pytest_nectar.report.document import RateTimeline, ServiceRow

__all__ = ["NO_SERVICE", "TraceAmounts", "corpus_seconds", "service_rows", "timeline"]

#: The service name of events without a string ``service.name``.
NO_SERVICE: Final = "(no service.name)"
#: At most this many time bins in a chart (the JSON and HTML stay small on long corpora).
MAX_BINS: Final = 120
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TraceAmounts:
    """Per trace: incoming (weighted) traces and events, and the expected kept share."""

    weight: FloatArray
    events: FloatArray  # weighted events
    probability: FloatArray

    @classmethod
    def of(cls, corpus: Corpus, probability: npt.NDArray[np.float64]) -> TraceAmounts:
        rows = np.diff(corpus.trace_offsets).astype(np.float64)
        weight = np.asarray(corpus.weight, dtype=np.float64)
        return cls(weight, weight * rows, np.asarray(probability, dtype=np.float64))

    @property
    def kept_traces(self) -> FloatArray:
        return self.weight * self.probability

    @property
    def kept_events(self) -> FloatArray:
        return self.events * self.probability


def corpus_seconds(corpus: Corpus) -> tuple[float | None, str]:
    """The corpus duration in seconds, or None and why rates cannot be computed."""
    if corpus.n_traces == 0:
        return None, "the corpus has no traces"
    duration = corpus.duration_s
    if math.isnan(duration):
        return None, "the corpus has no timestamps"
    if duration <= 0:
        return None, "every event of the corpus has the same timestamp"
    return duration, ""


def _services(corpus: Corpus) -> tuple[npt.NDArray[np.int32], list[str]]:
    """Per row a service code, and the names (the last one is NO_SERVICE)."""
    column = corpus.columns.get("service.name")
    names: list[str] = []
    codes = np.full(corpus.n_rows, -1, dtype=np.int32)
    if column is not None:
        strings = column.kind == KIND_STRING
        used = np.unique(column.codes[strings])
        names = [column.strings[int(c)] for c in used]
        remap = np.full(len(column.strings), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        codes[column.rows[strings]] = remap[column.codes[strings]]
    codes[codes < 0] = len(names)
    return codes, [*names, NO_SERVICE]


def service_rows(
    corpus: Corpus, amounts: TraceAmounts, seconds: float | None
) -> tuple[ServiceRow, ...]:
    """One row per service (events in, expected kept, effective rate), most traffic first."""
    if corpus.n_rows == 0:
        return ()
    codes, names = _services(corpus)
    k = len(names)
    row_trace = corpus.row_trace
    w = amounts.weight[row_trace]
    p = amounts.probability[row_trace]
    events = np.bincount(codes, minlength=k)
    weighted = np.bincount(codes, weights=w, minlength=k)
    kept = np.bincount(codes, weights=w * p, minlength=k)
    pairs = np.unique(codes.astype(np.int64) * max(corpus.n_traces, 1) + row_trace)
    traces = np.bincount(pairs // max(corpus.n_traces, 1), minlength=k)
    out = []
    for i, name in enumerate(names):
        if events[i] == 0:
            continue
        rate = float(kept[i] / weighted[i]) if weighted[i] > 0 else None
        out.append(
            ServiceRow(
                service=name,
                traces=int(traces[i]),
                events=int(events[i]),
                weighted_events=float(weighted[i]),
                kept_events=float(kept[i]),
                effective_rate=rate,
                events_in_per_s=float(weighted[i]) / seconds if seconds else None,
                events_out_per_s=float(kept[i]) / seconds if seconds else None,
                loses_all=bool(kept[i] == 0),
            )
        )
    out.sort(key=lambda r: (-r.weighted_events, r.service))
    return tuple(out)


def _nice_bin(duration: float) -> float:
    """A bin width giving at most MAX_BINS bins: 1, 2 or 5 times a power of ten seconds."""
    raw = duration / MAX_BINS
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= raw:
            return step * power
    return 10.0 * power


#: At most this many captures get their own panel; beyond, only the widest gaps split.
MAX_CAPTURES: Final = 6
#: A gap splits captures when it is this many bins long (or more).
GAP_BINS: Final = 10


def captures(times: FloatArray) -> tuple[list[tuple[float, float]], float]:
    """Contiguous blocks ``(first, last)`` of sorted event ``times`` and one bin width.

    The width depends on the time covered, and what counts as a gap on the width, so the
    two are settled together: split where a gap exceeds ``GAP_BINS`` bins, re-derive the
    width from the blocks' summed length, until neither changes (a few rounds at most).
    """
    gaps = np.diff(times)
    order = np.argsort(-gaps, kind="stable")[: MAX_CAPTURES - 1]
    covered = float(times[-1] - times[0])
    width = _nice_bin(covered)
    cuts: list[int] = []
    for _ in range(8):
        chosen = sorted(int(i) for i in order if gaps[i] > GAP_BINS * width)
        bounds = [0, *[c + 1 for c in chosen], len(times)]
        blocks = [(float(times[a]), float(times[b - 1])) for a, b in itertools.pairwise(bounds)]
        covered = sum(b - a for a, b in blocks) or covered
        new_width = _nice_bin(covered)
        if chosen == cuts and new_width == width:
            break
        cuts, width = chosen, new_width
    return blocks, width


def timeline(corpus: Corpus, amounts: TraceAmounts, seconds: float | None) -> RateTimeline | None:
    """Incoming and expected kept events/s per bin, by event timestamp (None without times);
    each capture binned on its own (see :class:`RateTimeline`)."""
    if seconds is None:
        return None
    times = np.asarray(corpus.row_time, dtype=np.float64)
    timed = ~np.isnan(times)
    start = float(times[timed].min())
    blocks, width = captures(np.unique(times[timed]))
    row_trace = corpus.row_trace[timed]
    when = times[timed]
    w = amounts.weight[row_trace]
    kept_w = w * amounts.probability[row_trace]
    starts: list[float] = []
    incoming: list[float] = []
    kept: list[float] = []
    first_bins: list[int] = []
    for first, last in blocks:
        n_bins = max(1, math.ceil((last - first) / width + 1e-9))
        inside = (when >= first) & (when <= last)
        index = np.minimum(((when[inside] - first) / width).astype(np.int64), n_bins - 1)
        first_bins.append(len(starts))
        starts += [round(first - start + i * width, 9) for i in range(n_bins)]
        incoming += (np.bincount(index, weights=w[inside], minlength=n_bins) / width).tolist()
        kept += (np.bincount(index, weights=kept_w[inside], minlength=n_bins) / width).tolist()
    return RateTimeline(
        bin_s=width,
        starts=tuple(starts),
        incoming_per_s=tuple(float(x) for x in incoming),
        kept_per_s=tuple(float(x) for x in kept),
        captures=tuple(first_bins),
    )
