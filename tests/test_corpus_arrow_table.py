"""The columnar table reader against the per-event one: the same corpus, byte for byte.

Parquet and Arrow IPC tables are read column by column (Arrow and numpy); the per-event
reader (each row an event dict through the row buffer) is the reference it must equal.  Both
read the same file, and their corpora are written as stores and compared as bytes: rows,
values, string dictionaries in the same order, columns in the same order.  Hypothesis draws
tables of every field type with nulls in every place, several record batches, a time as a
timestamp or as seconds, sample rates, and renamed columns; tables the columnar path does
not take (integers beyond int64, two columns mapped to one field) must come out the same too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pytest_nectar.corpus import arrow_table, load_corpus
from pytest_nectar.corpus.store import save_store
from pytest_nectar.corpus.table import KIND_FLOAT

_TYPES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "int8": (pa.int8(), st.integers(-128, 127)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "float64": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "float32": (pa.float32(), st.floats(width=32)),
    "bool": (pa.bool_(), st.booleans()),
    "string": (pa.string(), st.text(max_size=4)),
    "dictionary": (pa.dictionary(pa.int32(), pa.string()), st.sampled_from(["a", "b", ""])),
    "large_string": (pa.large_string(), st.sampled_from(["x", "yy", "é"])),
    "null": (pa.null(), st.none()),
}
_IDS = st.sampled_from(["t1", "t2", "t3", ""])


def _nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pa.Table, dict[str, str]]:
    n = draw(st.integers(0, 40))
    arrays: dict[str, Any] = {}
    columns: dict[str, str] = {}

    def column(values: st.SearchStrategy[Any], dtype: Any) -> Any:
        return pa.array(draw(st.lists(_nullable(values), min_size=n, max_size=n)), type=dtype)

    time_name = draw(st.sampled_from(["time", "Timestamp", None]))
    if time_name is not None:
        if time_name != "time":
            columns["time"] = time_name
        if draw(st.booleans()):
            stamps = st.integers(0, 2**62)
            unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
            scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
            raw = draw(st.lists(_nullable(stamps), min_size=n, max_size=n))
            values = [None if v is None else v // scale for v in raw]
            arrays[time_name] = pa.array(
                values, pa.timestamp(unit, tz=draw(st.sampled_from([None, "UTC"])))
            )
        else:
            arrays[time_name] = column(st.floats(0, 2e9), pa.float64())
    if draw(st.booleans()):
        arrays["sample_rate"] = column(st.integers(1, 100), pa.int64())
    arrays["trace.trace_id"] = column(_IDS, pa.string())
    arrays["trace.parent_id"] = column(st.sampled_from(["p1", ""]), pa.string())
    for i, kind in enumerate(draw(st.lists(st.sampled_from(sorted(_TYPES)), max_size=5))):
        dtype, values = _TYPES[kind]
        name = f"field.{i}"
        if dtype == pa.dictionary(pa.int32(), pa.string()):
            plain = column(values, pa.string())
            arrays[name] = plain.dictionary_encode()
        else:
            arrays[name] = column(values, dtype)
    fields = sorted(k for k in arrays if k.startswith("field."))
    if fields and draw(st.booleans()):  # a column renamed to a Refinery field (or two to one)
        theirs = draw(st.sampled_from(fields))
        columns[draw(st.sampled_from(["name", "field.0"]))] = theirs
    return pa.table(arrays), columns


def _store_bytes(path: Path, columns: dict[str, str], where: Path) -> tuple[bytes, bytes]:
    corpus = load_corpus(path, cache=False, columns=columns)
    save_store(corpus, where)
    return (where / "arrays.bin").read_bytes(), (where / "meta.json").read_bytes()


def _rows_only(self: object, batches: object) -> object:
    raise arrow_table._RowsNeeded


def _both(path: Path, columns: dict[str, str], tmp: Path) -> bool:
    """Compare the two readers; True if the columnar path took the table."""
    kind = arrow_table.PARQUET if path.suffix == ".parquet" else arrow_table.ARROW
    try:
        arrow_table._Columns(columns).read(arrow_table._batches(path, kind))
        taken = True
    except arrow_table._RowsNeeded:
        taken = False
    columnar = _store_bytes(path, columns, tmp / "columnar")
    with mock.patch.object(arrow_table._Columns, "read", _rows_only):
        by_event = _store_bytes(path, columns, tmp / "by-event")
    assert columnar == by_event
    return taken


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=tables(), parquet=st.booleans(), batch=st.integers(1, 17))
def test_the_columnar_reader_gives_the_per_event_readers_corpus(
    drawn: tuple[pa.Table, dict[str, str]], parquet: bool, batch: int
) -> None:
    table, columns = drawn
    with tempfile.TemporaryDirectory() as folder, mock.patch.object(arrow_table, "_BATCH", batch):
        tmp = Path(folder)
        if parquet:
            path = tmp / "spans.parquet"
            pq.write_table(table, path, row_group_size=max(1, batch // 2 + 1))
        else:
            path = tmp / "spans.arrow"
            with ipc.new_file(path, table.schema) as out:
                out.write_table(table, max_chunksize=batch)
        event("columnar" if _both(path, columns, tmp) else "event by event")


def test_integers_beyond_int64_are_read_event_by_event(tmp_path: Path) -> None:
    path = tmp_path / "spans.parquet"
    table = pa.table(
        {
            "trace.trace_id": ["t1", "t1", "t2"],
            "big": pa.array([1, None, 2**64 - 1], pa.uint64()),
        }
    )
    pq.write_table(table, path)
    assert not _both(path, {}, tmp_path)
    big = load_corpus(path, cache=False).columns["big"]
    assert big.kind.tolist()[-1] == KIND_FLOAT  # as Refinery sees a uint64 past int64


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_generated_table_with_many_shapes(fmt: str, tmp_path: Path) -> None:
    n = 5000
    table = pa.table(
        {
            "time": pa.array([1.7e9 + i for i in range(n)]),
            "trace.trace_id": [f"trace-{i // 7}" for i in range(n)],
            "trace.parent_id": [None if i % 7 == 0 else "p" for i in range(n)],
            "service.name": [["a", "b", None][i % 3] for i in range(n)],
            "http.status_code": [None if i % 5 == 0 else 200 + i % 4 for i in range(n)],
            "route": [None if i % 2 else f"/r/{i % 11}" for i in range(n)],
            "error": [True if i % 13 == 0 else None for i in range(n)],
        }
    )
    path = tmp_path / f"spans.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path, row_group_size=700)
    else:
        with ipc.new_file(path, table.schema) as out:
            out.write_table(table, max_chunksize=700)
    assert _both(path, {}, tmp_path)
