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
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.parts import pieces
from pytest_nectar.corpus.table import KIND_STRING, Corpus, TraceTable
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
    def of(cls, corpus: TraceTable, probability: npt.NDArray[np.float64]) -> TraceAmounts:
        rows = np.diff(corpus.trace_offsets).astype(np.float64)
        weight = np.asarray(corpus.weight, dtype=np.float64)
        return cls(weight, weight * rows, np.asarray(probability, dtype=np.float64))

    @property
    def kept_traces(self) -> FloatArray:
        return self.weight * self.probability

    @property
    def kept_events(self) -> FloatArray:
        return self.events * self.probability


def corpus_seconds(corpus: TraceTable) -> tuple[float | None, str]:
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


def _pairs(
    group: npt.NDArray[np.int64], row_trace: npt.NDArray[Any], members: npt.NDArray[np.int64] | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(group, corpus trace, rows) for every group and trace that share rows."""
    n = max(int(row_trace.max()) + 1, 1) if row_trace.size else 1
    keys, counts = np.unique(group * n + row_trace.astype(np.int64), return_counts=True)
    local = keys % n
    return keys // n, local if members is None else members[local], counts.astype(np.int64)


@dataclass(frozen=True)
class _GroupSums:
    """Per group: traces, events, weighted events and expected kept events."""

    traces: npt.NDArray[np.int64]
    events: npt.NDArray[np.int64]
    weighted: FloatArray
    kept: FloatArray

    @classmethod
    def of(
        cls,
        pairs: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]],
        amounts: TraceAmounts,
        n_groups: int,
    ) -> _GroupSums:
        # Summed trace by trace in corpus order within each group, whatever the pieces: a
        # corpus in partitions gives the same bits as the corpus in memory.
        group = np.concatenate([g for g, _, _ in pairs]) if pairs else np.zeros(0, np.int64)
        trace = np.concatenate([t for _, t, _ in pairs]) if pairs else np.zeros(0, np.int64)
        count = np.concatenate([c for _, _, c in pairs]) if pairs else np.zeros(0, np.int64)
        order = np.lexsort((trace, group))
        group, trace, count = group[order], trace[order], count[order]
        rows = count.astype(np.float64)
        weighted = amounts.weight[trace] * rows
        kept = (amounts.weight * amounts.probability)[trace] * rows
        out_w, out_k = np.zeros(n_groups), np.zeros(n_groups)
        if group.size:
            starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
            out_w[group[starts]] = np.add.reduceat(weighted, starts)
            out_k[group[starts]] = np.add.reduceat(kept, starts)
        return cls(
            np.bincount(group, minlength=n_groups).astype(np.int64),
            np.bincount(group, weights=count, minlength=n_groups).astype(np.int64),
            out_w,
            out_k,
        )


def service_rows(
    corpus: TraceTable, amounts: TraceAmounts, seconds: float | None
) -> tuple[ServiceRow, ...]:
    """One row per service (events in, expected kept, effective rate), most traffic first."""
    if corpus.n_rows == 0:
        return ()
    ids: dict[str, int] = {}
    pairs = []
    for part, members in pieces(corpus):
        codes, names = _services(part)
        to_global = np.array([ids.setdefault(n, len(ids)) for n in names], dtype=np.int64)
        group, trace, count = _pairs(codes.astype(np.int64), part.row_trace, members)
        pairs.append((to_global[group], trace, count))
    sums = _GroupSums.of(pairs, amounts, len(ids))
    out = []
    for name, i in ids.items():
        if sums.events[i] == 0:
            continue
        weighted, kept = float(sums.weighted[i]), float(sums.kept[i])
        out.append(
            ServiceRow(
                service=name,
                traces=int(sums.traces[i]),
                events=int(sums.events[i]),
                weighted_events=weighted,
                kept_events=kept,
                effective_rate=kept / weighted if weighted > 0 else None,
                events_in_per_s=weighted / seconds if seconds else None,
                events_out_per_s=kept / seconds if seconds else None,
                loses_all=kept == 0,
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


def _event_times(corpus: TraceTable) -> FloatArray:
    """Every distinct event time, sorted (per piece first: one partition's rows at a time)."""
    found = []
    for part, _ in pieces(corpus):
        times = np.asarray(part.row_time, dtype=np.float64)
        found.append(np.unique(times[~np.isnan(times)]))
    return found[0] if len(found) == 1 else np.unique(np.concatenate(found))


def timeline(
    corpus: TraceTable, amounts: TraceAmounts, seconds: float | None
) -> RateTimeline | None:
    """Incoming and expected kept events/s per bin, by event timestamp (None without times);
    each capture binned on its own (see :class:`RateTimeline`)."""
    if seconds is None:
        return None
    distinct = _event_times(corpus)
    start = float(distinct[0])
    blocks, width = captures(distinct)
    del distinct
    n_bins = [max(1, math.ceil((last - first) / width + 1e-9)) for first, last in blocks]
    first_bins = [0, *itertools.accumulate(n_bins)][:-1]
    pairs = []
    for part, members in pieces(corpus):
        times = np.asarray(part.row_time, dtype=np.float64)
        for (first, last), n, offset in zip(blocks, n_bins, first_bins, strict=True):
            inside = np.flatnonzero((times >= first) & (times <= last))  # NaN is never inside
            index = np.minimum(((times[inside] - first) / width).astype(np.int64), n - 1)
            pairs.append(_pairs(index + offset, part.row_trace[inside], members))
    sums = _GroupSums.of(pairs, amounts, sum(n_bins))
    starts: list[float] = []
    for (first, _), n in zip(blocks, n_bins, strict=True):
        starts += [round(first - start + i * width, 9) for i in range(n)]
    return RateTimeline(
        bin_s=width,
        starts=tuple(starts),
        incoming_per_s=tuple(float(x) for x in (sums.weighted / width).tolist()),
        kept_per_s=tuple(float(x) for x in (sums.kept / width).tolist()),
        captures=tuple(first_bins),
    )
