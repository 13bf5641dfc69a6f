"""Evolutions: how traffic drifts away from the corpus over simulated time.

Each evolution is a small frozen dataclass: its printed form (``str``) names it with its
parameters, e.g. ``error_storm(factor=10, start=3600.0, end=7200.0)``, and is also the name
of its random substream, so removing one evolution from a scenario does not change what the
others do.  ``apply`` rewrites the traces of a :class:`~pytest_nectar.vopr.traffic.Draft`
that arrive in ``[start, end)``, picked with probability ``share``.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.traffic import Draft, TrafficModel

__all__ = [
    "EVOLUTION_KINDS",
    "ErrorStorm",
    "Evolution",
    "GiantTraces",
    "LatencyRegression",
    "NewRoute",
    "NewService",
    "RenameAttribute",
    "RetypeAttribute",
    "RootlessTraces",
    "describe",
    "random_evolutions",
]


_COMMON = frozenset({"start", "end", "share"})


@functools.lru_cache(maxsize=4096)
def describe(item: Any) -> str:
    """``kind(param=value, ...)`` for a transform dataclass, parameters in field order."""
    parts = []
    for f in dataclasses.fields(item):
        value = getattr(item, f.name)
        # The window and share print only when set; a kind's own parameters always print.
        if value is None or (f.name in _COMMON and value == f.default):
            continue
        parts.append(f"{f.name}={value!r}")
    return f"{item.kind}({', '.join(parts)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Evolution:
    """Base: the traffic in ``[start, end)`` drifts; a share of it, or all of it."""

    kind: ClassVar[str] = "evolution"
    #: ``rewrite`` reads only the rows (not the id, nor the generator): an untouched trace is
    #: rewritten once per corpus shape, and the result shared
    by_rows: ClassVar[bool] = True
    start: float = 0.0
    end: float | None = None
    share: float = 1.0

    def __str__(self) -> str:
        return describe(self)

    @property
    def label(self) -> str:
        return str(self)

    def apply(self, draft: Draft, rng: np.random.Generator, model: TrafficModel) -> None:
        marks = draft.marks
        for i in draft.chosen(rng, self.share, self.start, self.end).tolist():
            old = draft.traces[i]
            if self.by_rows and i not in marks:
                new = model.rewritten(self, int(draft.sources[i]), old, rng, self.rewrite)
            else:
                new = self.rewrite(old, rng, model)
            if new is not old:
                draft.put(i, new, self.label)

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        raise NotImplementedError


def _map_spans(trace: Trace, change: dict[int, dict[str, object]]) -> Trace:
    spans = tuple(
        Span(change[i], s.is_root) if i in change else s for i, s in enumerate(trace.spans)
    )
    return Trace(trace.trace_id, spans)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorStorm(Evolution):
    """The share of error traces becomes ``factor`` times the corpus's (at most all).

    Non-error traces are turned into errors by the model's ``make_error`` with the
    probability that lifts the expected share from ``p`` to ``min(1, factor * max(p, floor))``.
    """

    kind: ClassVar[str] = "error_storm"
    factor: float = 10.0
    floor: float = 0.001  # a corpus without errors still storms

    def apply(self, draft: Draft, rng: np.random.Generator, model: TrafficModel) -> None:
        p = model.error_share
        target = min(1.0, self.factor * max(p, self.floor))
        q = 0.0 if p >= 1.0 else max(0.0, (target - p) / (1.0 - p))
        for i in draft.chosen(rng, q * self.share, self.start, self.end).tolist():
            trace = draft.traces[i]
            if not model.is_error_at(draft, i):
                draft.put(i, model.make_error(trace, rng), self.label)


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyRegression(Evolution):
    """``duration_ms`` times ``factor`` on every span (of ``service`` only, when given)."""

    kind: ClassVar[str] = "latency_regression"
    factor: float = 3.0
    service: str | None = None

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        f = model.fields
        change: dict[int, dict[str, object]] = {}
        for i, span in enumerate(trace.spans):
            value = span.data.get(f.duration)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if self.service is not None and span.data.get(f.service) != self.service:
                continue
            scaled = value * self.factor
            new = type(value)(round(scaled)) if isinstance(value, int) else type(value)(scaled)
            change[i] = {**span.data, f.duration: new}
        return _map_spans(trace, change) if change else trace


@dataclass(frozen=True, slots=True, kw_only=True)
class NewService(Evolution):
    """Traffic from a service the corpus never saw (every row renamed), maybe on a new route."""

    kind: ClassVar[str] = "new_service"
    service: str = "new-service"
    route: str | None = None

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        f = model.fields
        change: dict[int, dict[str, object]] = {}
        for i, span in enumerate(trace.spans):
            data = {**span.data, f.service: self.service}
            if self.route is not None and (f.route in data or span.is_root):
                data[f.route] = self.route
            change[i] = data
        return _map_spans(trace, change)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRoute(Evolution):
    """A route the corpus never saw, on the root and on rows that carry a route."""

    kind: ClassVar[str] = "new_route"
    route: str = "/new-route"

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        key = model.fields.route
        change = {
            i: {**s.data, key: self.route}
            for i, s in enumerate(trace.spans)
            if key in s.data or s.is_root
        }
        return _map_spans(trace, change) if change else trace


@dataclass(frozen=True, slots=True, kw_only=True)
class RenameAttribute(Evolution):
    """A field changes its name, e.g. ``http.status_code`` -> ``http.response.status_code``."""

    kind: ClassVar[str] = "rename_attribute"
    old: str = "http.status_code"
    new: str = "http.response.status_code"

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        change: dict[int, dict[str, object]] = {}
        for i, span in enumerate(trace.spans):
            if self.old in span.data:
                data = dict(span.data)  # the renamed field moves to the end of the row
                data[self.new] = data.pop(self.old)
                change[i] = data
        return _map_spans(trace, change) if change else trace


def _convert(value: object, to: str) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if to == "str" and isinstance(value, (int, float)):
        return str(value)
    if to == "float" and isinstance(value, (int, str)):
        try:
            return float(value)
        except ValueError:
            return value
    if to == "int" and isinstance(value, (float, str)):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else value
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class RetypeAttribute(Evolution):
    """A field arrives with another type: ints as strings (``500`` -> ``"500"``) and so on."""

    kind: ClassVar[str] = "retype_attribute"
    field: str = "http.status_code"
    to: Literal["str", "int", "float"] = "str"

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        change: dict[int, dict[str, object]] = {}
        for i, span in enumerate(trace.spans):
            if self.field in span.data:
                old = span.data[self.field]
                new = _convert(old, self.to)
                if new is not old:
                    change[i] = {**span.data, self.field: new}
        return _map_spans(trace, change) if change else trace


@dataclass(frozen=True, slots=True, kw_only=True)
class GiantTraces(Evolution):
    """Traces grow to ``spans`` rows: copies of their child rows with new span ids."""

    kind: ClassVar[str] = "giant_traces"
    by_rows: ClassVar[bool] = False  # reads the trace id
    spans: int = 2000

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        n = len(trace.spans)
        if n == 0 or n >= self.spans:
            return trace
        f = model.fields
        children = [s for s in trace.spans if not s.is_root]
        if not children:  # only a root: the copies become its children
            root = trace.spans[-1].data
            parent = root.get(f.span_id, trace.trace_id[:16])
            children = [Span({**root, f.parent_id[0]: parent})]
        clones = []
        for k in range(self.spans - n):
            data = children[k % len(children)].data
            if f.span_id in data:
                data = {**data, f.span_id: f"{data[f.span_id]}-{k}"}
            clones.append(Span(data))
        spans = list(trace.spans)
        at = n - 1 if spans[-1].is_root else n  # the root keeps arriving last
        spans[at:at] = clones
        return Trace(trace.trace_id, tuple(spans))


@dataclass(frozen=True, slots=True, kw_only=True)
class RootlessTraces(Evolution):
    """The root span never arrives (a lone root becomes a child of a missing parent)."""

    kind: ClassVar[str] = "rootless_traces"
    by_rows: ClassVar[bool] = False  # reads the trace id

    def rewrite(self, trace: Trace, rng: np.random.Generator, model: TrafficModel) -> Trace:
        kept = tuple(s for s in trace.spans if not s.is_root)
        if len(kept) == len(trace.spans):
            return trace
        if kept:
            return Trace(trace.trace_id, kept)
        last = trace.spans[-1]
        data = {**last.data, model.fields.parent_id[0]: trace.trace_id[:16]}
        return Trace(trace.trace_id, (*trace.spans[:-1], Span(data)))


EVOLUTION_KINDS: tuple[type[Evolution], ...] = (
    ErrorStorm,
    LatencyRegression,
    NewService,
    NewRoute,
    RenameAttribute,
    RetypeAttribute,
    GiantTraces,
    RootlessTraces,
)


def random_evolutions(
    rng: np.random.Generator,
    model: TrafficModel,
    horizon: float,
    count: int,
    *,
    min_seconds: float = 3600.0,
    max_seconds: float | None = None,
) -> tuple[Evolution, ...]:
    """``count`` evolutions with random kinds, windows inside ``[0, horizon)`` and parameters.

    Renames and retypes target the HTTP status field the corpus actually uses, so they
    matter to a policy that tests it.  Ordered by start time; a pure function of ``rng``.
    """
    longest = max_seconds if max_seconds is not None else max(min_seconds, horizon / 4)
    statuses = [k for k in model.fields.http_status if _uses(model, k)] or ["http.status_code"]
    out: list[Evolution] = []
    for n in range(count):
        kind = EVOLUTION_KINDS[int(rng.integers(len(EVOLUTION_KINDS)))]
        length = float(rng.uniform(min_seconds, max(min_seconds, longest)))
        start = float(np.floor(rng.uniform(0.0, max(0.0, horizon - length))))
        end = start + float(np.floor(length))
        share = float(rng.choice([0.05, 0.2, 0.5, 1.0]))
        status = statuses[int(rng.integers(len(statuses)))]
        factor = float(rng.choice([2.0, 10.0, 100.0]))
        made: Evolution
        if kind is ErrorStorm:
            made = ErrorStorm(factor=factor, start=start, end=end)
        elif kind is LatencyRegression:
            made = LatencyRegression(factor=factor, share=share, start=start, end=end)
        elif kind is NewService:
            made = NewService(
                service=f"svc-{n}", route=f"/v2/r{n}", share=share, start=start, end=end
            )
        elif kind is NewRoute:
            made = NewRoute(route=f"/new/{n}", share=share, start=start, end=end)
        elif kind is RenameAttribute:
            other = next(k for k in model.fields.http_status if k != status)
            made = RenameAttribute(old=status, new=other, share=share, start=start, end=end)
        elif kind is RetypeAttribute:
            made = RetypeAttribute(field=status, to="str", share=share, start=start, end=end)
        elif kind is GiantTraces:
            made = GiantTraces(spans=int(rng.choice([200, 2000])), share=0.01, start=start, end=end)
        else:
            made = RootlessTraces(share=share, start=start, end=end)
        out.append(made)
    out.sort(key=lambda e: (e.start, str(e)))
    return tuple(out)


def _uses(model: TrafficModel, key: str) -> bool:
    return any(key in s.data for shape in model.shapes for s in shape.spans)
