"""Parquet and Arrow IPC tables of flattened events, against OTLP JSON on the real captures.

The real OTLP captures (read in place) are read as OTLP JSON Lines; their flattened events are
written, inside tmp_path, as a Parquet file and as an Arrow IPC file (one column per field,
a dense union where a field's type varies); each table must load to the same traces, rows and
values and give the same ``nectar replay`` decisions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from pytest_nectar.cli import main
from pytest_nectar.corpus import Corpus, load_corpus
from pytest_nectar.corpus.ingest import IngestOptions, read_file
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.table import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STRING
from pytest_nectar.errors import CorpusError
from tests.test_corpus_containers import RULES, _lines, _requests

pytestmark = pytest.mark.usefixtures("realdata")

_ARROW_TYPES = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}


def _events(chunk: PartialTable) -> dict[str, list[Any]]:
    """Each field's value per row (None where the row has no such field)."""
    out: dict[str, list[Any]] = {}
    for name, col in chunk.columns.items():
        values: list[Any] = [None] * chunk.n_rows
        for i, row in enumerate(col.rows.tolist()):
            kind = int(col.kind[i])
            if kind == KIND_STRING:
                values[row] = col.strings[int(col.codes[i])]
            elif kind == KIND_INT:
                values[row] = int(col.ints[i])
            elif kind == KIND_FLOAT:
                values[row] = float(col.floats[i])
            elif kind == KIND_BOOL:
                values[row] = bool(col.ints[i])
            else:
                raise AssertionError(f"{name}: kind {kind} in an OTLP corpus")
        out[name] = values
    return out


def _column(values: list[Any], union: bool) -> pa.Array:
    types = sorted({type(v) for v in values if v is not None}, key=lambda t: t.__name__)
    if len(types) <= 1:
        return pa.array(values, type=_ARROW_TYPES[types[0]] if types else pa.null())
    assert union, "a field of several types needs Arrow's union"
    # A null is a null of the first child, in its place (offsets rise within each child).
    codes = [0 if v is None else types.index(type(v)) for v in values]
    children: list[list[Any]] = [[] for _ in types]
    offsets = []
    for v, code in zip(values, codes, strict=True):
        offsets.append(len(children[code]))
        children[code].append(v)
    return pa.UnionArray.from_dense(
        pa.array(codes, pa.int8()),
        pa.array(offsets, pa.int32()),
        [pa.array(c, type=_ARROW_TYPES[t]) for c, t in zip(children, types, strict=True)],
        [t.__name__ for t in types],
    )


def _table(reference: Path, *, union: bool, names: dict[str, str]) -> pa.Table:
    (chunk,) = read_file(reference, "ref", IngestOptions(), workers=1).chunks
    events = _events(chunk)
    times = [None if math.isnan(t) else t for t in chunk.row_time.tolist()]
    arrays = {names.get("time", "time"): pa.array(times, pa.float64())}
    arrays[names.get("sample_rate", "sample_rate")] = pa.array(chunk.row_rate.tolist())
    for name, values in events.items():
        arrays[names.get(name, name)] = _column(values, union)
    return pa.table(arrays)


def _content(corpus: Corpus) -> list[Any]:
    return [
        corpus.trace_ids,
        [repr(t) for t in corpus.iter_traces()],
        corpus.row_time.tobytes(),
        corpus.weight.tobytes(),
    ]


