"""Apache Parquet and Arrow IPC tables of flattened spans (what ClickHouse, DuckDB or a data
lake export gives): one row per Refinery event, one column per field.

Expected columns (other names through ``columns``, e.g. ``{"time": "Timestamp"}``):

* ``time``: when the event happened; an Arrow timestamp (any unit, any zone) or a number of
  seconds since the epoch; null or absent means unknown;
* ``sample_rate``: the event's sample rate (number; null or absent means 1);
* every other column is an event field named as Refinery sees it (``trace.trace_id``,
  ``trace.parent_id``, ``name``, ``duration_ms``, ``service.name``, ``http.status_code``...);
  a null is an absent field.  Field types: integers (int64 values), floats, booleans and
  strings (also dictionary-encoded); in Arrow IPC a field whose type varies from event to
  event (``http.status_code`` 503 here, "503" there) is a dense union of those types.
  Other column types are refused with the column's name.

Tables are read a record batch at a time (and a build into partitions takes them a batch at
a time: :func:`iter_tables`).  Columns are converted to the corpus's arrays by
Arrow and numpy, never value by value: each batch becomes row numbers and values per field
(strings stay Arrow arrays until the end), so memory holds the corpus's fields, not Python
objects.  The result is the same :class:`PartialTable` the per-event reader gives, entry for
entry and with the same string dictionaries in the same order (the row buffer numbers
strings by event shape, the set of fields an event has, in order of first appearance; the
same order is computed here from the validity bitmaps).  Tables the columnar path does not
take (a dense union column, integers beyond int64, two columns mapped to one name, a
non-numeric ``sample_rate``) are read event by event, as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.context import FMT_TABLE, ReadContext
from pytest_nectar.corpus.partial import PartialColumn, PartialTable
from pytest_nectar.corpus.table import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STRING

__all__ = ["ARROW", "PARQUET", "SAMPLE_RATE", "TIME", "TableError", "iter_tables", "read_table"]

PARQUET: Final = "parquet"
ARROW: Final = "arrow"
TIME: Final = "time"
SAMPLE_RATE: Final = "sample_rate"
_BATCH: Final = 65536


class TableError(ValueError):
    """A column Nectar cannot read as a Refinery field (or a time or rate)."""


def _batches(path: Path, kind: str, rows: int = _BATCH) -> Any:
    """The table's record batches, of at most ``rows`` rows each."""
    import pyarrow.ipc as ipc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if kind == PARQUET:
        yield from pq.ParquetFile(path).iter_batches(batch_size=rows)
        return
    with ipc.open_file(path) as reader:
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i)
            for start in range(0, max(1, batch.num_rows), rows):
                yield batch.slice(start, rows)  # a view: no copy


def _check_type(name: str, dtype: Any) -> None:
    import pyarrow.types as t  # type: ignore[import-untyped]

    if t.is_dictionary(dtype):
        dtype = dtype.value_type
    if t.is_union(dtype):
        for child in dtype:
            _check_type(name, child.type)
        return
    if not (
        t.is_integer(dtype)
        or t.is_floating(dtype)
        or t.is_boolean(dtype)
        or t.is_string(dtype)
        or t.is_large_string(dtype)
        or t.is_null(dtype)
    ):
        raise TableError(
            f"column {name!r} has type {dtype}; a field is an integer, float, bool or string"
        )


def read_table(path: Path, kind: str, ctx: ReadContext, columns: Mapping[str, str]) -> PartialTable:
    """Every row of the table as an event: the file's rows as one chunk.

    Raises:
        TableError: a column Nectar cannot read (its name and type in the message).
    """
    try:
        return _Columns(columns).read(_batches(path, kind))
    except _RowsNeeded:
        rows = _read_rows(_batches(path, kind), ctx, columns)
        return ctx.buffer.finish(rows)


def iter_tables(
    path: Path,
    kind: str,
    context: Callable[[], ReadContext],
    columns: Mapping[str, str],
    rows: int = _BATCH,
) -> Iterator[PartialTable]:
    """The table a record batch of at most ``rows`` rows at a time, each batch read as
    :func:`read_table` reads a whole table (records numbered from 1 in each): what a build
    with bounded memory reads.  ``context`` gives each batch a fresh reading context (for
    a batch the columnar path does not take).

    Raises:
        TableError: a column Nectar cannot read (its name and type in the message).
    """
    for batch in _batches(path, kind, rows):
        try:
            yield _Columns(columns).read([batch])
        except _RowsNeeded:
            ctx = context()
            yield ctx.buffer.finish(_read_rows([batch], ctx, columns))


