"""Rows to columns: collect flat events, then turn them into typed numpy columns.

Readers hand events to a :class:`RowBuffer`, one dict at a time (:meth:`RowBuffer.add`) or
as blocks of columns (:meth:`RowBuffer.add_block`: the OTLP fast path flattens many spans
at once).  Most events of a corpus share a few field layouts ("shapes": the same keys in
the same order), so the buffer groups rows by shape; at the end each field's values, shape
by shape, are converted once, per type, with numpy.  A block's column may come as one
value repeated (:class:`Repeat`), a numpy array, strings known to be strings
(:class:`Strings`) or strings already dictionary-encoded (:class:`Coded`); every form gives
the same arrays, kinds and dictionary order as dicts would.

The result for one chunk of input is a :class:`~pytest_nectar.corpus.partial.PartialTable`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, count, repeat
from typing import Any, Final, overload

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.partial import PartialColumn, PartialTable
from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NULL,
    KIND_OTHER,
    KIND_STRING,
)

__all__ = ["Coded", "Repeat", "RowBuffer", "Strings"]

_KIND_OF_TYPE: dict[type, int] = {
    str: KIND_STRING,
    int: KIND_INT,
    float: KIND_FLOAT,
    bool: KIND_BOOL,
    type(None): KIND_NULL,
    list: KIND_OTHER,
    dict: KIND_OTHER,
}


class _FieldAccumulator:
    """One field's entries of one chunk: pieces kept as they come, converted once at the end.

    Converting every value of a field in one pass (rather than per shape or per block) gives
    the same arrays, kinds and dictionary order, with a few numpy calls per field and chunk.
    """

    __slots__ = ("rows", "values")

    def __init__(self) -> None:
        self.rows: list[npt.NDArray[np.int64]] = []
        self.values: list[Piece] = []

    def add(self, rows: npt.NDArray[np.int64], values: Piece) -> None:
        self.rows.append(rows)
        self.values.append(values)

    def finish(self) -> PartialColumn:
        rows = self.rows[0] if len(self.rows) == 1 else np.concatenate(self.rows)
        # Entries go in row order; the dictionary keeps the order of the values as they
        # came (shape by shape).
        ascending = len(rows) < 2 or bool((rows[1:] > rows[:-1]).all())
        order = None if ascending else rows.argsort(kind="stable")  # a few ascending runs
        pieces = self.values
        first = pieces[0]
        if isinstance(first, Repeat) and all(
            isinstance(p, Repeat) and p.same(first) for p in pieces
        ):
            column = _repeated(rows[order] if order is not None else rows, first.value)
            if column is not None:
                return column
        coded = [p for p in pieces if isinstance(p, Coded)]
        if len(coded) == len(pieces):
            return _decoded(rows, order, coded)
        arrays = [p for p in pieces if isinstance(p, np.ndarray)]
        if len(arrays) == len(pieces) and {a.dtype for a in arrays} in _ONE_NUMERIC:
            array = np.concatenate(arrays)
            if array.dtype == np.float64:
                return _typed(rows, order, KIND_FLOAT, floats=array)
            return _typed(rows, order, KIND_INT, ints=array, floats=array.astype(np.float64))
        values: Sequence[Any]
        if len(pieces) == 1 and not arrays and not coded:
            values = pieces[0]  # type: ignore[assignment]
        else:
            values = list(chain.from_iterable(_python(p) for p in pieces))
        n = len(values)
        # Pieces a reader marks as all strings spare a pass over (scattered) objects.
        known = all(type(p) is Strings for p in pieces)
        types = {str} if known else set(map(type, values))
        if len(types) == 1:
            only = next(iter(types))
            if only is str:
                strings = list(dict.fromkeys(values))
                if len(strings) == n:  # every value different (span ids): codes in order
                    codes = np.arange(n, dtype=np.int32)
                else:
                    lookup = dict(zip(strings, count()))
                    codes = np.fromiter(map(lookup.__getitem__, values), dtype=np.int32, count=n)
                return _typed(rows, order, KIND_STRING, codes=codes, strings=strings)
            if only is float:
                return _typed(rows, order, KIND_FLOAT, floats=np.array(values, dtype=np.float64))
            if only is int:
                try:
                    ints = np.array(values, dtype=np.int64)
                except OverflowError:
                    return _in_order(_mixed(rows, values), order)
                return _typed(rows, order, KIND_INT, ints=ints, floats=ints.astype(np.float64))
            if only is bool:
                return _typed(rows, order, KIND_BOOL, ints=np.array(values, dtype=np.int64))
        return _in_order(_mixed(rows, values), order)


class Repeat(Sequence[object]):
    """One value ``n`` times: a column piece of a field every row of a block shares."""

    __slots__ = ("n", "value")

    def __init__(self, value: object, n: int) -> None:
        self.value = value
        self.n = n

    def same(self, other: Repeat) -> bool:
        """The same value, of the same type (1, 1.0 and True are different values)."""
        value = self.value
        return type(value) is type(other.value) and value == other.value

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> object: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[object]: ...
    def __getitem__(self, index: int | slice) -> object | Sequence[object]:
        if isinstance(index, slice):
            return Repeat(self.value, len(range(self.n)[index]))
        range(self.n)[index]  # IndexError out of range
        return self.value

    def __iter__(self) -> Iterator[object]:
        return repeat(self.value, self.n)


class Strings(list[str]):
    """A piece of values that are all ``str`` (a reader knows it; the buffer need not check)."""

    __slots__ = ()


class Coded:
    """Strings of a piece as codes into the piece's own dictionary, which lists them in the
    order they first appear in the piece (a reader encodes them while they are in cache)."""

    __slots__ = ("codes", "strings")

    def __init__(self, codes: npt.NDArray[np.int32], strings: list[str]) -> None:
        self.codes = codes
        self.strings = strings

    def __len__(self) -> int:
        return len(self.codes)

    def values(self) -> list[str]:
        strings = self.strings
        return [strings[c] for c in self.codes.tolist()]


def _decoded(rows: npt.NDArray[np.int64], order: Any, pieces: list[Coded]) -> PartialColumn:
    """A column of coded pieces: their dictionaries merged in order (each lists its strings
    by first appearance, so the merge does too), their codes shifted into it."""
    local = list(chain.from_iterable(p.strings for p in pieces))
    strings = list(dict.fromkeys(local))
    sizes = [len(p.strings) for p in pieces]
    codes = np.concatenate([p.codes for p in pieces]).astype(np.int64)
    if len(pieces) > 1:
        starts = np.cumsum([0, *sizes[:-1]])
        codes += np.repeat(starts, [len(p) for p in pieces])
    if len(strings) != len(local):
        lookup = dict(zip(strings, count()))
        codes = np.fromiter(map(lookup.__getitem__, local), dtype=np.int64, count=len(local))[codes]
    return _typed(rows, order, KIND_STRING, codes=codes.astype(np.int32), strings=strings)


#: A field's values for some rows: Python values, one value repeated, or an int64 or
#: float64 array (the values' kind).
Piece = Sequence[Any] | npt.NDArray[Any] | Coded
_ONE_NUMERIC: Final = ({np.dtype(np.int64)}, {np.dtype(np.float64)})


def _python(piece: Piece) -> Iterable[Any]:
    """A piece's values as Python objects (numpy arrays hold numpy scalars)."""
    if isinstance(piece, np.ndarray):
        values: list[Any] = piece.tolist()
        return values
    if isinstance(piece, Coded):
        return piece.values()
    return piece


