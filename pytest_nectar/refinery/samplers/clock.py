"""A virtual clock for dynsampler-go's background tickers.

dynsampler-go runs ``updateMaps`` from a goroutine on ``time.NewTicker(interval)``: ticks fall
at ``start + k*interval``.  Here time only moves when a caller says so: :meth:`Clocked.advance`
runs every tick up to and including ``now`` in order (a tick at exactly ``now`` runs before a
sample taken at ``now``).  Long silent stretches are skipped in one step once a tick would
change nothing, so a year of virtual time with no traffic costs nothing.  Times are integer
nanoseconds inside; callers pass seconds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .durations import NANOSECONDS_PER_SECOND

__all__ = ["Clocked", "to_nanoseconds"]


def to_nanoseconds(seconds: float) -> int:
    """Virtual seconds as integer nanoseconds (rounded to the nearest nanosecond)."""
    if isinstance(seconds, int):
        return seconds * NANOSECONDS_PER_SECOND
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(f"virtual time must be finite; got {seconds!r}")
    return round(seconds * NANOSECONDS_PER_SECOND)


class Clocked(ABC):
    """A sampler core driven by one restartable ticker on the virtual clock."""

    def __init__(self, interval_ns: int, start: float) -> None:
        if interval_ns <= 0:
            # Go's time.NewTicker panics on a non-positive interval.
            raise ValueError(f"ticker interval must be positive; got {interval_ns}ns")
        self.interval_ns = interval_ns
        self.now_ns = to_nanoseconds(start)
        self.next_tick_ns = self.now_ns + interval_ns

    def advance(self, now: float) -> None:
        """Run every tick due at or before ``now`` (seconds), in order."""
        if now.__class__ is float and -1e18 < now < 1e18:  # finite: to_nanoseconds inlined
            now_ns = round(now * NANOSECONDS_PER_SECOND)
            if self.now_ns <= now_ns < self.next_tick_ns:  # no tick due: just move
                self.now_ns = now_ns
                return
            self._advance_ns(now_ns)
            return
        self._advance_ns(to_nanoseconds(now))

    def _advance_ns(self, now_ns: int) -> None:
        if now_ns < self.now_ns:
            raise ValueError(
                f"virtual time went backwards: {now_ns / NANOSECONDS_PER_SECOND!r}s "
                f"after {self.now_ns / NANOSECONDS_PER_SECOND!r}s"
            )
        while self.next_tick_ns <= now_ns:
            if self._idle():
                skipped = (now_ns - self.next_tick_ns) // self.interval_ns + 1
                self.next_tick_ns += skipped * self.interval_ns
                self._skip_ticks(skipped)
                break
            tick = self.next_tick_ns
            self.next_tick_ns += self.interval_ns
            self._tick(tick)
        self.now_ns = now_ns

    def restart_ticker(self) -> None:
        """``ticker.Stop(); ticker = time.NewTicker(interval)`` at the current virtual time."""
        self.next_tick_ns = self.now_ns + self.interval_ns

    @abstractmethod
    def _tick(self, tick_ns: int) -> None:
        """What the goroutine does on one tick (``updateMaps``)."""

    @abstractmethod
    def _idle(self) -> bool:
        """True when this tick and every later one without traffic would change nothing."""

    def _skip_ticks(self, count: int) -> None:  # noqa: B027 - most cores count nothing
        """Account for ``count`` idle ticks skipped at once (e.g. tick counters)."""

    @abstractmethod
    def get_sample_rate_multi(self, key: str, count: int, now: float) -> int:
        """dynsampler-go ``GetSampleRateMulti`` at virtual time ``now`` (raw, may be 0)."""