def _read_rows(batches: Iterable[Any], ctx: ReadContext, columns: Mapping[str, str]) -> int:
    """Emit every row of the batches as an event; returns the number of rows."""
    their_time = columns.get(TIME, TIME)
    their_rate = columns.get(SAMPLE_RATE, SAMPLE_RATE)
    renames = {theirs: ours for ours, theirs in columns.items() if ours not in (TIME, SAMPLE_RATE)}
    row = 0
    for batch in batches:
        names = batch.schema.names
        n = batch.num_rows
        times = [math.nan] * n
        rates = [1.0] * n
        fields: list[tuple[str, list[Any]]] = []
        for index, name in enumerate(names):
            column = batch.column(index)
            if name == their_time:
                times = _seconds(column, name).tolist()
            elif name == their_rate:
                rates = [1.0 if v is None else float(v) for v in column.to_pylist()]
            else:
                _check_type(name, column.type)
                fields.append((renames.get(name, name), column.to_pylist()))
        for i in range(n):
            row += 1
            ctx.record = row
            event = {name: values[i] for name, values in fields if values[i] is not None}
            ctx.emit(event, times[i], rates[i])
    return row


class _RowsNeeded(Exception):
    """The table has a column the columnar path does not take: read it event by event."""


def _valid(array: Any) -> npt.NDArray[np.bool_]:
    mask: npt.NDArray[np.bool_] = array.is_valid().to_numpy(zero_copy_only=False)
    return mask


class _Columns:
    """The columnar reader: per field, global row numbers and values, batch after batch."""

    def __init__(self, columns: Mapping[str, str]) -> None:
        self.their_time = columns.get(TIME, TIME)
        self.their_rate = columns.get(SAMPLE_RATE, SAMPLE_RATE)
        self.renames = {t: o for o, t in columns.items() if o not in (TIME, SAMPLE_RATE)}
        self.names: list[str] = []  # the fields, in column order
        self.rows: list[list[npt.NDArray[np.int64]]] = []
        self.values: list[list[tuple[int, Any]]] = []  # (kind, numpy array or Arrow strings)
        self.times: list[npt.NDArray[np.float64]] = []
        self.rates: list[npt.NDArray[np.float64]] = []
        self.shape_of_row: list[npt.NDArray[np.int64]] = []
        self.shapes: dict[bytes, int] = {}  # validity pattern -> rank of first appearance
        self.n = 0

    def _schema(self, names: list[str]) -> list[int]:
        """Indices of the field columns; the first batch fixes the names."""
        fields = [
            i for i, name in enumerate(names) if name not in (self.their_time, self.their_rate)
        ]
        ours = [self.renames.get(names[i], names[i]) for i in fields]
        if not self.names:
            if len(set(ours)) != len(ours):
                raise _RowsNeeded  # two columns, one field: the event keeps the last value
            self.names = ours
            self.rows = [[] for _ in ours]
            self.values = [[] for _ in ours]
        elif ours != self.names:
            raise _RowsNeeded
        return fields

    def read(self, batches: Any) -> PartialTable:
        for batch in batches:
            self._batch(batch)
        return self._finish()

    def _batch(self, batch: Any) -> None:
        import pyarrow.types as t

        names = batch.schema.names
        n = batch.num_rows
        fields = self._schema(names)
        times = np.full(n, math.nan)
        rates = np.ones(n)
        valid = np.zeros((n, len(fields)), dtype=np.bool_)
        base = np.arange(self.n, self.n + n, dtype=np.int64)
        j = 0
        for index, name in enumerate(names):  # in column order: the same first error
            column = batch.column(index)
            if name == self.their_time:
                times = _seconds(column, name)
            elif name == self.their_rate:
                if not (t.is_integer(column.type) or t.is_floating(column.type)):
                    raise _RowsNeeded  # float() of whatever it holds, as Python does
                rates = _floats(column, 1.0)
            else:
                valid[:, j] = self._field(j, name, column, base)
                j += 1
        self.shape_of_row.append(self._ranks(valid))
        self.times.append(times)
        self.rates.append(rates)
        self.n += n

    def _field(
        self, j: int, name: str, column: Any, base: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """Keep field ``j``'s present rows and values; returns where it is present."""
        import pyarrow as pa
        import pyarrow.types as t

        _check_type(name, column.type)
        if t.is_dictionary(column.type):
            column = column.dictionary_decode()
        kind = _kind(column.type)
        mask = _valid(column) if kind else np.zeros(len(base), dtype=np.bool_)
        if not mask.any():
            return mask
        values = column if mask.all() else column.filter(pa.array(mask))
        self.rows[j].append(base[mask])
        if kind == KIND_STRING:
            self.values[j].append((kind, values))
        elif kind == KIND_INT:
            self.values[j].append((kind, _ints(values)))
        elif kind == KIND_BOOL:
            self.values[j].append((kind, values.to_numpy(zero_copy_only=False).astype(np.int64)))
        else:
            self.values[j].append((kind, values.to_numpy(zero_copy_only=False).astype(np.float64)))
        return mask

    def _ranks(self, valid: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        """Each row's shape (which fields it has), numbered by first appearance in the file."""
        packed = np.packbits(valid, axis=1)
        keys = np.ascontiguousarray(packed).view(np.dtype((np.void, max(1, packed.shape[1]))))
        keys = keys.reshape(len(valid))
        if len(keys) == 0:
            return np.zeros(0, dtype=np.int64)
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rank = np.empty(len(unique), dtype=np.int64)
        for u in np.argsort(first, kind="stable"):
            key = unique[u].tobytes()
            rank[u] = self.shapes.setdefault(key, len(self.shapes))
        ranks: npt.NDArray[np.int64] = rank[inverse.reshape(-1)]
        return ranks

    def _finish(self) -> PartialTable:
        n = self.n
        shape_of_row = (
            np.concatenate(self.shape_of_row) if self.shape_of_row else np.zeros(0, np.int64)
        )
        # The row buffer creates a field's column when the first shape holding it is
        # transposed: shapes in order of first appearance, fields in column order.
        order: list[int] = []
        for key in self.shapes:
            bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8))[: len(self.names)]
            order.extend(j for j in np.flatnonzero(bits).tolist() if j not in order)
        columns = {self.names[j]: self._column(j, shape_of_row) for j in order}
        return PartialTable(
            n_rows=n,
            row_time=np.concatenate(self.times) if self.times else np.zeros(0),
            row_rate=np.concatenate(self.rates) if self.rates else np.zeros(0),
            row_format=np.full(n, FMT_TABLE, dtype=np.uint8),
            row_record=np.arange(1, n + 1, dtype=np.int64),
            columns=columns,
            records=n,
        )

    def _column(self, j: int, shape_of_row: npt.NDArray[np.int64]) -> PartialColumn:
        import pyarrow as pa
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        rows = np.concatenate(self.rows[j])
        size = len(rows)
        kinds = {kind for kind, _ in self.values[j]}
        (kind,) = kinds  # one Arrow type per column
        ints = np.zeros(size, dtype=np.int64)
        floats = np.zeros(size, dtype=np.float64)
        codes = np.full(size, -1, dtype=np.int32)
        strings: list[str] = []
        parts = [values for _, values in self.values[j]]
        if kind == KIND_STRING:
            # Strings are numbered as the row buffer numbers them: shape by shape (in order of
            # first appearance), rows in order within a shape.
            values = pa.concat_arrays([p.cast(pa.large_string()) for p in parts])
            encoded = pc.dictionary_encode(values)  # numbered by first appearance by row
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
            strings = encoded.dictionary.to_pylist()
            shapes = shape_of_row[rows]
            if np.any(np.diff(shapes) < 0):  # renumber by first appearance in shape order
                where = np.empty(size, dtype=np.int64)
                where[np.argsort(shapes, kind="stable")] = np.arange(size)
                first = np.full(len(strings), size, dtype=np.int64)
                np.minimum.at(first, codes, where)
                order = np.argsort(first)
                renumber = np.empty(len(strings), dtype=np.int32)
                renumber[order] = np.arange(len(strings), dtype=np.int32)
                codes = renumber[codes]
                strings = [strings[i] for i in order.tolist()]
        elif kind == KIND_FLOAT:
            floats = np.concatenate(parts)
        else:
            ints = np.concatenate(parts)
            if kind == KIND_INT:
                floats = ints.astype(np.float64)
        return PartialColumn(
            rows=rows,
            kind=np.full(size, kind, dtype=np.uint8),
            ints=ints,
            floats=floats,
            codes=codes,
            strings=strings,
        )


