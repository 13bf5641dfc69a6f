"""A parsed chunk of input: its rows' times and rates, and its fields as columns.

Readers (through :class:`~pytest_nectar.corpus.buffer.RowBuffer`, or the columnar table
reader) give one :class:`PartialTable` per chunk of input; ``chunks.py`` merges them into a
corpus's columns.  Chunks parsed in worker processes cross to the parent compactly: a column
of one kind sends its one array of values, and its dictionary as a :class:`HashedPool` (one
UTF-8 buffer and each string's hash), so the parent merges dictionaries without building the
strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STRING, StringPool

__all__ = ["HashedPool", "PartialColumn", "PartialTable"]


@dataclass
class PartialColumn:
    """One field over one chunk, entries in row order; strings in the order of their first
    entry in shape order (rows grouped by field layout, as :class:`RowBuffer` groups them).

    ``strings`` is a list, or a :class:`HashedPool` in a chunk that came from a worker."""

    rows: npt.NDArray[np.int64]
    kind: npt.NDArray[np.uint8]
    ints: npt.NDArray[np.int64]
    floats: npt.NDArray[np.float64]
    codes: npt.NDArray[np.int32]
    strings: Sequence[str]
    others: dict[int, object] = field(default_factory=dict)
    #: The kind of every entry when they all have one (0: not known): the arrays it does not
    #: use are zeros (codes -1), and merging chunks need not copy them.
    single: int = field(default=0, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # Chunks cross from worker processes: a column of one kind sends its one array of
        # values (and int32 rows, or none when every row has the field), not five, and its
        # dictionary as one UTF-8 buffer with the strings' hashes; the other side rebuilds
        # the same arrays.
        kind = self.kind
        n = len(kind)
        strings = HashedPool.of(self.strings) if self.strings else []
        if n and not self.others and int(kind.min()) == int(kind.max()) and n < 2**31:
            only = int(kind[0])
            payload = {KIND_STRING: self.codes, KIND_FLOAT: self.floats}.get(only, self.ints)
            last = int(self.rows[-1])
            rows: npt.NDArray[Any] | int = self.rows.astype(np.int32)
            if last >= 2**31:
                rows = self.rows
            elif last == n - 1 and bool((self.rows[1:] > self.rows[:-1]).all()):
                rows = n  # 0 .. n - 1 (rows ascend from 0 or more, n of them, up to n - 1)
            return (_one_kind, (rows, only, payload, strings))
        fields = (self.rows, kind, self.ints, self.floats, self.codes, strings, self.others)
        return (PartialColumn, fields)


class HashedPool(StringPool):
    """A chunk's dictionary as it crosses processes: a :class:`StringPool` and each string's
    ``hash()``, so the parent merges dictionaries without building the strings.

    Workers are forked, so they hash as the parent does; a pool from a process that hashes
    otherwise arrives without hashes (``hashes`` None)."""

    __slots__ = ("hashes",)

    def __init__(
        self,
        buffer: bytes | npt.NDArray[np.uint8],
        offsets: npt.NDArray[np.int64],
        hashes: npt.NDArray[np.int64] | None,
    ) -> None:
        super().__init__(buffer, offsets)
        self.hashes = hashes

    @classmethod
    def of(cls, strings: Sequence[str]) -> HashedPool:
        pool = StringPool.from_strings(strings)
        hashes = np.fromiter(map(hash, strings), dtype=np.int64, count=len(strings))
        return cls(pool.buffer, pool.offsets, hashes)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_hashed_pool, (self.buffer, self.offsets, self.hashes, hash(_HASH_PROBE)))


_HASH_PROBE: Final = "nectar: same hash()?"


def _hashed_pool(
    buffer: bytes,
    offsets: npt.NDArray[np.int64],
    hashes: npt.NDArray[np.int64] | None,
    probe: int,
) -> HashedPool:
    return HashedPool(buffer, offsets, hashes if probe == hash(_HASH_PROBE) else None)


def _one_kind(
    rows: npt.NDArray[np.integer[Any]] | int,
    kind: int,
    payload: npt.NDArray[Any],
    strings: Sequence[str],
) -> PartialColumn:
    # The arrays a kind does not use are read-only views of one value (no memory).
    if isinstance(rows, int):  # the field is in every row
        rows = np.arange(rows, dtype=np.int64)
    n = len(rows)
    ints = payload if kind in (KIND_INT, KIND_BOOL) else _same(0, np.int64, n)
    if kind == KIND_FLOAT:
        floats = payload
    elif kind == KIND_INT:
        floats = ints.astype(np.float64)
    else:
        floats = _same(0, np.float64, n)
    codes = payload if kind == KIND_STRING else _same(-1, np.int32, n)
    kinds = _same(kind, np.uint8, n)
    wide: npt.NDArray[np.int64] = rows.astype(np.int64, copy=False)
    return PartialColumn(wide, kinds, ints, floats, codes, strings, single=kind)


def _same(value: int, dtype: type, n: int) -> npt.NDArray[Any]:
    return np.broadcast_to(np.array(value, dtype=dtype), (n,))


@dataclass
class PartialTable:
    """The rows of one chunk: per-row time and rate, and the columns."""

    n_rows: int
    row_time: npt.NDArray[np.float64]
    row_rate: npt.NDArray[np.float64]
    row_format: npt.NDArray[np.uint8]
    #: Record number (line or record ordinal, local to the chunk) each row came from.
    row_record: npt.NDArray[np.int64]
    columns: dict[str, PartialColumn]
    #: (record number, reason) of records skipped in this chunk, record numbers local.
    skipped: list[tuple[int, str]] = field(default_factory=list)
    #: Lines (or records) this chunk covered, to number the next chunk's records.
    records: int = 0
    #: (record, what, got) of the first bad record when skipping is off.
    error: tuple[int, str, object] | None = None
