"""dynsampler-go's key-weighted samplers on the virtual clock.

- :class:`AvgSampleRate` (Refinery's DynamicSampler): counts per ``ClearFrequency``, then a log
  share of ``sum/GoalSampleRate`` per key.
- :class:`EMASampleRate` (EMADynamicSampler) and :class:`EMAThroughput` (EMAThroughputSampler):
  an exponential moving average of per-key counts, updated every ``AdjustmentInterval`` or at
  once on a burst.  The EMA does not decay during silent intervals.

Go sums its maps in random order; here sums run in sorted key order, one of Go's possible
orders, so results never depend on arrival order.  Defaults are dynsampler-go's own (applied in
``Start()``); Refinery's (``MaxKeys`` 500, ``ClearFrequency`` 30s) are applied by the builder.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from .clock import Clocked
from .durations import NANOSECONDS_PER_SECOND
from .rates import calculate_sample_rates, go_div, go_log10, go_max, go_seconds, sort_go

__all__ = ["AvgSampleRate", "EMAParams", "EMASampleRate", "EMAThroughput"]


def _sorted_sum(values: dict[str, float], floor_one: bool = False, log: bool = False) -> float:
    total = 0.0
    for key in sort_go(values):
        v = go_max(1.0, values[key]) if floor_one else values[key]
        total += go_log10(v) if log else v
    return total


def _floored_sums(values: dict[str, float]) -> tuple[float, float]:
    """``(_sorted_sum(values, floor_one=True), _sorted_sum(values, floor_one=True, log=True))``
    in one sorted pass (the same additions in the same order)."""
    total = 0.0
    log_total = 0.0
    for key in sort_go(values):
        v = values[key]
        if not v > 1.0:
            v = go_max(1.0, v)
        total += v
        log_total += go_log10(v)
    return total, log_total


def _count(counts: dict[str, float], key: str, count: int, max_keys: int) -> bool:
    """Add ``count`` unless MaxKeys is reached and ``key`` is new; True when it was added."""
    if max_keys > 0 and key not in counts and len(counts) >= max_keys:
        return False
    counts[key] = counts.get(key, 0.0) + float(count)
    return True


class AvgSampleRate(Clocked):
    """dynsampler-go ``AvgSampleRate``: per-interval counts, goal average sample rate."""

    def __init__(
        self, goal_sample_rate: int, clear_frequency_ns: int, max_keys: int, start: float = 0.0
    ) -> None:
        super().__init__(clear_frequency_ns or 30 * NANOSECONDS_PER_SECOND, start)
        self.goal_sample_rate = goal_sample_rate or 10
        self.max_keys = max_keys
        self.current_counts: dict[str, float] = {}
        self.saved_sample_rates: dict[str, int] = {}
        self.have_data = False

    def get_sample_rate_multi(self, key: str, count: int, now: float) -> int:
        self.advance(now)
        _count(self.current_counts, key, count, self.max_keys)
        if not self.have_data:
            return self.goal_sample_rate
        return self.saved_sample_rates.get(key, 1)

    def _idle(self) -> bool:
        return not self.current_counts and not self.saved_sample_rates

    def _tick(self, tick_ns: int) -> None:
        counts, self.current_counts = self.current_counts, {}
        if not counts:
            # haveData stays as it was: after traffic, every key now gets rate 1.
            self.saved_sample_rates = {}
            return
        goal_count = _sorted_sum(counts) / float(self.goal_sample_rate)
        log_sum = _sorted_sum(counts, log=True)
        self.saved_sample_rates = calculate_sample_rates(go_div(goal_count, log_sum), counts)
        self.have_data = True


@dataclass(frozen=True, slots=True)
class EMAParams:
    """The EMA samplers' shared settings as configured (0 means dynsampler-go's default)."""

    adjustment_interval_ns: int = 0
    weight: float = 0.0
    age_out_value: float = 0.0
    burst_multiple: float = 0.0
    burst_detection_delay: int = 0
    max_keys: int = 0


class _EMA(Clocked):
    """State and update shared by ``EMASampleRate`` and ``EMAThroughput``."""

    def __init__(self, params: EMAParams, start: float) -> None:
        super().__init__(params.adjustment_interval_ns or 15 * NANOSECONDS_PER_SECOND, start)
        self.weight = params.weight or 0.5
        self.age_out_value = params.age_out_value or self.weight
        self.burst_multiple = params.burst_multiple or 2.0
        self.burst_detection_delay = params.burst_detection_delay or 3
        self.max_keys = params.max_keys
        self.current_counts: dict[str, float] = {}
        self.moving_average: dict[str, float] = {}
        self.saved_sample_rates: dict[str, int] = {}
        self.have_data = False
        self.burst_threshold = 0.0
        self.current_burst_sum = 0.0
        self.interval_count = 0
        self.burst_count = 0

    @abstractmethod
    def _initial_rate(self) -> int:
        """What ``GetSampleRateMulti`` returns before the first update."""

    @abstractmethod
    def _goal_count(self, sum_events: float) -> float:
        """Events to keep per interval."""

    def get_sample_rate_multi(self, key: str, count: int, now: float) -> int:
        self.advance(now)
        if _count(self.current_counts, key, count, self.max_keys):
            self.current_burst_sum += float(count)
        burst = (
            self.burst_threshold > 0
            and self.current_burst_sum >= self.burst_threshold
            and self.interval_count >= self.burst_detection_delay
        )
        if burst:
            self.current_burst_sum = 0.0
            self.burst_count += 1
        rate = self._initial_rate() if not self.have_data else self.saved_sample_rates.get(key, 1)
        if burst:
            # The goroutine takes the signal once this call releases the lock: it restarts the
            # ticker and updates (without counting an interval) before any later sample.
            self.restart_ticker()
            self._update()
        return rate

    def _idle(self) -> bool:
        return not self.current_counts

    def _skip_ticks(self, count: int) -> None:
        self.interval_count += count

    def _tick(self, tick_ns: int) -> None:
        self._update()
        self.interval_count += 1

    def _update(self) -> None:
        if not self.current_counts:
            return  # no decay in silence, on purpose (dynsampler-go)
        counts, self.current_counts = self.current_counts, {}
        self.current_burst_sum = 0.0
        self._update_ema(counts)
        sum_events, log_sum = _floored_sums(self.moving_average)
        self.burst_threshold = sum_events * self.burst_multiple
        goal_count = self._goal_count(sum_events)
        self.saved_sample_rates = calculate_sample_rates(
            go_div(goal_count, log_sum), self.moving_average
        )
        self.have_data = True

    def _adjust(self, old: float, value: float) -> float:
        return value * self.weight + (1.0 - self.weight) * old

    def _update_ema(self, counts: dict[str, float]) -> None:
        for key in list(self.moving_average):
            new = self._adjust(self.moving_average[key], counts.pop(key, 0.0))
            if new < self.age_out_value:
                del self.moving_average[key]
            else:
                self.moving_average[key] = new
        for key, value in counts.items():
            new = self._adjust(0.0, value)
            if new >= self.age_out_value:
                self.moving_average[key] = new


class EMASampleRate(_EMA):
    """dynsampler-go ``EMASampleRate``: EMA counts, goal average sample rate."""

    def __init__(self, goal_sample_rate: int, params: EMAParams, start: float = 0.0) -> None:
        super().__init__(params, start)
        self.goal_sample_rate = goal_sample_rate or 10

    def _initial_rate(self) -> int:
        return self.goal_sample_rate

    def _goal_count(self, sum_events: float) -> float:
        return sum_events / float(self.goal_sample_rate)


class EMAThroughput(_EMA):
    """dynsampler-go ``EMAThroughput``: EMA counts, goal kept events per second."""

    def __init__(
        self,
        goal_throughput_per_sec: int,
        initial_sample_rate: int,
        params: EMAParams,
        start: float = 0.0,
    ) -> None:
        super().__init__(params, start)
        if self.interval_ns < 1_000_000:
            # Start() returns an error before making its maps; Refinery ignores the error
            # and the first sample panics on a nil map.
            raise ValueError(
                f"AdjustmentInterval {self.interval_ns}ns is unreasonably short for a "
                "throughput sampler (under 1ms): Refinery would crash on the first trace"
            )
        self.goal_throughput_per_sec = goal_throughput_per_sec or 100
        self.initial_sample_rate = initial_sample_rate or 10

    def set_goal_throughput_per_sec(self, goal: int) -> None:
        """``SetGoalThroughputPerSec``: ignored unless positive."""
        if goal > 0:
            self.goal_throughput_per_sec = goal

    def _initial_rate(self) -> int:
        return self.initial_sample_rate

    def _goal_count(self, sum_events: float) -> float:
        return float(self.goal_throughput_per_sec) * go_seconds(self.interval_ns)
