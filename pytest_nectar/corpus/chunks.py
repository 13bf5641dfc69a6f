"""Chunks merged into one table's columns, each chunk as soon as it arrives.

A file is parsed in chunks (by worker processes, for a big one); each chunk is a
:class:`~pytest_nectar.corpus.partial.PartialTable`.  :class:`MergedChunks` takes them in
input order, one at a time, and drops each once it is in: a column keeps its chunks'
arrays until :meth:`MergedChunks.finish` concatenates them, and merges each chunk's string
dictionary on arrival (``dictionaries.GrowingPool``), so that work overlaps the parsing
of the chunks after it.  A field every row has keeps no rows array until the end; the
arrays of one value (a column's kind, the zeros of the values it does not use) are
:class:`Constants` shared by every column.  ``assemble.py`` then groups the rows by trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.dictionaries import (
    BY_HASH,
    GrowingPool,
    Merge,
    merge_by_dict,
    merge_by_hash,
    merge_pools,
)
from pytest_nectar.corpus.partial import HashedPool, PartialColumn, PartialTable
from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_STRING,
    Skipped,
    StringPool,
)

__all__ = ["Constants", "MergedChunks", "MergedColumn", "cat", "concat_tables", "merge_chunks"]


class Constants:
    """Arrays of one value, and ``0 .. n - 1``, shared by every column that has them: each
    is made (and paged in, and written to the store) once, not once per column.  They are
    read-only, so no column can change another's."""

    def __init__(self) -> None:
        self._made: dict[tuple[object, str, int], npt.NDArray[Any]] = {}
        #: id of a shared array of one value -> (value, dtype, the array)
        self._value_of: dict[int, tuple[int, type, npt.NDArray[Any]]] = {}

    def _shared(self, key: tuple[object, str, int], make: Callable[[], npt.NDArray[Any]]) -> Any:
        array = self._made.get(key)
        if array is None:
            array = self._made[key] = make()
            array.flags.writeable = False
        return array

    def arange(self, n: int) -> npt.NDArray[np.int64]:
        return self._shared(("arange", "i8", n), lambda: np.arange(n, dtype=np.int64))  # type: ignore[no-any-return]

    def full(self, n: int, value: int, dtype: type) -> npt.NDArray[Any]:
        # Zeros come from calloc: pages nobody reads are never touched (the store skips them).
        array = self._shared(
            (value, np.dtype(dtype).str, n),
            lambda: np.zeros(n, dtype=dtype) if value == 0 else np.full(n, value, dtype=dtype),
        )
        self._value_of[id(array)] = (value, dtype, array)
        return array  # type: ignore[no-any-return]

    def take(self, array: npt.NDArray[Any], order: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
        """``array[order]``; a shared array of one value gives the shared one of its length."""
        known = self._value_of.get(id(array))
        if known is not None and known[2] is array:
            return self.full(len(order), known[0], known[1])
        return array[order]


@dataclass
class MergedColumn:
    """One column over several chunks: arrays kept per chunk until used, dictionaries
    merged in chunk order (a string keeps the code of its first appearance)."""

    rows: list[npt.NDArray[np.int64]] = field(default_factory=list)
    kind: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    ints: list[npt.NDArray[np.int64]] = field(default_factory=list)
    floats: list[npt.NDArray[np.float64]] = field(default_factory=list)
    codes: list[npt.NDArray[np.int32]] = field(default_factory=list)
    #: Per chunk, its dictionary (until :meth:`merge_strings`); then the column's.
    dictionaries: list[Sequence[str]] = field(default_factory=list)
    strings: Sequence[str] = field(default_factory=list)
    #: The dictionaries of chunks ``[0, merged)``, merged as they came (None: when done).
    growing: GrowingPool | None = field(default_factory=GrowingPool)
    merged: int = 0
    others: dict[int, object] = field(default_factory=dict)
    size: int = 0
    #: In every row of every chunk from the first to the last it is in: ``rows`` is left
    #: empty until :meth:`settle` (it is 0 .. size - 1).
    dense: bool = True
    #: The one kind of every entry of every chunk (0: several, or not known).
    single: int = 0

    def add(self, part: PartialColumn, offset: int, n_rows: int) -> None:
        """Add the column's part of the chunk of ``n_rows`` rows from row ``offset``."""
        self.single = part.single if not self.kind or self.single == part.single else 0
        if part.others:
            self.others.update({self.size + i: v for i, v in part.others.items()})
        n = len(part.rows)
        if not (self.dense and offset == self.size and n == n_rows):  # rows ascend: all
            if self.dense:
                self.rows = [np.arange(self.size, dtype=np.int64)]
                self.dense = False
            self.rows.append(part.rows + offset if offset else part.rows)
        self.kind.append(part.kind)
        self.ints.append(part.ints)
        self.floats.append(part.floats)
        self.codes.append(part.codes)
        self.dictionaries.append(part.strings)
        self.size += len(part.rows)
        if self.growing is not None and self.merged == len(self.dictionaries) - 1:
            self._merge_last()

    def _merge_last(self) -> None:
        """Merge the last chunk's dictionary now, while later chunks are parsed (only
        dictionaries that came from workers with hashes; anything else waits)."""
        assert self.growing is not None
        strings = self.dictionaries[-1]
        if strings:
            if not isinstance(strings, HashedPool):
                return
            first = not len(self.growing)
            mapping = self.growing.add(strings)
            if mapping is None:
                return
            if not first:  # the first dictionary's codes are its own
                self._recode(len(self.dictionaries) - 1, mapping)
            self.dictionaries[-1] = []
        self.merged += 1

    def merge_strings(self) -> None:
        """One dictionary for the column, and every chunk's codes into it (the chunks
        :meth:`add` merged as they came are in ``growing``; the rest are merged here)."""
        groups: list[tuple[Sequence[str], list[int]]] = []
        if self.growing is not None and len(self.growing):
            groups.append((self.growing.pool(), list(range(self.merged))))
        groups += [
            (strings, [i])
            for i, strings in enumerate(self.dictionaries[self.merged :], self.merged)
            if strings
        ]
        self.growing = None
        self.dictionaries = []
        if len(groups) == 1:
            self.strings = groups[0][0]
        elif groups:
            parts = [strings for strings, _ in groups]
            merged: Merge | None = None
            if all(isinstance(p, HashedPool) and p.hashes is not None for p in parts):
                merged = merge_pools(parts)  # type: ignore[arg-type]
            if merged is None:
                parts = [list(p) for p in parts]
                if sum(map(len, parts)) >= BY_HASH:
                    merged = merge_by_hash(parts)
            self.strings, mappings = merged or merge_by_dict(parts)
            for (_, chunks), mapping in zip(groups, mappings, strict=True):
                for i in chunks:
                    self._recode(i, mapping)

    def _recode(self, chunk: int, mapping: npt.NDArray[np.int32]) -> None:
        codes = self.codes[chunk]
        self.codes[chunk] = np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1).astype(np.int32)

    def settle(self, shared: Constants) -> None:
        """Concatenate the chunks' arrays (of one kind: only the array its values are in;
        the others, and the rows of a field every row has, are ``shared``)."""
        kind, n = self.single, self.size
        if self.dense:
            self.rows[:] = [shared.arange(n)]
        else:
            cat(self.rows, np.int64)
        if not kind:
            for parts, dtype in (
                (self.kind, np.uint8),
                (self.ints, np.int64),
                (self.floats, np.float64),
                (self.codes, np.int32),
            ):
                cat(parts, dtype)
            return
        self.kind[:] = [shared.full(n, kind, np.uint8)]
        numbers = kind in (KIND_INT, KIND_BOOL)
        self.ints[:] = [cat(self.ints, np.int64) if numbers else shared.full(n, 0, np.int64)]
        if kind in (KIND_INT, KIND_FLOAT):
            cat(self.floats, np.float64)
        else:
            self.floats[:] = [shared.full(n, 0, np.float64)]
        if kind == KIND_STRING:
            cat(self.codes, np.int32)
        else:
            self.codes[:] = [shared.full(n, -1, np.int32)]

    def pool(self) -> StringPool:
        strings = self.strings
        if isinstance(strings, StringPool):
            return StringPool(strings.buffer, strings.offsets)
        return StringPool.from_strings(strings)


