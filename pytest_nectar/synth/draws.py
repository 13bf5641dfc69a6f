"""The random draws of one synthetic corpus: blocks from VOPR's seeded ChaCha streams.

Three independent streams (uniforms, normals, 64-bit words for ids), each drawn in blocks
and consumed in program order, so that a change in how many numbers one purpose takes does
not shift the others.  Times are whole microseconds.

Everything else is derived from the uniforms with plain arithmetic; the normals are the one
numpy distribution algorithm relied on (``Generator.standard_normal``, the ziggurat numpy
has kept since 1.17).  ``tests/test_synth.py`` pins an output digest, so a change of either
(or of randomgen's ChaCha) fails a test instead of changing corpora silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeVar

from pytest_nectar.vopr.rng import RngFamily

__all__ = ["Draws", "micros", "pick"]

T = TypeVar("T")
_BLOCK: Final = 4096


class Draws:
    """Blocks of uniforms, normals and 64-bit words from three independent streams."""

    def __init__(self, family: RngFamily) -> None:
        self._u = family.generator(0, "uniform")
        self._z = family.generator(0, "normal")
        self._w = family.generator(0, "ids").bit_generator
        self._us: list[float] = []
        self._zs: list[float] = []
        self._ws: list[int] = []

    def u(self) -> float:
        if not self._us:
            self._us = self._u.random(_BLOCK).tolist()[::-1]
        return self._us.pop()

    def z(self) -> float:
        if not self._zs:
            self._zs = self._z.standard_normal(_BLOCK).tolist()[::-1]
        return self._zs.pop()

    def word(self) -> int:
        if not self._ws:
            self._ws = self._w.random_raw(_BLOCK).tolist()[::-1]
        return int(self._ws.pop())

    def span_id(self) -> str:
        return f"{self.word() or 1:016x}"

    def trace_id(self) -> str:
        return f"{self.word():016x}{self.word() or 1:016x}"

    def between(self, low: float, high: float) -> float:
        return low + (high - low) * self.u()

    def integer(self, low: int, high: int) -> int:
        return low + min(high - low, int(self.u() * (high - low + 1)))


def micros(ms: float) -> int:
    """Milliseconds as whole microseconds, in nanoseconds (at least 1 us)."""
    return max(1, round(ms * 1000.0)) * 1000


def pick(u: float, options: Iterable[tuple[T, float]]) -> T | None:
    """The first option whose cumulative share exceeds ``u`` (None when the shares end first)."""
    acc = 0.0
    for value, share in options:
        acc += share
        if u < acc:
            return value
    return None
