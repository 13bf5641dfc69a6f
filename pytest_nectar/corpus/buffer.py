"""Rows to columns: collect flat events, then transpose them into typed numpy columns.

Readers hand every event to a :class:`RowBuffer`.  Most events of a corpus share a few
field layouts ("shapes": the same keys in the same order), so the buffer groups rows by
shape and transposes each group with ``zip(*rows)`` in C, then converts each field's
values per type with numpy.  That keeps the per-value Python work to a type check.

A :class:`PartialTable` is the result for one chunk of input; ``assemble.py`` merges
chunks (possibly built in worker processes) into a corpus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NULL,
    KIND_OTHER,
    KIND_STRING,
)

__all__ = ["PartialColumn", "PartialTable", "RowBuffer"]

_KIND_OF_TYPE: dict[type, int] = {
    str: KIND_STRING,
    int: KIND_INT,
    float: KIND_FLOAT,
    bool: KIND_BOOL,
    type(None): KIND_NULL,
    list: KIND_OTHER,
    dict: KIND_OTHER,
}


@dataclass
class PartialColumn:
    """One field over one chunk; entries in no particular row order (``rows`` says where)."""

    rows: npt.NDArray[np.int64]
    kind: npt.NDArray[np.uint8]
    ints: npt.NDArray[np.int64]
    floats: npt.NDArray[np.float64]
    codes: npt.NDArray[np.int32]
    strings: list[str]
    others: dict[int, object] = field(default_factory=dict)


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


class _FieldAccumulator:
    __slots__ = ("codes", "floats", "ints", "kinds", "lookup", "others", "rows")

    def __init__(self) -> None:
        self.rows: list[npt.NDArray[np.int64]] = []
        self.kinds: list[npt.NDArray[np.uint8]] = []
        self.ints: list[npt.NDArray[np.int64]] = []
        self.floats: list[npt.NDArray[np.float64]] = []
        self.codes: list[npt.NDArray[np.int32]] = []
        self.lookup: dict[str, int] = {}
        self.others: dict[int, object] = {}

    @property
    def size(self) -> int:
        return sum(len(r) for r in self.rows)

    def add(self, rows: npt.NDArray[np.int64], values: tuple[Any, ...]) -> None:
        n = len(values)
        types = set(map(type, values))
        zeros_i = np.zeros(n, dtype=np.int64)
        zeros_f = np.zeros(n, dtype=np.float64)
        no_codes = np.full(n, -1, dtype=np.int32)
        if len(types) == 1:
            only = next(iter(types))
            if only is str:
                lookup = self.lookup
                for s in dict.fromkeys(values):
                    if s not in lookup:
                        lookup[s] = len(lookup)
                codes = np.fromiter(map(lookup.__getitem__, values), dtype=np.int32, count=n)
                self._push(rows, KIND_STRING, zeros_i, zeros_f, codes)
                return
            if only is float:
                self._push(rows, KIND_FLOAT, zeros_i, np.array(values, dtype=np.float64), no_codes)
                return
            if only is int:
                try:
                    ints = np.array(values, dtype=np.int64)
                except OverflowError:
                    self._add_mixed(rows, values)
                    return
                self._push(rows, KIND_INT, ints, ints.astype(np.float64), no_codes)
                return
            if only is bool:
                ints = np.array(values, dtype=np.int64)
                self._push(rows, KIND_BOOL, ints, zeros_f, no_codes)
                return
        self._add_mixed(rows, values)

    def _push(
        self,
        rows: npt.NDArray[np.int64],
        kind: int,
        ints: npt.NDArray[np.int64],
        floats: npt.NDArray[np.float64],
        codes: npt.NDArray[np.int32],
    ) -> None:
        self.rows.append(rows)
        self.kinds.append(np.full(len(rows), kind, dtype=np.uint8))
        self.ints.append(ints)
        self.floats.append(floats)
        self.codes.append(codes)

    def _add_mixed(self, rows: npt.NDArray[np.int64], values: tuple[Any, ...]) -> None:
        n = len(values)
        base = self.size
        kinds = np.zeros(n, dtype=np.uint8)
        ints = np.zeros(n, dtype=np.int64)
        floats = np.zeros(n, dtype=np.float64)
        codes = np.full(n, -1, dtype=np.int32)
        lookup = self.lookup
        for i, value in enumerate(values):
            kind = _KIND_OF_TYPE.get(type(value))
            if kind is None:
                raise TypeError(f"unsupported value type {type(value).__name__}")
            kinds[i] = kind
            if kind == KIND_STRING:
                code = lookup.get(value)
                if code is None:
                    code = lookup[value] = len(lookup)
                codes[i] = code
            elif kind == KIND_INT:
                if -(2**63) <= value < 2**63:
                    ints[i] = value
                    floats[i] = float(value)
                else:  # an integer beyond int64 can only reach Refinery as a float64
                    kinds[i] = KIND_FLOAT
                    floats[i] = float(value)
            elif kind == KIND_FLOAT:
                floats[i] = value
            elif kind == KIND_BOOL:
                ints[i] = int(value)
            elif kind == KIND_OTHER:
                self.others[base + i] = value
        self.rows.append(rows)
        self.kinds.append(kinds)
        self.ints.append(ints)
        self.floats.append(floats)
        self.codes.append(codes)

    def finish(self) -> PartialColumn:
        return PartialColumn(
            rows=np.concatenate(self.rows),
            kind=np.concatenate(self.kinds),
            ints=np.concatenate(self.ints),
            floats=np.concatenate(self.floats),
            codes=np.concatenate(self.codes),
            strings=list(self.lookup),
            others=self.others,
        )


class RowBuffer:
    """Collects events (flat dicts) of one chunk and turns them into a :class:`PartialTable`."""

    def __init__(self) -> None:
        self.n = 0
        self._shapes: dict[tuple[str, ...], tuple[list[int], list[tuple[Any, ...]]]] = {}
        self._times: list[float] = []
        self._rates: list[float] = []
        self._formats: list[int] = []
        self._records: list[int] = []
        self.skipped: list[tuple[int, str]] = []

    def add(
        self, fields: dict[str, object], time: float, rate: float, fmt: int, record: int
    ) -> None:
        shape = tuple(fields)
        group = self._shapes.get(shape)
        if group is None:
            group = self._shapes[shape] = ([], [])
        group[0].append(self.n)
        group[1].append(tuple(fields.values()))
        self._times.append(time)
        self._rates.append(rate)
        self._formats.append(fmt)
        self._records.append(record)
        self.n += 1

    def mark(self) -> int:
        """A point to roll back to if the record being read turns out to be bad."""
        return self.n

    def rollback(self, mark: int) -> None:
        """Forget the rows added since ``mark`` (a record is all in, or all out)."""
        if mark == self.n:
            return
        for shape in list(self._shapes):
            rows, values = self._shapes[shape]
            while rows and rows[-1] >= mark:
                rows.pop()
                values.pop()
            if not rows:
                del self._shapes[shape]
        del self._times[mark:]
        del self._rates[mark:]
        del self._formats[mark:]
        del self._records[mark:]
        self.n = mark

    def finish(self, records: int = 0) -> PartialTable:
        accumulators: dict[str, _FieldAccumulator] = {}
        for shape, (rows, values) in self._shapes.items():
            row_array = np.array(rows, dtype=np.int64)
            for name, column in zip(shape, zip(*values, strict=True), strict=True):
                acc = accumulators.get(name)
                if acc is None:
                    acc = accumulators[name] = _FieldAccumulator()
                acc.add(row_array, column)
        times = np.array(self._times, dtype=np.float64) if self._times else np.zeros(0)
        return PartialTable(
            n_rows=self.n,
            row_time=times,
            row_rate=np.array(self._rates, dtype=np.float64),
            row_format=np.array(self._formats, dtype=np.uint8),
            row_record=np.array(self._records, dtype=np.int64),
            columns={name: acc.finish() for name, acc in accumulators.items()},
            skipped=list(self.skipped),
            records=records,
        )


def nan_if_none(value: float | None) -> float:
    """``value``, or NaN when it is unknown."""
    return math.nan if value is None else value