def _repeated(rows: npt.NDArray[np.int64], value: object) -> PartialColumn | None:
    """A column holding one value in every entry (None: not a plain scalar)."""
    n = len(rows)
    kind = type(value)
    if kind is str:
        return _typed(rows, None, KIND_STRING, codes=np.zeros(n, np.int32), strings=[value])  # type: ignore[list-item]
    if kind is float:
        return _typed(rows, None, KIND_FLOAT, floats=np.full(n, value, np.float64))
    if kind is bool:
        return _typed(rows, None, KIND_BOOL, ints=np.full(n, int(value), np.int64))  # type: ignore[call-overload]
    if kind is int and -(2**63) <= value < 2**63:  # type: ignore[operator]
        ints = np.full(n, value, np.int64)
        return _typed(rows, None, KIND_INT, ints=ints, floats=ints.astype(np.float64))
    return None


def _typed(
    rows: npt.NDArray[np.int64],
    order: npt.NDArray[np.intp] | None,
    kind: int,
    *,
    ints: npt.NDArray[np.int64] | None = None,
    floats: npt.NDArray[np.float64] | None = None,
    codes: npt.NDArray[np.int32] | None = None,
    strings: list[str] | None = None,
) -> PartialColumn:
    """A column of one kind; the value arrays it does not use are zeros (codes -1)."""
    n = len(rows)
    if order is not None:
        rows = rows[order]
        ints = None if ints is None else ints[order]
        floats = None if floats is None else floats[order]
        codes = None if codes is None else codes[order]
    return PartialColumn(
        rows,
        np.full(n, kind, dtype=np.uint8),
        np.zeros(n, dtype=np.int64) if ints is None else ints,
        np.zeros(n, dtype=np.float64) if floats is None else floats,
        np.full(n, -1, dtype=np.int32) if codes is None else codes,
        strings or [],
        single=kind,
    )