def _kind(dtype: Any) -> int:
    """The kind a column's values take (0: a null column, never a field)."""
    import pyarrow.types as t

    if t.is_null(dtype):
        return 0
    if t.is_union(dtype):
        raise _RowsNeeded
    if t.is_string(dtype) or t.is_large_string(dtype):
        return KIND_STRING
    if t.is_boolean(dtype):
        return KIND_BOOL
    if t.is_integer(dtype):
        return KIND_INT
    return KIND_FLOAT


def _ints(values: Any) -> npt.NDArray[np.int64]:
    import pyarrow.compute as pc
    import pyarrow.types as t

    if t.is_uint64(values.type) and len(values) and pc.max(values).as_py() >= 2**63:
        raise _RowsNeeded  # beyond int64: the row buffer's float64 path decides
    ints: npt.NDArray[np.int64] = values.to_numpy(zero_copy_only=False).astype(np.int64)
    return ints


def _floats(column: Any, null: float) -> npt.NDArray[np.float64]:
    valid = _valid(column)
    out = column.to_numpy(zero_copy_only=False).astype(np.float64)
    out[~valid] = null
    result: npt.NDArray[np.float64] = out
    return result


def _seconds(column: Any, name: str) -> npt.NDArray[np.float64]:
    """Seconds since the epoch per row, NaN where unknown (nanoseconds as float64, / 1e9)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as t

    if t.is_timestamp(column.type):
        nanos = pc.cast(column, pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())
        valid = _valid(nanos)
        out = nanos.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64) / 1e9
        out[~valid] = math.nan
        result: npt.NDArray[np.float64] = out
        return result
    if t.is_integer(column.type) or t.is_floating(column.type):
        return _floats(column, math.nan)
    raise TableError(
        f"column {name!r} (the time) has type {column.type}; expected a timestamp or seconds"
    )
