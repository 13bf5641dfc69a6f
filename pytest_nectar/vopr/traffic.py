"""The traffic model: whole trace shapes from a corpus, resampled onto the virtual clock.

A shape is one corpus trace, every row with its exact Python values.  Generating a step draws
arrival times (from the rate process), a shape per arrival and a fresh trace id, then hands the
mutable :class:`Draft` to evolutions and faults, and freezes it into a :class:`Batch`.

Generation is cheap on purpose: span dicts are shared between the corpus shapes and every trace
made from them (treat ``Span.data`` as read-only, as its ``Mapping`` type says), and only the
rows that carry the trace id field are copied, with the new id.  Transforms copy a span's dict
only when they change it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.trace_model import Span, Trace

__all__ = [
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

ErrorTest = Callable[[Trace], bool]
ErrorMaker = Callable[[Trace, np.random.Generator], Trace]


@dataclass(frozen=True, slots=True)
class TraceFields:
    """Where the fields that the simulation touches live in a row (Husky's names by default)."""

    trace_id: tuple[str, ...] = ("trace.trace_id", "traceId")
    parent_id: tuple[str, ...] = ("trace.parent_id", "parentId")
    span_id: str = "trace.span_id"
    duration: str = "duration_ms"
    service: str = "service.name"
    route: str = "http.route"
    http_status: tuple[str, ...] = ("http.status_code", "http.response.status_code", "http.status")
    status_code: str = "status_code"
    error: str = "error"


DEFAULT_FIELDS = TraceFields()


def retyped(old: object, number: int | float) -> object:
    """``number`` with the type ``old`` has (int stays int, "500" stays a string, ...)."""
    if isinstance(old, bool):
        return number
    if isinstance(old, int):
        return type(old)(int(number))
    if isinstance(old, float):
        return type(old)(number)
    if isinstance(old, str):
        return str(int(number)) if float(number).is_integer() else repr(float(number))
    return number


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def default_is_error(trace: Trace, fields: TraceFields = DEFAULT_FIELDS) -> bool:
    """A trace with a span that has ``error: true``, ``status_code: 2`` or an HTTP 5xx.

    A stand-in for tests and demos; campaigns pass the policy's own error expression.
    """
    for span in trace.spans:
        data = span.data
        if data.get(fields.error) is True or _number(data.get(fields.status_code)) == 2:
            return True
        for key in fields.http_status:
            status = _number(data.get(key))
            if status is not None and 500 <= status <= 599:
                return True
    return False


def http_error_maker(
    fields: TraceFields = DEFAULT_FIELDS,
    *,
    fallback: tuple[str, type] = ("http.status_code", int),
    statuses: Sequence[int] = (500, 502, 503, 504),
) -> ErrorMaker:
    """A ``make_error`` that turns a trace into a server error as the corpus types it.

    On the root span (the last span when there is no root) every HTTP status field present
    gets a 5xx of the same Python type as before (``fallback`` names the field and type when
    there is none), ``status_code`` becomes 2 and ``error`` becomes ``True``.
    """
    codes = tuple(statuses)

    def make_error(trace: Trace, rng: np.random.Generator) -> Trace:
        if not trace.spans:
            return trace
        spans = list(trace.spans)
        at = next((i for i in range(len(spans) - 1, -1, -1) if spans[i].is_root), len(spans) - 1)
        data = dict(spans[at].data)
        code = codes[int(rng.integers(len(codes)))]
        present = [k for k in fields.http_status if k in data]
        for key in present:
            data[key] = retyped(data[key], code)
        if not present:
            data[fallback[0]] = retyped(fallback[1](0), code)
        data[fields.status_code] = retyped(data.get(fields.status_code, 0), 2)
        data[fields.error] = True
        spans[at] = Span(data, spans[at].is_root)
        return Trace(trace.trace_id, tuple(spans))

    return make_error


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
        mask = (u < share) & (self.times >= start)
        if end is not None:
            mask &= self.times < end
        out: NDArray[np.intp] = np.flatnonzero(mask)
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
            # dict.copy keeps the key table (no rehash); the id overwrites an existing key.
            data = old.data.copy() if type(old.data) is dict else dict(old.data)
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
        hexes = rng.bytes(16 * n).hex()
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
