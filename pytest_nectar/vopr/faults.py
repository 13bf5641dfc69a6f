"""Span and trace faults: the malformed traffic a Refinery in production receives.

Like evolutions, each fault is a small frozen dataclass whose printed form names it and its
random substream, and ``apply`` rewrites the traces of a draft in ``[start, end)`` picked with
probability ``share`` (one fault per picked trace, at a random row).  Tool-chain faults
(corrupted policy and rules text) are in :mod:`pytest_nectar.vopr.textfaults`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.evolutions import describe
from pytest_nectar.vopr.traffic import Draft, TrafficModel

__all__ = [
    "EXTREME_FLOATS",
    "EXTREME_INTS",
    "FAULT_KINDS",
    "ClockSkew",
    "DuplicateSpan",
    "ExtremeValue",
    "Fault",
    "MissingField",
    "NaNValue",
    "OrphanSpan",
    "TruncatedTrace",
    "WrongType",
    "random_faults",
]

EXTREME_FLOATS: tuple[float, ...] = (
    math.inf,
    -math.inf,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    5e-324,
    -0.0,
)
EXTREME_INTS: tuple[int, ...] = (2**63 - 1, -(2**63), 2**53 + 1, -1, 0)
_HUGE_STRING = "x" * 65536


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """Base: a share of the traces arriving in ``[start, end)`` is damaged."""

    kind: ClassVar[str] = "fault"
    start: float = 0.0
    end: float | None = None
    share: float = 0.05

    def __str__(self) -> str:
        return describe(self)

    @property
    def label(self) -> str:
        return str(self)

    def apply(self, draft: Draft, rng: np.random.Generator, model: TrafficModel) -> None:
        for i in draft.chosen(rng, self.share, self.start, self.end).tolist():
            new = self.damage(draft, i, rng, model)
            if new is not draft.traces[i]:
                draft.put(i, new, self.label)

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        raise NotImplementedError


def _pick(rng: np.random.Generator, n: int) -> int:
    return int(rng.integers(n))


def _with_span(trace: Trace, row: int, data: dict[str, object]) -> Trace:
    spans = list(trace.spans)
    spans[row] = Span(data, spans[row].is_root)
    return Trace(trace.trace_id, tuple(spans))


def _usable(value: object, numeric: bool) -> bool:
    return not numeric or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _target(
    trace: Trace,
    rng: np.random.Generator,
    model: TrafficModel,
    field: str | None,
    numeric: bool = False,
) -> tuple[int, str] | None:
    """A (row, field) to damage: a random row holding ``field``, or a random field of a random
    row (never a trace-id field).  Rows are drawn first, so wide rows cost one sort, not all."""
    spans = trace.spans
    if field is not None:
        rows = [
            i for i, s in enumerate(spans) if field in s.data and _usable(s.data[field], numeric)
        ]
        return (rows[_pick(rng, len(rows))], field) if rows else None
    start = _pick(rng, len(spans)) if spans else 0
    for k in range(len(spans)):  # from a random row on, the first row with a usable field
        row = (start + k) % len(spans)
        data = spans[row].data
        keys = model.field_names(data)
        if numeric:
            keys = tuple(key for key in keys if _usable(data[key], numeric))
        if keys:
            return row, keys[_pick(rng, len(keys))]
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingField(Fault):
    """A field is missing from one row (``field``, or any field but the trace id)."""

    kind: ClassVar[str] = "missing_field"
    field: str | None = None

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        hit = _target(trace, rng, model, self.field)
        if hit is None:
            return trace
        row, key = hit
        data = {k: v for k, v in trace.spans[row].data.items() if k != key}
        return _with_span(trace, row, data)


def _other_type(value: object, rng: np.random.Generator) -> object:
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else 1
    candidates: list[object] = [str(value), int(number) if math.isfinite(number) else 1]
    candidates += [float(number) + 0.5, True, None, [value]]
    options = [c for c in candidates if type(c) is not type(value)]
    return options[_pick(rng, len(options))]


@dataclass(frozen=True, slots=True, kw_only=True)
class WrongType(Fault):
    """A value arrives with another type (a string for an int, a bool, null, a list)."""

    kind: ClassVar[str] = "wrong_type"
    field: str | None = None

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        hit = _target(trace, rng, model, self.field)
        if hit is None:
            return trace
        row, key = hit
        old = trace.spans[row].data[key]
        return _with_span(trace, row, {**trace.spans[row].data, key: _other_type(old, rng)})


@dataclass(frozen=True, slots=True, kw_only=True)
class NaNValue(Fault):
    """A numeric value becomes NaN (``duration_ms`` unless another field is given)."""

    kind: ClassVar[str] = "nan_value"
    field: str | None = "duration_ms"

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        hit = _target(trace, rng, model, self.field, numeric=True)
        if hit is None:
            return trace
        row, key = hit
        return _with_span(trace, row, {**trace.spans[row].data, key: math.nan})


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtremeValue(Fault):
    """A value at the edge of its type: int64 bounds, +-inf, max/min floats, a 64 KiB string."""

    kind: ClassVar[str] = "extreme_value"
    field: str | None = None

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        hit = _target(trace, rng, model, self.field)
        if hit is None:
            return trace
        row, key = hit
        old = trace.spans[row].data[key]
        pool: tuple[object, ...] = EXTREME_FLOATS
        if isinstance(old, int) and not isinstance(old, bool):
            pool = EXTREME_INTS
        elif isinstance(old, str):
            pool = (_HUGE_STRING,)
        options = [v for v in pool if not (type(v) is type(old) and v == old)]
        new = options[_pick(rng, len(options))]
        return _with_span(trace, row, {**trace.spans[row].data, key: new})


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicateSpan(Fault):
    """A row arrives twice (same span id), right after itself."""

    kind: ClassVar[str] = "duplicate_span"

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        if not trace.spans:
            return trace
        row = _pick(rng, len(trace.spans))
        spans = list(trace.spans)
        spans.insert(row + 1, spans[row])
        return Trace(trace.trace_id, tuple(spans))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrphanSpan(Fault):
    """An extra row whose parent never arrives (a copy of a row, with new span and parent ids)."""

    kind: ClassVar[str] = "orphan_span"

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        if not trace.spans:
            return trace
        f = model.fields
        source = trace.spans[_pick(rng, len(trace.spans))].data
        ids = rng.bytes(16).hex()
        data = {**source, f.parent_id[0]: ids[:16]}
        if f.span_id in data:
            data[f.span_id] = ids[16:]
        spans = list(trace.spans)
        spans.insert(_pick(rng, len(spans) + 1), Span(data))
        return Trace(trace.trace_id, tuple(spans))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockSkew(Fault):
    """A skewed host: the trace arrives up to ``seconds`` off, and one row ends before it starts.

    Husky turns ``end < start`` into ``duration_ms: 0.0`` plus ``meta.invalid_duration: true``,
    so that is what the row carries.  Arrival times stay inside the step.
    """

    kind: ClassVar[str] = "clock_skew"
    seconds: float = 30.0

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        shift = float(rng.uniform(-self.seconds, self.seconds))
        last = math.nextafter(draft.end, draft.start)
        draft.times[index] = min(max(float(draft.times[index]) + shift, draft.start), last)
        draft.reordered = True
        trace = draft.traces[index]
        hit = _target(trace, rng, model, model.fields.duration, numeric=True)
        if hit is None:  # still a new object: the trace moved in time
            return Trace(trace.trace_id, trace.spans)
        row, key = hit
        return _with_span(
            trace, row, {**trace.spans[row].data, key: 0.0, "meta.invalid_duration": True}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TruncatedTrace(Fault):
    """Only the first rows arrive (at least one): often the root, which arrives last, is lost."""

    kind: ClassVar[str] = "truncated_trace"

    def damage(
        self, draft: Draft, index: int, rng: np.random.Generator, model: TrafficModel
    ) -> Trace:
        trace = draft.traces[index]
        n = len(trace.spans)
        if n < 2:
            return trace
        keep = 1 + _pick(rng, n - 1)
        return Trace(trace.trace_id, trace.spans[:keep])


FAULT_KINDS: tuple[type[Fault], ...] = (
    MissingField,
    WrongType,
    NaNValue,
    ExtremeValue,
    DuplicateSpan,
    OrphanSpan,
    ClockSkew,
    TruncatedTrace,
)


def random_faults(
    rng: np.random.Generator, count: int, *, max_share: float = 0.2
) -> tuple[Fault, ...]:
    """``count`` faults of random kinds with shares up to ``max_share``, over all time."""
    out: list[Fault] = []
    for _ in range(count):
        kind = FAULT_KINDS[_pick(rng, len(FAULT_KINDS))]
        share = float(rng.choice([0.01, 0.05, 0.1, 0.2])) * max_share / 0.2
        out.append(kind(share=share))
    return tuple(sorted(set(out), key=str))
