"""The traffic model: whole trace shapes from a corpus, resampled onto the virtual clock.

A shape is one corpus trace, every row with its exact Python values.  Generating a step draws
arrival times (from the rate process), a shape per arrival and a fresh trace id, then hands the
mutable :class:`Draft` to evolutions and faults, and freezes it into a :class:`Batch`.

Generation is cheap on purpose: rows are shared between the corpus shapes and every trace made
from them (the model freezes them into read-only mappings), and only the rows that carry the
trace id field are copied, with the new id.  Transforms copy a span's dict
only when they change it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.trace_fields import (
    DEFAULT_FIELDS,
    ErrorMaker,
    ErrorTest,
    TraceFields,
    default_is_error,
    http_error_maker,
    retyped,
)

__all__ = [
    "DEFAULT_FIELDS",
    "Batch",
    "Draft",
    "ErrorMaker",
    "ErrorTest",
    "TraceFields",
    "TrafficModel",
    "Transform",
    "default_is_error",
    "http_error_maker",
    "retyped",
]


@dataclass(slots=True)
class Draft:
    """One step's traffic while evolutions and faults rewrite it (indexes are arrival order)."""

    step: int
    start: float
    end: float
    traces: list[Trace]
    times: NDArray[np.float64]
    sources: NDArray[np.int64]  # index of the corpus shape each trace was made from
    marks: dict[int, list[str]] = field(default_factory=dict)
    reordered: bool = False  # set by a transform that moves arrival times

    def chosen(
        self, rng: np.random.Generator, share: float, start: float, end: float | None
    ) -> NDArray[np.intp]:
        """Indexes of traces inside [start, end) picked with probability ``share``.

        Always draws one number per trace, so the draws do not depend on the window.
        """
        u = rng.random(len(self.traces))
        mask = u < share
        if start > self.start:
            mask &= self.times >= start
        if end is not None and end < self.end:
            mask &= self.times < end
        out: NDArray[np.intp] = mask.nonzero()[0]
        return out

    def put(self, index: int, trace: Trace, label: str) -> None:
        """Replace trace ``index`` and remember which transform changed it."""
        self.traces[index] = trace
        self.marks.setdefault(index, []).append(label)


class Transform(Protocol):
    """An evolution or a fault: rewrites a draft deterministically from its own stream."""

    @property
    def label(self) -> str: ...

    def apply(self, draft: Draft, rng: np.random.Generator, model: TrafficModel) -> None: ...


@dataclass(frozen=True, slots=True)
class Batch:
    """One step of generated traffic, in arrival order."""

    step: int
    start: float
    end: float
    times: NDArray[np.float64]
    traces: tuple[Trace, ...]
    sources: NDArray[np.int64]
    marks: Mapping[int, tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.traces)

    def __iter__(self) -> Iterator[tuple[float, Trace]]:
        return zip(self.times.tolist(), self.traces, strict=True)

    def labels(self, index: int) -> tuple[str, ...]:
        """The evolutions and faults that changed trace ``index`` (empty when none)."""
        return self.marks.get(index, ())


_new_span = Span.__new__
_set_data: Callable[[Span, object], None] = Span.__dict__["data"].__set__
_set_root: Callable[[Span, bool], None] = Span.__dict__["is_root"].__set__


def _span(data: Mapping[str, object], is_root: bool) -> Span:
    """``Span(data, is_root)`` without the frozen dataclass ``__init__`` (half the cost)."""
    span = _new_span(Span)
    _set_data(span, data)
    _set_root(span, is_root)
    return span


def _frozen(spans: tuple[Span, ...]) -> tuple[Span, ...]:
    """The rows as read-only mappings (a new row's dict is owned by nobody else)."""
    return tuple(
        s if s.data.__class__ is MappingProxyType else _span(MappingProxyType(s.data), s.is_root)
        for s in spans
    )


_REWRITES_MAX = 1 << 14


