"""dynsampler-go's throughput samplers on the virtual clock.

- :class:`TotalThroughput` (Refinery's deprecated TotalThroughputSampler): per
  ``ClearFrequency``, an equal share of ``goal * seconds`` per key; rates truncate.
- :class:`WindowedThroughput`: counts in blocks of ``UpdateFrequency`` (block index =
  ``unix_nanos // UpdateFrequency``), rates from the last ``Lookback`` of complete blocks.
  With ``MaxKeys > 0`` the :class:`BlockList` is bounded, and its quirk is reproduced: once
  MaxKeys keys are tracked, every increment is rejected (rate 0, so 1), known keys included,
  until keys age out of the window.
"""

from __future__ import annotations

from .clock import Clocked
from .durations import NANOSECONDS_PER_SECOND
from .rates import go_div, go_float_to_int, go_max, go_seconds, go_trunc_div

__all__ = ["BlockList", "TotalThroughput", "WindowedThroughput"]


def _wrap_int64(x: int) -> int:
    return ((x + (1 << 63)) % (1 << 64)) - (1 << 63)


class BlockList:
    """dynsampler-go ``UnboundedBlockList`` / ``BoundedBlockList`` (``max_keys > 0``)."""

    def __init__(self, max_keys: int = 0) -> None:
        self.max_keys = max_keys
        # Blocks oldest first: (index, counts).  Indexes only grow.
        self.blocks: list[tuple[int, dict[str, int]]] = []
        # Bounded only: per key, the block indexes it was counted in, oldest first.
        self.key_indexes: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.blocks)

    def increment_key(self, key: str, index: int, count: int) -> bool:
        """Add ``count`` to ``key`` in block ``index``; False if the bounded list refuses."""
        if self.max_keys > 0:
            if len(self.key_indexes) >= self.max_keys:
                return False  # the quirk: refused even when the key is already tracked
            seen = self.key_indexes.setdefault(key, [])
            if not seen or seen[-1] != index:
                seen.append(index)
        if not self.blocks or self.blocks[-1][0] != index:
            self.blocks.append((index, {}))
        block = self.blocks[-1][1]
        block[key] = block.get(key, 0) + count
        return True

    def aggregate_counts(self, current_index: int, lookback_indexes: int) -> dict[str, int]:
        """Sum blocks in ``(current-1-lookback, current-1]``; drop blocks at or before the start."""
        start = current_index - 1
        finish = start - lookback_indexes
        dropped = 0
        while dropped < len(self.blocks) and self.blocks[dropped][0] <= finish:
            dropped += 1
        del self.blocks[:dropped]
        totals: dict[str, int] = {}
        for index, counts in self.blocks:
            if index <= start:
                for key, value in counts.items():
                    totals[key] = totals.get(key, 0) + value
        for key in list(self.key_indexes):
            seen = self.key_indexes[key]
            old = 0
            while old < len(seen) and seen[old] <= finish:
                old += 1
            if old == len(seen):
                del self.key_indexes[key]
            elif old:
                del seen[:old]
        return totals


class WindowedThroughput(Clocked):
    """dynsampler-go ``WindowedThroughput``."""

    def __init__(
        self,
        goal_throughput_per_sec: float,
        update_frequency_ns: int,
        lookback_frequency_ns: int,
        max_keys: int,
        start: float = 0.0,
    ) -> None:
        update = update_frequency_ns or NANOSECONDS_PER_SECOND
        lookback = lookback_frequency_ns or _wrap_int64(30 * update)
        if update > 0:
            lookback = _wrap_int64(update * go_trunc_div(lookback, update))
        super().__init__(update, start)
        self.lookback_ns = lookback
        self.goal_throughput_per_sec = goal_throughput_per_sec or 100.0
        self.count_list = BlockList(max_keys if max_keys > 0 else 0)
        self.saved_sample_rates: dict[str, int] = {}

    def set_goal_throughput_per_sec(self, goal: int) -> None:
        """``SetGoalThroughputPerSec``: ignored unless positive."""
        if goal > 0:
            self.goal_throughput_per_sec = float(goal)

    def current_index(self, now_ns: int) -> int:
        return go_trunc_div(now_ns, self.interval_ns)

    def get_sample_rate_multi(self, key: str, count: int, now: float) -> int:
        self.advance(now)
        if not self.count_list.increment_key(key, self.current_index(self.now_ns), count):
            return 0
        return self.saved_sample_rates.get(key, 0)

    def _idle(self) -> bool:
        return not self.count_list.blocks and not self.saved_sample_rates

    def _tick(self, tick_ns: int) -> None:
        lookback_indexes = go_trunc_div(self.lookback_ns, self.interval_ns)
        totals = self.count_list.aggregate_counts(self.current_index(tick_ns), lookback_indexes)
        if not totals:
            self.saved_sample_rates = {}
            return
        per_key = self.goal_throughput_per_sec * go_seconds(self.lookback_ns) / float(len(totals))
        self.saved_sample_rates = {
            key: go_float_to_int(go_max(1.0, go_div(float(value), per_key)))
            for key, value in totals.items()
        }


class TotalThroughput(Clocked):
    """dynsampler-go ``TotalThroughput``: no initial rate, everything is 1 until a tick."""

    def __init__(
        self,
        goal_throughput_per_sec: int,
        clear_frequency_ns: int,
        max_keys: int,
        start: float = 0.0,
    ) -> None:
        super().__init__(clear_frequency_ns or 30 * NANOSECONDS_PER_SECOND, start)
        self.goal_throughput_per_sec = goal_throughput_per_sec or 100
        self.max_keys = max_keys
        self.current_counts: dict[str, int] = {}
        self.saved_sample_rates: dict[str, int] = {}

    def set_goal_throughput_per_sec(self, goal: int) -> None:
        """``SetGoalThroughputPerSec``: ignored unless positive."""
        if goal > 0:
            self.goal_throughput_per_sec = goal

    def get_sample_rate_multi(self, key: str, count: int, now: float) -> int:
        self.advance(now)
        counts = self.current_counts
        if self.max_keys <= 0 or key in counts or len(counts) < self.max_keys:
            counts[key] = counts.get(key, 0) + count
        return self.saved_sample_rates.get(key, 1)

    def _idle(self) -> bool:
        return not self.current_counts and not self.saved_sample_rates

    def _tick(self, tick_ns: int) -> None:
        counts, self.current_counts = self.current_counts, {}
        if not counts:
            self.saved_sample_rates = {}
            return
        total_goal = float(self.goal_throughput_per_sec) * go_seconds(self.interval_ns)
        per_key = total_goal / float(len(counts))
        self.saved_sample_rates = {
            key: go_float_to_int(go_max(1.0, go_div(float(value), per_key)))
            for key, value in counts.items()
        }