def _decisions(path: Path, capsys: pytest.CaptureFixture[str]) -> list[Any]:
    outs = []
    for rules in RULES:
        capsys.readouterr()
        assert main(["replay", str(rules), "--corpus", str(path), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        del out["corpus"]["digest"]
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "traces.jsonl"
    path.write_bytes(_lines(_requests()))
    return path


def test_arrow_table_reads_like_otlp_json(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spans.arrow"
    with ipc.new_file(path, (table := _table(reference, union=True, names={})).schema) as out:
        out.write_table(table, max_chunksize=500)  # several record batches
    expected, got = load_corpus(reference, cache=False), load_corpus(path, cache=False)
    assert got.n_rows == expected.n_rows > 0 and got.formats == {"table": got.n_rows}
    assert _content(got) == _content(expected)
    assert _decisions(path, capsys) == _decisions(reference, capsys)


def test_parquet_with_other_column_names(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ClickHouse-style names mapped back with ``columns``; fields of one type only."""
    names = {"time": "Timestamp", "sample_rate": "SampleRate", "trace.trace_id": "TraceId"}
    table = _table(reference, union=True, names=names)
    mixed = [f.name for f in table.schema if pa.types.is_union(f.type)]
    single = table.drop_columns(mixed)
    path = tmp_path / "spans.parquet"
    pq.write_table(single, path, row_group_size=700)
    plain = tmp_path / "spans-plain.arrow"
    renamed = single.rename_columns(
        [{v: k for k, v in names.items()}.get(n, n) for n in single.column_names]
    )
    with ipc.new_file(plain, renamed.schema) as out:
        out.write_table(renamed)
    mapping = {ours: theirs for ours, theirs in names.items()}
    got = load_corpus(path, cache=False, columns=mapping)
    assert _content(got) == _content(load_corpus(plain, cache=False))
    assert got.n_rows > 0 and "trace.trace_id" in got.columns
    standard = tmp_path / "spans-standard.parquet"  # the CLI reads the expected names
    pq.write_table(renamed, standard, row_group_size=700)
    assert _decisions(standard, capsys) == _decisions(plain, capsys)
    # Without the mapping no event has a trace id: all skipped and counted, none kept.
    unmapped = load_corpus(path, cache=False)
    assert unmapped.n_rows == 0 and len(unmapped.skipped) == got.n_rows
    if not mixed:
        assert _content(got) == _content(load_corpus(reference, cache=False))


def test_a_column_of_another_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"trace.trace_id": ["a"], "tags": [[1, 2]]}), path)
    with pytest.raises(CorpusError) as err:
        load_corpus(path, cache=False)
    assert str(err.value) == (
        f"{path}: column 'tags' has type list<element: int64>; a field is an integer, float,"
        " bool or string; map other names with --columns (nectar corpus) or"
        " load_corpus(columns=...)"
    )


def test_cli_reads_a_table_with_a_column_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"TraceId": ["a", "a", "b"], "name": ["x", "y", None]}), path)
    args = ["corpus", "stats", str(path), "--no-cache", "--json"]
    assert main([*args, "--columns", "trace.trace_id=TraceId"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["traces"], summary["events"]) == (2, 3)


def _group_rows(table: pa.Table, size: int) -> list[int]:
    """The rows of each group of ``size`` rows (a Parquet row group, an Arrow batch)."""
    return [min(size, table.num_rows - start) for start in range(0, table.num_rows, size)]


@pytest.mark.parametrize("fmt", ["parquet", "arrow"])
def test_a_table_is_built_into_partitions_a_batch_at_a_time(
    reference: Path, tmp_path: Path, fmt: str
) -> None:
    """A table larger than memory: the build into partitions reads it a record batch at a
    time (each batch a chunk, rows numbered on), and the corpus is the one read whole;
    a column Nectar cannot read fails the build with load_corpus's error."""
    from pytest_nectar.corpus.ingest import iter_chunks
    from pytest_nectar.corpus.parts import build_parted
    from tests.test_corpus_parts import assert_same_corpus

    table = _table(reference, union=True, names={})
    path = tmp_path / f"spans.{fmt}"
    if fmt == "parquet":
        table = table.drop_columns([f.name for f in table.schema if pa.types.is_union(f.type)])
        pq.write_table(table, path, row_group_size=300)
    else:
        with ipc.new_file(path, table.schema) as out:
            out.write_table(table, max_chunksize=300)
    few = 100 * 256  # chunk_bytes: 100 rows a chunk
    chunks = list(iter_chunks(path, "t", IngestOptions(), chunk_bytes=few))
    assert len(chunks) == sum(-(-n // 100) for n in _group_rows(table, 300)) > 10
    assert [int(c.row_record[0]) for c in chunks[:2]] == [1, 101]  # rows of the whole table
    want = load_corpus(path, cache=False)
    parted = build_parted(
        path, tmp_path / "p", part_rows=500, chunk_bytes=few, batch_rows=1, workers=1
    )
    assert parted.n_parts > 1
    assert_same_corpus(parted.to_corpus(), want)
    bad = tmp_path / f"bad.{fmt}"
    rows = {"trace.trace_id": ["a"] * 600, "tags": [[1]] * 600}
    if fmt == "parquet":
        pq.write_table(pa.table(rows), bad, row_group_size=300)
    else:
        with ipc.new_file(bad, (t := pa.table(rows)).schema) as out:
            out.write_table(t, max_chunksize=300)
    with pytest.raises(CorpusError) as whole:
        load_corpus(bad, cache=False)
    with pytest.raises(CorpusError) as batched:
        build_parted(bad, tmp_path / "bad-p", part_rows=500, chunk_bytes=few, workers=1)
    assert str(batched.value) == str(whole.value)
    assert not (tmp_path / "bad-p").exists()