@dataclass(frozen=True, slots=True)
class _Shape:
    spans: tuple[Span, ...]
    rekey: tuple[tuple[int, str], ...]  # (row, trace-id field) to rewrite per trace


class TrafficModel:
    """Trace shapes learned from a corpus, and how to tell and make an error trace.

    ``is_error`` should be the policy's own error expression.  With ``rekey=False`` rows are
    shared whole and keep the corpus's ``trace.trace_id`` field (``Trace.trace_id`` is still
    fresh): several times faster on wide rows, and exact for any policy whose conditions do
    not read the trace-id fields (Refinery's deterministic sampler uses ``Trace.trace_id``).
    """

    def __init__(
        self,
        traces: Sequence[Trace],
        *,
        weights: Sequence[float] | NDArray[np.float64] | None = None,
        fields: TraceFields = DEFAULT_FIELDS,
        is_error: ErrorTest | None = None,
        make_error: ErrorMaker | None = None,
        rekey: bool = True,
    ) -> None:
        if not traces:
            raise ValueError("a traffic model needs at least one trace")
        self.fields = fields
        self.rekey = rekey
        self.is_error: ErrorTest = is_error or (lambda t: default_is_error(t, fields))
        self.shapes = tuple(self._shape(t) for t in traces)
        self._names: dict[int, tuple[Mapping[str, object], tuple[str, ...]]] = {}
        self._rewrites: dict[tuple[object, int], tuple[Span, ...]] = {}
        protected = fields.trace_id
        for shape in self.shapes:
            for span in shape.spans:
                names = tuple(sorted(key for key in span.data if key not in protected))
                self._names[id(span.data)] = (span.data, names)
        w = np.ones(len(traces)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(traces),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("weights must be one finite non-negative number per trace")
        self.probabilities: NDArray[np.float64] = w / w.sum()
        self._cumulative = np.cumsum(self.probabilities)
        self.errors: NDArray[np.bool_] = np.array([self.is_error(t) for t in traces], dtype=bool)
        self.make_error: ErrorMaker = make_error or http_error_maker(
            fields, fallback=self._http_convention()
        )

    @classmethod
    def from_corpus(
        cls,
        corpus: Corpus,
        *,
        fields: TraceFields = DEFAULT_FIELDS,
        is_error: ErrorTest | None = None,
        make_error: ErrorMaker | None = None,
        rekey: bool = True,
    ) -> TrafficModel:
        """A model of every trace of a corpus, resampled by the corpus's trace weights."""
        n = corpus.n_traces
        weight = np.asarray(corpus.weight, dtype=np.float64)
        return cls(
            [corpus.trace(i) for i in range(n)],
            weights=weight if weight.shape == (n,) else None,
            fields=fields,
            is_error=is_error,
            make_error=make_error,
            rekey=rekey,
        )

    def _shape(self, trace: Trace) -> _Shape:
        # Rows are frozen (read-only views): no transform can change a shared row in place,
        # which is what lets digests and decision keys memoise them by identity.
        spans = tuple(_span(MappingProxyType(dict(s.data)), s.is_root) for s in trace.spans)
        trace = Trace(trace.trace_id, spans)
        if not self.rekey:
            return _Shape(trace.spans, ())
        names = self.fields.trace_id
        rekey = tuple(
            (i, name) for i, span in enumerate(trace.spans) for name in names if name in span.data
        )
        return _Shape(trace.spans, rekey)

    def _http_convention(self) -> tuple[str, type]:
        seen: Counter[tuple[str, type]] = Counter()
        for shape in self.shapes:
            for span in shape.spans:
                for key in self.fields.http_status:
                    value = span.data.get(key)
                    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                        seen[key, type(value)] += 1
        if not seen:
            return ("http.status_code", int)
        return min(seen.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1].__name__))[0]

    def field_names(self, data: Mapping[str, object]) -> tuple[str, ...]:
        """The fields of a row a fault may damage (all but the trace-id fields), sorted;
        memoised for the corpus rows, which every generated trace shares."""
        found = self._names.get(id(data))
        if found is not None and found[0] is data:
            return found[1]
        protected = self.fields.trace_id
        return tuple(sorted(key for key in data if key not in protected))

    def rewritten(
        self,
        transform: object,
        shape: int,
        trace: Trace,
        rng: np.random.Generator,
        rewrite: Callable[[Trace, np.random.Generator, TrafficModel], Trace],
    ) -> Trace:
        """``rewrite(trace)`` for an untouched trace of ``shape`` whose rewrite reads only its
        rows: computed once per (transform, shape), rows frozen and shared like the corpus's."""
        if self.rekey:  # rows carry the trace's own id
            return rewrite(trace, rng, self)
        key = (transform, shape)
        spans = self._rewrites.get(key)
        if spans is None:
            new = rewrite(trace, rng, self)
            spans = new.spans if new is trace else _frozen(new.spans)
            if len(self._rewrites) >= _REWRITES_MAX:
                self._rewrites.clear()
            self._rewrites[key] = spans
        if spans is trace.spans:
            return trace
        return Trace(trace.trace_id, spans)

    def is_error_at(self, draft: Draft, index: int) -> bool:
        """``is_error`` of a draft's trace; an untouched trace answers from its shape (its
        rows are the shape's, unless rekeyed with a fresh id)."""
        if not self.rekey and index not in draft.marks:
            return bool(self.errors[draft.sources[index]])
        return self.is_error(draft.traces[index])

    @property
    def error_share(self) -> float:
        """The expected share of error traces in unevolved traffic."""
        return float(self.probabilities[self.errors].sum())

    def trace(self, shape: int, trace_id: str) -> Trace:
        """Shape ``shape`` as a new trace with id ``trace_id`` (rows shared where possible)."""
        s = self.shapes[shape]
        if not s.rekey:
            return Trace(trace_id, s.spans)
        spans = list(s.spans)
        for row, name in s.rekey:
            old = spans[row]
            # a dict's copy keeps its key table (no rehash); the id overwrites the old one
            src = old.data
            data = src.copy() if isinstance(src, (dict, MappingProxyType)) else dict(src)
            data[name] = trace_id
            spans[row] = _span(data, old.is_root)
        return Trace(trace_id, tuple(spans))

    def draft(
        self,
        step: int,
        start: float,
        end: float,
        times: NDArray[np.float64],
        rng: np.random.Generator,
    ) -> Draft:
        """Traces for the given arrival times: a shape and a fresh 128-bit id for each."""
        n = len(times)
        u = rng.random(n)
        sources = np.searchsorted(self._cumulative, u, side="right").astype(np.int64)
        np.minimum(sources, len(self.shapes) - 1, out=sources)
        hexes = rng.bit_generator.random_raw(2 * n).tobytes().hex()  # 128 bits per trace
        make = self.trace
        traces = [make(s, hexes[32 * i : 32 * i + 32]) for i, s in enumerate(sources.tolist())]
        return Draft(step, start, end, traces, times, sources)

    @staticmethod
    def freeze(draft: Draft) -> Batch:
        """The draft in arrival order (faults may have moved times), as an immutable batch."""
        order = np.argsort(draft.times, kind="stable") if draft.reordered else None
        if order is None or np.all(order[1:] > order[:-1]):
            traces = tuple(draft.traces)
            marks = {i: tuple(v) for i, v in draft.marks.items()}
            return Batch(
                draft.step, draft.start, draft.end, draft.times, traces, draft.sources, marks
            )
        where = np.empty_like(order)
        where[order] = np.arange(order.size)
        ordered = tuple(draft.traces[i] for i in order.tolist())
        moved = {int(where[i]): tuple(v) for i, v in draft.marks.items()}
        return Batch(
            draft.step,
            draft.start,
            draft.end,
            draft.times[order],
            ordered,
            draft.sources[order],
            moved,
        )
