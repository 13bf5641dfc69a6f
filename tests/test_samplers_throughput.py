"""WindowedThroughput (with the bounded BlockList quirk) and TotalThroughput.

Numbers marked "dynsampler-go" are transcribed from its *_test.go at v0.6.4 (78025e5).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nectar.refinery.samplers.throughput import (
    BlockList,
    TotalThroughput,
    WindowedThroughput,
)

S = 1_000_000_000


def _calls(sampler: WindowedThroughput | TotalThroughput, key: str, n: int, t: float) -> set[int]:
    return {sampler.get_sample_rate_multi(key, 1, t) for _ in range(n)}


def test_windowed_happy_path() -> None:
    # dynsampler-go TestHappyPath: update 1s, lookback 5s, goal 2/s.
    w = WindowedThroughput(2.0, S, 5 * S, 0)
    assert _calls(w, "test_key", 20, 0.0) == {0}
    assert _calls(w, "test_key", 10, 1.0) == {2}
    assert _calls(w, "test_key", 50, 2.0) == {3}
    w.advance(5.0)
    assert _calls(w, "test_key", 40, 6.0) == {6}  # looks back over (0, 5]
    assert _calls(w, "test_key", 5, 7.0) == {9}  # looks back over (1, 6]


def test_windowed_drops_old_blocks() -> None:
    # dynsampler-go TestDropsOldBlocks.
    w = WindowedThroughput(2.0, S, 5 * S, 0)
    assert _calls(w, "test_key", 20, 0.0) == {0}
    assert _calls(w, "test_key", 20, 7.0) == {0}
    assert w.count_list.blocks == [(7, {"test_key": 20})]


def test_windowed_defaults() -> None:
    # dynsampler-go TestSetsDefaultsCorrectly.
    w = WindowedThroughput(0.0, 0, 0, 0)
    assert (w.interval_ns, w.lookback_ns, w.goal_throughput_per_sec) == (S, 30 * S, 100.0)
    w = WindowedThroughput(1.0, 5 * S, 18 * S, 0)
    assert (w.interval_ns, w.lookback_ns) == (5 * S, 15 * S)


def test_windowed_blocks_follow_unix_time_not_the_start() -> None:
    # Started at 0.3s: the tick at 1.3s sees block 0 (0.3-1.0) and not block 1 (1.0-1.3).
    w = WindowedThroughput(1.0, S, 2 * S, 0, start=0.3)
    w.get_sample_rate_multi("a", 8, 0.5)
    w.get_sample_rate_multi("a", 100, 1.1)
    w.advance(1.3)
    assert w.saved_sample_rates == {"a": 4}  # 8 / (1/s * 2s / 1 key)
    w.advance(2.3)
    assert w.saved_sample_rates == {"a": 54}  # 108 / 2


def test_bounded_block_list_quirk() -> None:
    # MaxKeys 2: once two keys are tracked, every increment is refused, known keys too.
    w = WindowedThroughput(1.0, S, 2 * S, 2)
    assert w.get_sample_rate_multi("a", 10, 0.1) == 0
    assert w.get_sample_rate_multi("b", 4, 0.1) == 0
    assert w.get_sample_rate_multi("a", 5, 0.2) == 0  # refused
    assert w.get_sample_rate_multi("c", 5, 0.2) == 0  # refused
    w.advance(1.0)
    assert w.saved_sample_rates == {"a": 10, "b": 4}  # refused counts were not added
    # "a" has a rate, but the list still tracks two keys: refused, so 0 (Refinery: 1).
    assert w.get_sample_rate_multi("a", 1, 1.5) == 0
    w.advance(2.0)
    assert w.saved_sample_rates == {"a": 10, "b": 4}
    # At 3s block 0 leaves the window (finish index 0): keys untracked, nothing counted since.
    w.advance(3.0)
    assert w.saved_sample_rates == {}
    assert w.count_list.key_indexes == {}
    assert w.get_sample_rate_multi("a", 1, 3.5) == 0  # accepted now, but no rate yet
    assert w.count_list.key_indexes == {"a": [3]}


def test_unbounded_when_max_keys_not_positive() -> None:
    w = WindowedThroughput(10.0, S, 2 * S, -1)
    for key in "abcdef":
        w.get_sample_rate_multi(key, 7, 0.0)
        w.get_sample_rate_multi(key + "-small", 2, 0.0)
    w.advance(1.0)
    # 12 keys share 10/s * 2s: 20/12 each; 7 / (5/3) = 4.2 -> 4, 2 / (5/3) = 1.2 -> 1.
    assert w.saved_sample_rates == {
        **dict.fromkeys("abcdef", 4),
        **dict.fromkeys([c + "-small" for c in "abcdef"], 1),
    }


def test_windowed_year_of_silence_is_fast_and_empty() -> None:
    w = WindowedThroughput(1.0, S, 30 * S, 0)
    w.get_sample_rate_multi("a", 100, 0.0)
    w.advance(365 * 86400.0)
    assert w.saved_sample_rates == {}
    assert w.count_list.blocks == []


class _AtomicRecord:
    """dynsampler-go's reference model for its BlockList tests (blocklist_test.go)."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.records: dict[str, list[tuple[int, int]]] = {}

    def increment(self, key: str, index: int, count: int) -> bool:
        if self.max_keys > 0 and len(self.records) >= self.max_keys:
            return False
        self.records.setdefault(key, []).insert(0, (index, count))
        return True

    def aggregate(self, current: int, lookback: int) -> dict[str, int]:
        start = current - 1
        out: dict[str, int] = {}
        finish = start - lookback
        for key in list(self.records):
            kept = []
            for index, count in self.records[key]:
                if finish < index <= start:
                    out[key] = out.get(key, 0) + count
                if index > finish:
                    kept.append((index, count))
            if kept:
                self.records[key] = kept
            else:
                del self.records[key]
        return out