@dataclass
class MergedChunks:
    """Chunks merged one at a time, in input order, each dropped once it is in: the
    columns (dictionaries merged as they come) and the per-row arrays, per chunk."""

    columns: dict[str, MergedColumn] = field(default_factory=dict)
    offsets: list[int] = field(default_factory=lambda: [0])
    row_time: list[npt.NDArray[np.float64]] = field(default_factory=list)
    row_rate: list[npt.NDArray[np.float64]] = field(default_factory=list)
    row_format: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    row_record: list[npt.NDArray[np.int64]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: (file, record, reason) of every chunk's skipped records, in chunk order.
    skipped: list[Skipped] = field(default_factory=list)
    shared: Constants = field(default_factory=Constants)

    def add(self, file: str, chunk: PartialTable) -> None:
        for name, part in chunk.columns.items():
            target = self.columns.get(name)
            if target is None:
                target = self.columns[name] = MergedColumn()
            target.add(part, self.offsets[-1], chunk.n_rows)
        self.offsets.append(self.offsets[-1] + chunk.n_rows)
        self.row_time.append(chunk.row_time)
        self.row_rate.append(chunk.row_rate)
        self.row_format.append(chunk.row_format)
        self.row_record.append(chunk.row_record)
        self.files.append(file)
        self.skipped.extend(Skipped(file, r, reason) for r, reason in chunk.skipped)

    def finish(self) -> dict[str, MergedColumn]:
        for column in self.columns.values():
            column.merge_strings()
            column.settle(self.shared)
        return self.columns


def merge_chunks(chunks: Iterable[tuple[str, PartialTable]]) -> MergedChunks:
    merging = MergedChunks()
    for file, chunk in chunks:
        merging.add(file, chunk)
    merging.finish()
    return merging


def concat_tables(chunks: Sequence[PartialTable]) -> PartialTable:
    """Chunks of one file as one table, rows in order (each column's dictionary merged)."""
    merging = merge_chunks(("", chunk) for chunk in chunks)
    columns = {
        name: PartialColumn(
            rows=cat(col.rows, np.int64),
            kind=cat(col.kind, np.uint8),
            ints=cat(col.ints, np.int64),
            floats=cat(col.floats, np.float64),
            codes=cat(col.codes, np.int32),
            strings=col.strings,
            others=col.others,
        )
        for name, col in merging.columns.items()
    }
    return PartialTable(
        n_rows=merging.offsets[-1],
        row_time=cat(merging.row_time, np.float64),
        row_rate=cat(merging.row_rate, np.float64),
        row_format=cat(merging.row_format, np.uint8),
        row_record=cat(merging.row_record, np.int64),
        columns=columns,
        skipped=[s for c in chunks for s in c.skipped],
    )


def cat(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    """The parts as one array; the list keeps it, so a column is concatenated once."""
    if len(parts) != 1:
        parts[:] = [np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)]
    return parts[0]
