"""Merging the chunks' string dictionaries into one per column, in order of first appearance.

A column's dictionary over several chunks lists each string once, in order of first
appearance (chunk by chunk, each chunk's own dictionary in its order), and every chunk's
codes are remapped into it.  Three ways give that one result:

* :func:`merge_by_dict`, the definition: a dict of every string seen;
* :func:`merge_by_hash` and :func:`merge_pools`, all the chunks at once from a stable sort
  of the strings' hashes (a dict of millions of strings misses the cache on every lookup);
  dictionaries from worker processes arrive encoded with their hashes
  (:class:`~pytest_nectar.corpus.partial.HashedPool`) and are merged without decoding;
* :class:`GrowingPool`, one chunk at a time as chunks arrive, so the merge overlaps the
  parsing of the chunks after it.

Equal hashes of different strings are never trusted: the hash merges compare the bytes
and give up (None), and the dict decides.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import chain, compress, count, pairwise
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.partial import HashedPool
from pytest_nectar.corpus.table import StringPool

__all__ = [
    "BY_HASH",
    "GrowingPool",
    "Merge",
    "merge_by_dict",
    "merge_by_hash",
    "merge_pools",
]

#: A merged dictionary, and per chunk its codes' new codes.
Merge = tuple[Sequence[str], list[npt.NDArray[np.int32]]]
#: Dictionaries of this many strings in all are merged by sorting hashes, not in a dict.
BY_HASH: Final = 50_000
_hash: Callable[[object], int] = hash  # a name tests replace to force collisions


def merge_by_dict(parts: Sequence[Sequence[str]]) -> Merge:
    lookup = dict(zip(parts[0], count()))
    mappings = [np.arange(len(parts[0]), dtype=np.int32)]
    for strings in parts[1:]:
        new = [s for s in strings if s not in lookup]
        lookup.update(zip(new, count(len(lookup))))
        mappings.append(
            np.fromiter(map(lookup.__getitem__, strings), dtype=np.int32, count=len(strings))
        )
    return list(lookup), mappings


def _first_with_hash(hashes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per string, the first string with its hash."""
    n = len(hashes)
    order = np.argsort(hashes)
    ordered = hashes[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    earliest = np.minimum.reduceat(order, np.flatnonzero(starts))
    first = np.empty(n, dtype=np.int64)
    first[order] = earliest[np.cumsum(starts) - 1]
    return first


def _mappings(
    first: npt.NDArray[np.int64], sizes: list[int]
) -> tuple[npt.NDArray[np.bool_], list[npt.NDArray[np.int32]]]:
    """Which strings are new, and per part its codes in the merged dictionary."""
    is_first = first == np.arange(len(first))
    final = (np.cumsum(is_first, dtype=np.int64) - 1)[first].astype(np.int32)
    bounds = np.cumsum([0, *sizes]).tolist()
    return is_first, [final[a:b] for a, b in pairwise(bounds)]


def merge_by_hash(parts: Sequence[Sequence[str]]) -> Merge | None:
    """What :func:`merge_by_dict` gives, from a stable sort of the strings' hashes; None on
    a hash collision between different strings (then the dict decides)."""
    every = list(chain.from_iterable(parts))
    first = _first_with_hash(np.fromiter(map(_hash, every), dtype=np.int64, count=len(every)))
    later = np.flatnonzero(first != np.arange(len(every)))
    at = every.__getitem__
    if not all(map(operator.eq, map(at, later.tolist()), map(at, first[later].tolist()))):
        return None
    is_first, mappings = _mappings(first, list(map(len, parts)))
    return list(compress(every, is_first.tolist())), mappings


def merge_pools(pools: Sequence[HashedPool]) -> Merge | None:
    """:func:`merge_by_hash` on the chunks' encoded dictionaries, in numpy: strings with
    equal hashes are compared byte by byte, and the merged pool is cut from the chunks'."""
    hashes = [p.hashes for p in pools if p.hashes is not None]
    first = _first_with_hash(np.concatenate(hashes))
    joined = b"".join(bytes(p.buffer) for p in pools)
    buffer = np.frombuffer(joined, dtype=np.uint8)
    bases = np.cumsum([0, *(int(p.offsets[-1]) for p in pools)])
    starts = np.concatenate([p.offsets[:-1] + base for p, base in zip(pools, bases, strict=False)])
    lengths = np.concatenate([np.diff(p.offsets) for p in pools])
    later = np.flatnonzero(first != np.arange(len(first)))
    if later.size:
        earlier = first[later]
        width = int(lengths[0])
        if bool((lengths == width).all()) and width:  # one width (ids): rows of a matrix
            table = buffer.reshape(-1, width)
            if not np.array_equal(table[later], table[earlier]):
                return None
        elif not _same_strings(
            buffer, starts[later], lengths[later], buffer, starts[earlier], lengths[earlier]
        ):
            return None
    is_first, mappings = _mappings(first, [len(p) for p in pools])
    if not later.size:  # no string in two chunks: the pools one after another
        offsets = np.concatenate([[0], starts[1:], [len(joined)]]).astype(np.int64)
        return StringPool(joined, offsets), mappings
    kept = lengths[is_first]
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(kept, out=offsets[1:])
    merged = buffer[np.repeat(is_first, lengths)].tobytes()
    return StringPool(merged, offsets), mappings


def _same_strings(
    buffer: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    other: npt.NDArray[np.uint8],
    other_starts: npt.NDArray[np.int64],
    other_lengths: npt.NDArray[np.int64],
) -> bool:
    """Whether the strings at ``starts`` of ``buffer`` are, one for one, byte for byte,
    those at ``other_starts`` of ``other``."""
    if not np.array_equal(lengths, other_lengths):
        return False
    here = _byte_positions(starts, lengths)
    there = _byte_positions(other_starts, other_lengths)
    return bool(np.array_equal(buffer[here], other[there]))


def _byte_positions(
    starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Every byte position of the strings at ``starts`` with ``lengths``, in order."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    positions: npt.NDArray[np.int64] = np.arange(total) + np.repeat(
        starts - ends + lengths, lengths
    )
    return positions


class _Growing:
    """A numpy array appended to, its capacity doubled (amortised linear copying)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: type, capacity: int = 1024) -> None:
        self.data: npt.NDArray[Any] = np.empty(capacity, dtype=dtype)
        self.size = 0

    def extend(self, values: npt.NDArray[Any]) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            grown = np.empty(max(end, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : end] = values
        self.size = end

    def view(self) -> npt.NDArray[Any]:
        return self.data[: self.size]


class GrowingPool:
    """One column's dictionary merged a chunk at a time, in chunk order: what
    :func:`merge_pools` gives for the chunks so far, after each chunk.

    The strings seen are kept encoded with their hashes sorted; a new chunk's strings are
    looked up by binary search, the strings with a known hash compared byte by byte, the
    others appended.  A hash shared by two different strings (in the chunk or with one
    seen) ends it: :meth:`add` returns None and the caller merges the rest otherwise.
    """

    __slots__ = ("_bytes", "_ends", "_in_code_order", "_runs")

    def __init__(self) -> None:
        self._bytes = _Growing(np.uint8)
        self._ends = _Growing(np.int64)  # end offset of each string, in code order
        self._in_code_order = _Growing(np.int64)
        #: The hashes seen, as sorted runs with their codes, each longer than the next (two
        #: merged when not, as a binary counter carries): O(log n) runs, each hash merged
        #: O(log n) times, so a chunk costs about its own size, not the dictionary's.
        self._runs: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []

    def __len__(self) -> int:
        return self._ends.size

    def add(self, pool: HashedPool) -> npt.NDArray[np.int32] | None:
        """Merge ``pool`` (with hashes); its codes' codes in the merged dictionary."""
        hashes = pool.hashes
        if hashes is None:
            return None
        m = len(hashes)
        order = np.argsort(hashes)  # any order of equal hashes: they end the merge below
        ordered = hashes[order]
        if m > 1 and bool((ordered[1:] == ordered[:-1]).any()):
            return None
        offsets = np.asarray(pool.offsets, dtype=np.int64)
        buffer = np.frombuffer(pool.buffer, dtype=np.uint8)
        seen = np.full(m, -1, dtype=np.int64)  # by hash order: the code of an equal hash
        for run, codes in self._runs:
            at = np.searchsorted(run, ordered)
            found = run[np.minimum(at, len(run) - 1)] == ordered
            seen[found] = codes[at[found]]
        hit = seen >= 0
        mapping = np.empty(m, dtype=np.int64)
        if hit.any():
            mine, theirs = order[hit], seen[hit]
            ends = self._ends.view()
            their_starts = np.where(theirs > 0, ends[np.maximum(theirs - 1, 0)], 0)
            if not _same_strings(
                buffer,
                offsets[mine],
                offsets[mine + 1] - offsets[mine],
                self._bytes.view(),
                their_starts,
                ends[theirs] - their_starts,
            ):
                return None
            mapping[mine] = theirs
        n = len(self)
        # The new strings in the chunk's order: first appearance.
        new = np.sort(order[~hit]) if hit.any() else np.arange(m)
        mapping[new] = np.arange(n, n + len(new))
        starts, stops = offsets[new], offsets[new + 1]
        if len(new) == m:
            self._bytes.extend(buffer[int(offsets[0]) : int(offsets[-1])])
        else:
            self._bytes.extend(buffer[_byte_positions(starts, stops - starts)])
        base = self._bytes.size - int((stops - starts).sum())
        self._ends.extend(base + np.cumsum(stops - starts))
        self._in_code_order.extend(hashes[new])
        self._push(ordered[~hit], mapping[order[~hit]])
        return mapping.astype(np.int32)

    def _push(self, hashes: npt.NDArray[np.int64], codes: npt.NDArray[np.int64]) -> None:
        if not len(hashes):
            return
        runs = self._runs
        runs.append((hashes, codes))
        while len(runs) >= 2 and len(runs[-1][0]) >= len(runs[-2][0]):
            (a, a_codes), (b, b_codes) = runs[-2], runs.pop()
            both = np.concatenate([a, b])
            order = np.argsort(both, kind="stable")  # two sorted runs: merged in one pass
            runs[-1] = (both[order], np.concatenate([a_codes, b_codes])[order])

    def pool(self) -> HashedPool:
        """The merged dictionary (with each string's hash)."""
        offsets = np.zeros(len(self) + 1, dtype=np.int64)
        offsets[1:] = self._ends.view()
        return HashedPool(self._bytes.view().tobytes(), offsets, self._in_code_order.view().copy())
