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

Tables are read a record batch at a time, so memory holds the corpus and one batch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pytest_nectar.corpus.context import ReadContext

__all__ = ["ARROW", "PARQUET", "SAMPLE_RATE", "TIME", "TableError", "read_table"]

PARQUET: Final = "parquet"
ARROW: Final = "arrow"
TIME: Final = "time"
SAMPLE_RATE: Final = "sample_rate"
_BATCH: Final = 65536


class TableError(ValueError):
    """A column Nectar cannot read as a Refinery field (or a time or rate)."""


def _batches(path: Path, kind: str) -> Any:
    import pyarrow.ipc as ipc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if kind == PARQUET:
        yield from pq.ParquetFile(path).iter_batches(batch_size=_BATCH)
        return
    with ipc.open_file(path) as reader:
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


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


def _seconds(column: Any, name: str) -> list[float]:
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.types as t

    if t.is_timestamp(column.type):
        micros = pc.cast(column, pa.timestamp("ns", tz=column.type.tz)).cast(pa.int64())
        return [math.nan if v is None else v / 1e9 for v in micros.to_pylist()]
    if t.is_integer(column.type) or t.is_floating(column.type):
        return [math.nan if v is None else float(v) for v in column.to_pylist()]
    raise TableError(
        f"column {name!r} (the time) has type {column.type}; expected a timestamp or seconds"
    )


def read_table(path: Path, kind: str, ctx: ReadContext, columns: Mapping[str, str]) -> int:
    """Emit every row of the table as an event; returns the number of rows."""
    their_time = columns.get(TIME, TIME)
    their_rate = columns.get(SAMPLE_RATE, SAMPLE_RATE)
    renames = {theirs: ours for ours, theirs in columns.items() if ours not in (TIME, SAMPLE_RATE)}
    row = 0
    for batch in _batches(path, kind):
        names = batch.schema.names
        n = batch.num_rows
        times = [math.nan] * n
        rates = [1.0] * n
        fields: list[tuple[str, list[Any]]] = []
        for index, name in enumerate(names):
            column = batch.column(index)
            if name == their_time:
                times = _seconds(column, name)
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
