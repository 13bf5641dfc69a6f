"""Benchmark: ingest of 1,000,000 spans as Apache Parquet, against pyarrow reading the file.

Run: ``python benchmarks/bench_parquet.py [--spans N] [--repeat N]`` (needs pyarrow: the
``tables`` extra).  The spans are the ones ``bench_ingest.py`` generates (10 per trace, 8
services, 13 fields), written as collector JSON Lines, read by Nectar, and written back as a
Parquet table of flattened spans with the documented columns (``time`` in seconds,
``trace.trace_id``, ``trace.parent_id``, ``name``, ``duration_ms``, ``service.name``, every
attribute named as Refinery sees it; a null is an absent field).  Then, in the same run:

* the baseline: ``pyarrow.parquet.read_table`` of the file (best of ``--repeat``);
* Nectar's first ingest of the file (read, assemble, write the cache: ``load_corpus``);
* the same ingest with the columnar reader off (every row an event dict, as before it);
* the cached load of the unchanged file;

and prints spans/s and the ratios.  The Parquet corpus is checked equal, row for row and
field for field, to the corpus read from the JSON Lines (same trace ids, times and values).
``corpus_table`` (a corpus as such a table) is shared with ``bench_parquet_replay.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_ingest import generate

from pytest_nectar.corpus import Corpus, arrow_table, load_corpus
from pytest_nectar.corpus.table import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STRING, Column


def _column_array(column: Column, n_rows: int) -> Any:
    """One field as an Arrow array over every row (null where the field is absent)."""
    import pyarrow as pa

    kinds = np.unique(column.kind)
    if len(kinds) != 1:
        raise ValueError(f"{column.name}: several value types; Parquet has no union column")
    absent = np.ones(n_rows, dtype=np.bool_)
    absent[column.rows] = False
    kind = int(kinds[0])
    if kind == KIND_STRING:
        indices = np.zeros(n_rows, dtype=np.int32)
        indices[column.rows] = column.codes
        return pa.DictionaryArray.from_arrays(
            pa.array(indices, mask=absent), pa.array(column.strings.values, pa.string())
        )
    values = {KIND_INT: column.ints, KIND_FLOAT: column.floats, KIND_BOOL: column.ints != 0}
    if kind not in values:
        raise ValueError(f"{column.name}: kind {kind} has no Parquet type here")
    full = np.zeros(n_rows, dtype=values[kind].dtype)
    full[column.rows] = values[kind]
    return pa.array(full, mask=absent)


def corpus_table(corpus: Corpus) -> Any:
    """The corpus as a table of flattened spans (row order kept, so traces keep their order)."""
    import pyarrow as pa

    n = corpus.n_rows
    arrays: dict[str, Any] = {"time": pa.array(np.asarray(corpus.row_time))}
    if "trace.trace_id" not in corpus.columns:  # a corpus generated as columns has no field
        arrays["trace.trace_id"] = pa.DictionaryArray.from_arrays(
            pa.array(np.asarray(corpus.row_trace, dtype=np.int32)),
            pa.array(corpus.trace_ids, pa.string()),
        )
    for name, column in sorted(corpus.columns.items()):
        arrays[name] = _column_array(column, n)
    return pa.table(arrays)


def write_parquet(corpus: Corpus, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(corpus_table(corpus), path)


def _values(column: Column) -> list[Any]:
    strings = np.array(column.strings.values, dtype=object)
    codes = np.asarray(column.codes)
    return [
        column.rows.tolist(),
        column.kind.tolist(),
        column.ints.tolist(),
        column.floats.tolist(),
        strings[codes[codes >= 0]].tolist() if len(strings) else [],
    ]


def same_content(got: Corpus, want: Corpus) -> bool:
    """Same traces, rows, times and field values (string codes may be numbered otherwise)."""
    return (
        got.trace_ids == want.trace_ids
        and np.array_equal(got.trace_offsets, want.trace_offsets)
        and np.array_equal(got.row_time, want.row_time, equal_nan=True)
        and np.array_equal(got.weight, want.weight)
        and sorted(got.columns) == sorted(want.columns)
        and all(_values(got.columns[k]) == _values(want.columns[k]) for k in want.columns)
    )


def _rows_only(self: object, batches: object) -> object:
    raise arrow_table._RowsNeeded  # the per-event reader, as before the columnar one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many reads")
    args = parser.parse_args()
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="nectar-bench-") as tmp:
        jsonl, path, cache = Path(tmp) / "traces.jsonl", Path(tmp) / "spans.parquet", Path(tmp)
        t = time.perf_counter()
        generate(jsonl, args.spans)
        reference = load_corpus(jsonl, cache=False)
        jsonl.unlink()
        write_parquet(reference, path)
        took = time.perf_counter() - t
        size = path.stat().st_size / 1e6
        print(
            f"generated {args.spans:,} spans (bench_ingest's), {size:.0f} MB Parquet, "
            f"{len(reference.columns) + 1} columns, in {took:.1f} s"
        )

        reads = []
        for _ in range(max(1, args.repeat)):
            t = time.perf_counter()
            table = pq.read_table(path)
            reads.append(time.perf_counter() - t)
        assert table.num_rows == args.spans, table.num_rows
        del table
        baseline = min(reads)

        t = time.perf_counter()
        corpus = load_corpus(path, cache_dir=cache / "cache")
        first = time.perf_counter() - t
        t = time.perf_counter()
        cached = load_corpus(path, cache_dir=cache / "cache")
        cached_s = time.perf_counter() - t
        columnar = arrow_table._Columns.read
        arrow_table._Columns.read = _rows_only  # type: ignore[method-assign]
        try:
            t = time.perf_counter()
            by_event = load_corpus(path, cache=False)
            event_s = time.perf_counter() - t
        finally:
            arrow_table._Columns.read = columnar  # type: ignore[method-assign]
        same = (
            same_content(corpus, reference)
            and same_content(by_event, reference)
            and cached.digest == corpus.digest
        )

        n = args.spans
        load = os.getloadavg()[0]
        print(f"cores available             {os.cpu_count()}, load average {load:.2f}")
        print(
            f"pyarrow read_table baseline {baseline:8.3f} s  {n / baseline:12,.0f} spans/s"
            f"  (best of {[round(r, 3) for r in reads]})"
        )
        print(f"first ingest (+cache)       {first:8.2f} s  {n / first:12,.0f} spans/s")
        print(f"  columnar reader off       {event_s:8.2f} s  {n / event_s:12,.0f} spans/s")
        print(f"cached load                 {cached_s:8.3f} s  {n / cached_s:12,.0f} spans/s")
        print(f"first ingest / read_table   {first / baseline:8.1f} x")
        print(f"columnar off / read_table   {event_s / baseline:8.1f} x")
        print(f"cached load / read_table    {cached_s / baseline:8.2f} x")
        print(f"first ingest / cached load  {first / cached_s:8.0f} x")
        print(f"same corpus as from the JSON Lines: {same}")
        print(
            f"traces {corpus.n_traces:,}, fields {len(corpus.columns)}, digest {corpus.digest[:16]}"
        )
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