def _in_order(column: PartialColumn, order: npt.NDArray[np.intp] | None) -> PartialColumn:
    if order is None:
        return column
    others = column.others
    if others:
        where = np.empty(len(order), dtype=np.int64)
        where[order] = np.arange(len(order))
        others = {int(where[i]): value for i, value in others.items()}
    return PartialColumn(
        column.rows[order],
        column.kind[order],
        column.ints[order],
        column.floats[order],
        column.codes[order],
        column.strings,
        others,
    )


def _mixed(rows: npt.NDArray[np.int64], values: Sequence[Any]) -> PartialColumn:
    """Entries of several types (or ints beyond int64): one value at a time."""
    n = len(values)
    kinds = np.zeros(n, dtype=np.uint8)
    ints = np.zeros(n, dtype=np.int64)
    floats = np.zeros(n, dtype=np.float64)
    codes = np.full(n, -1, dtype=np.int32)
    lookup: dict[str, int] = {}
    others: dict[int, object] = {}
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
            others[i] = value
    return PartialColumn(rows, kinds, ints, floats, codes, list(lookup), others)


@dataclass(frozen=True, slots=True)
class _Block:
    """Rows of one shape added a column at a time (see :meth:`RowBuffer.add_block`)."""

    rows: npt.NDArray[np.int64]
    columns: Sequence[Piece]


#: Rows of one shape added one at a time: their row numbers and value tuples.
_Rows = tuple[list[int], list[tuple[Any, ...]]]


