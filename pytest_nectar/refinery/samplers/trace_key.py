"""Refinery's dynamic-sampler trace key (``sample/trace_key.go``).

Non-root fields: the distinct values of each field over all spans, sorted, each followed by
``•`` (U+2022), then ``,``; fields with no value add nothing.  Root fields (``root.`` prefix):
the root span's ``%v`` value and ``,``.  Then the span count if ``UseTraceLength``.  Refinery
stops collecting after 100 distinct values over all fields (the 100th is counted, not kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pytest_nectar.refinery.metadata import meta_field
from pytest_nectar.refinery.values import format_float_f, go_v
from pytest_nectar.trace import GoFloat32, Span, Trace

from .rates import sort_go

__all__ = ["MAX_KEY_VALUES", "TraceKey", "field_value", "trace_key"]

MAX_KEY_VALUES: Final = 100
ROOT_PREFIX: Final = "root."


def field_value(trace_id: str, span: Span, field: str) -> tuple[bool, object]:
    """Refinery ``Payload.Exists`` and ``Get`` for one flat field: (exists, value).

    ``meta.*`` keys as the router sets them (:mod:`pytest_nectar.refinery.metadata`).
    """
    if field.startswith("meta."):
        value, exists = meta_field(trace_id, span, field)
        return exists, value
    if field in span.data:
        return True, span.data[field]
    return False, None


def _key_text(value: object) -> str:
    """``distinctValue.AddAsString``: float64 without exponent, everything else as ``%v``."""
    if isinstance(value, float) and not isinstance(value, GoFloat32):
        return format_float_f(value)
    return go_v(value)


@dataclass(frozen=True, slots=True)
class TraceKey:
    """A key builder for one sampler config (``newTraceKey``)."""

    fields: tuple[str, ...]
    root_fields: tuple[str, ...]
    use_trace_length: bool

    @classmethod
    def from_field_list(cls, field_list: Sequence[str], use_trace_length: bool) -> TraceKey:
        ordered = sort_go(field_list)
        root = tuple(f[len(ROOT_PREFIX) :] for f in ordered if f.startswith(ROOT_PREFIX))
        plain = tuple(f for f in ordered if not f.startswith(ROOT_PREFIX))
        return cls(plain, root, use_trace_length)

    def build(self, trace: Trace) -> tuple[str, int]:
        """The key and how many values went into it (Refinery's ``n``)."""
        distinct: list[set[str]] = [set() for _ in self.fields]
        unique = 0
        done = False
        for i, field in enumerate(self.fields):
            for span in trace.spans:
                exists, value = field_value(trace.trace_id, span, field)
                if not exists:
                    continue
                if unique >= MAX_KEY_VALUES:
                    done = True
                    break
                text = _key_text(value)
                if text not in distinct[i]:
                    unique += 1
                    if unique < MAX_KEY_VALUES:
                        distinct[i].add(text)
            if done:
                break
        parts: list[str] = []
        used = 0
        for values in distinct:
            if not values:
                continue
            for text in sort_go(values):
                parts.append(text + "\u2022")
                used += 1
            parts.append(",")
        root = trace.root
        if root is not None:
            for field in self.root_fields:
                exists, value = field_value(trace.trace_id, root, field)
                if exists:
                    parts.append(go_v(value) + ",")
                    used += 1
        if self.use_trace_length:
            parts.append(str(len(trace.spans)))
            used += 1
        return "".join(parts), used


def trace_key(trace: Trace, field_list: Sequence[str], use_trace_length: bool) -> str:
    """The sample key Refinery's dynamic-family samplers compute for ``trace``."""
    return TraceKey.from_field_list(field_list, use_trace_length).build(trace)[0]
