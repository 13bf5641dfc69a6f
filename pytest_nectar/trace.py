"""A trace as Refinery sees it at decision time: flat events in arrival order.

This is the input of the reference evaluator and of ``nectar decide``.  Values keep the
types Refinery would see: ``int`` is Go int64, ``float`` is float64, ``str``, ``bool``,
``None`` (a field explicitly set to null), ``list``/``dict`` (Honeycomb JSON API).  The
wrappers below mark the rarer Go types that Refinery's ``compare()`` treats differently.
Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["GoFloat32", "GoInt", "GoUint64", "Span", "Trace"]


class GoUint64(int):
    """A msgpack uint value: only string operators and ``Datatype: string`` handle it."""

    __slots__ = ()


class GoFloat32(float):
    """A msgpack float32 value: not handled by ``compare()`` nor the typed converters."""

    __slots__ = ()


class GoInt(int):
    """A Go ``int`` (not int64): untyped ``compare()`` finds it incomparable (unit tests only)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Span:
    """One event of a trace: a span, a span event or a link, with its flat fields."""

    data: Mapping[str, object]
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class Trace:
    """A trace id and its events in arrival order."""

    trace_id: str
    spans: tuple[Span, ...]

    @property
    def root(self) -> Span | None:
        """The root span; when several arrived, the last one wins (as in Refinery)."""
        for span in reversed(self.spans):
            if span.is_root:
                return span
        return None