class RowBuffer:
    """Collects events (flat dicts) of one chunk and turns them into a :class:`PartialTable`.

    Rows are grouped by shape (their field names in order); a shape's rows arrive one at a
    time (:meth:`add`) or as blocks of columns (:meth:`add_block`, for readers that flatten
    many events at once), always in row order.
    """

    def __init__(self) -> None:
        self.n = 0
        self._shapes: dict[tuple[str, ...], list[_Rows | _Block]] = {}
        self._times: list[float] = []
        self._rates: list[float] = []
        self._formats: list[int] = []
        self._records: list[int] = []
        self.skipped: list[tuple[int, str]] = []

    def add(
        self, fields: dict[str, object], time: float, rate: float, fmt: int, record: int
    ) -> None:
        shape = tuple(fields)
        pieces = self._shapes.get(shape)
        if pieces is None:
            piece: _Rows = ([], [])
            self._shapes[shape] = [piece]
        else:
            last = pieces[-1]
            if type(last) is tuple:
                piece = last
            else:
                piece = ([], [])
                pieces.append(piece)
        piece[0].append(self.n)
        piece[1].append(tuple(fields.values()))
        self._times.append(time)
        self._rates.append(rate)
        self._formats.append(fmt)
        self._records.append(record)
        self.n += 1

    def add_rows(self, times: list[float], rates: list[float], fmt: int, record: int) -> int:
        """Open ``len(times)`` rows at once; returns the first one's number.  Their fields
        follow with :meth:`add_block`, before any other row is added."""
        first = self.n
        n = len(times)
        self._times.extend(times)
        self._rates.extend(rates)
        self._formats.extend([fmt] * n)
        self._records.extend([record] * n)
        self.n += n
        return first

    def add_block(
        self, shape: tuple[str, ...], rows: npt.NDArray[np.int64], columns: Sequence[Piece]
    ) -> None:
        """Fields of rows of one ``shape`` (ascending, opened by :meth:`add_rows`), one
        sequence of values per field name, in row order.  Shapes of one batch of rows are
        added in the order of their first row."""
        self._shapes.setdefault(shape, []).append(_Block(rows, columns))

    def mark(self) -> int:
        """A point to roll back to if the record being read turns out to be bad."""
        return self.n

    def rollback(self, mark: int) -> None:
        """Forget the rows added since ``mark`` (a record is all in, or all out)."""
        if mark == self.n:
            return
        for shape in list(self._shapes):
            pieces = self._shapes[shape]
            while pieces:
                last = pieces[-1]
                if type(last) is tuple:
                    rows, values = last
                    while rows and rows[-1] >= mark:
                        rows.pop()
                        values.pop()
                    if rows:
                        break
                elif last.rows[0] < mark:  # type: ignore[union-attr]
                    break  # a block is one record's: all in or all out
                pieces.pop()
            if not pieces:
                del self._shapes[shape]
        del self._times[mark:]
        del self._rates[mark:]
        del self._formats[mark:]
        del self._records[mark:]
        self.n = mark

    def finish(self, records: int = 0) -> PartialTable:
        accumulators: dict[str, _FieldAccumulator] = {}
        for shape, pieces in self._shapes.items():
            for piece in pieces:
                if type(piece) is tuple:
                    rows = np.array(piece[0], dtype=np.int64)
                    columns: Iterable[Piece] = zip(*piece[1], strict=True)
                else:
                    rows = piece.rows  # type: ignore[union-attr]
                    columns = piece.columns  # type: ignore[union-attr]
                for name, column in zip(shape, columns, strict=True):
                    acc = accumulators.get(name)
                    if acc is None:
                        acc = accumulators[name] = _FieldAccumulator()
                    acc.add(rows, column)
        times = np.array(self._times, dtype=np.float64) if self._times else np.zeros(0)
        return PartialTable(
            n_rows=self.n,
            row_time=times,
            row_rate=np.array(self._rates, dtype=np.float64),
            row_format=np.array(self._formats, dtype=np.uint8),
            row_record=np.array(self._records, dtype=np.int64),
            columns=_finish_all(accumulators),
            skipped=list(self.skipped),
            records=records,
        )


def _finish_all(accumulators: dict[str, _FieldAccumulator]) -> dict[str, PartialColumn]:
    """Every field's column; fields given the very same pieces (``span.kind`` and ``type``
    of a batch) are converted once."""
    done: dict[tuple[int, ...], PartialColumn] = {}
    out: dict[str, PartialColumn] = {}
    for name, acc in accumulators.items():
        key = tuple(map(id, acc.values)) + tuple(map(id, acc.rows))
        column = done.get(key)
        if column is None:
            column = done[key] = acc.finish()
        out[name] = column
    return out


def nan_if_none(value: float | None) -> float:
    """``value``, or NaN when it is unknown."""
    return math.nan if value is None else value