@settings(max_examples=60, deadline=None)
@given(
    max_keys=st.sampled_from([0, 1, 3, 10]),
    steps=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 5), st.integers(1, 9), st.integers(0, 6)),
        max_size=60,
    ),
)
def test_block_list_matches_reference(
    max_keys: int, steps: list[tuple[int, int, int, int]]
) -> None:
    blocks, reference = BlockList(max_keys), _AtomicRecord(max_keys)
    index = 0
    for advance, key, count, lookback in steps:
        index += advance
        if count % 3 == 0:
            assert blocks.aggregate_counts(index, lookback) == reference.aggregate(index, lookback)
        else:
            name = f"k{key}"
            assert blocks.increment_key(name, index, count) == reference.increment(
                name, index, count
            )


TOTAL_CASES = [
    # dynsampler-go TestTotalThroughputUpdateMaps: clear 30s, goal 20/s.
    (
        dict(
            one=1, two=1, three=2, four=5, five=8, six=15, seven=45, eight=612, nine=2000, ten=10000
        ),
        dict(one=1, two=1, three=1, four=1, five=1, six=1, seven=1, eight=10, nine=33, ten=166),
    ),
    (
        dict(one=1, two=1, three=2, four=5, five=8, six=15, seven=45, eight=50, nine=60),
        dict.fromkeys(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"], 1),
    ),
    (
        dict(one=1, two=1, three=2, four=5, five=7),
        dict.fromkeys(["one", "two", "three", "four", "five"], 1),
    ),
    (
        dict(one=1000, two=1000, three=2000, four=5000, five=7000),
        dict(one=8, two=8, three=16, four=41, five=58),
    ),
    (
        dict.fromkeys(["one", "two", "three", "four", "five"], 6000),
        dict.fromkeys(["one", "two", "three", "four", "five"], 50),
    ),
    ({"one": 12000}, {"one": 20}),
    ({}, {}),
]


def test_total_throughput_update_maps() -> None:
    t = TotalThroughput(20, 30 * S, 0)
    for i, (counts, expected) in enumerate(TOTAL_CASES):
        for key, count in counts.items():
            t.get_sample_rate_multi(key, count, 30.0 * i + 1)
        t.advance(30.0 * (i + 1))
        assert t.saved_sample_rates == expected, i


def test_total_throughput_no_initial_rate_and_max_keys() -> None:
    t = TotalThroughput(0, 0, 3)
    assert (t.goal_throughput_per_sec, t.interval_ns) == (100, 30 * S)
    for key in ("one", "two", "three", "four", "one"):
        assert t.get_sample_rate_multi(key, 1, 0.0) == 1
    assert t.current_counts == {"one": 2, "two": 1, "three": 1}  # TestTotalThroughputMaxKeys
