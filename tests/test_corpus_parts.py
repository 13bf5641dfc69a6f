"""The corpus partitioned by trace id: the same corpus as ``load_corpus``, however it is cut.

Partitions are forced tiny (tens of rows) and the input is read in tiny chunks, so traces
are spread over many chunks and many partitions; every field of the result is compared with
the in-memory corpus of the same files.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.corpus import Corpus, load_corpus, parts_spill
from pytest_nectar.corpus.parts import (
    PartedCorpus,
    build_parted,
    load_parted,
    open_parted,
    parted_path,
)
from pytest_nectar.corpus.store import StoreError
from pytest_nectar.synth import shop_model, synthesize
from tests.realdata import REALDATA

START = 1_700_000_000_000_000_000


def assert_same_corpus(got: Corpus, want: Corpus) -> None:
    """Field by field; string dictionaries may be ordered differently, values may not."""
    assert got.trace_ids == want.trace_ids and got.digest == want.digest
    for name in ("trace_offsets", "row_trace", "is_root", "root_row", "weight", "must_keep"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    for name in ("row_time", "trace_start"):
        assert np.array_equal(getattr(got, name), getattr(want, name), equal_nan=True), name
    assert got.must_keep_reasons == want.must_keep_reasons
    assert got.skipped == want.skipped and got.sources == want.sources
    assert got.must_keep_unmatched == want.must_keep_unmatched
    assert dict(got.formats) == dict(want.formats)
    assert list(got.columns) == list(want.columns)
    for name, column in want.columns.items():
        mine = got.columns[name]
        assert np.array_equal(mine.rows, column.rows), name
        assert np.array_equal(mine.kind, column.kind), name
        assert [mine.value_at(i) for i in range(len(mine))] == [
            column.value_at(i) for i in range(len(column))
        ], name


def assert_consistent(parted: PartedCorpus, want: Corpus) -> None:
    """The per-trace arrays, partitions and members agree with the in-memory corpus."""
    assert parted.digest == want.digest and parted.trace_ids == want.trace_ids
    assert (parted.n_traces, parted.n_rows) == (want.n_traces, want.n_rows)
    assert np.array_equal(parted.trace_offsets, want.trace_offsets)
    assert np.array_equal(parted.trace_start, want.trace_start, equal_nan=True)
    assert np.array_equal(parted.weight, want.weight)
    assert np.array_equal(parted.must_keep, want.must_keep)
    assert np.array_equal(parted.has_root, want.root_row >= 0)
    assert parted.must_keep_reasons == want.must_keep_reasons
    assert parted.skipped == want.skipped and parted.formats == want.formats
    if want.n_rows:
        ends = np.fmax.reduceat(want.row_time, want.trace_offsets[:-1])
        assert np.array_equal(parted.trace_end, ends, equal_nan=True)
    assert parted.duration_s == pytest.approx(want.duration_s, nan_ok=True)
    kinds = {name: column.kind_counts() for name, column in want.columns.items()}
    assert {name: dict(k) for name, k in parted.field_kinds.items()} == kinds
    seen = np.zeros(parted.n_traces, dtype=int)
    for k in range(parted.n_parts):
        members = parted.members(k)
        assert np.all(np.diff(members) > 0)
        assert np.array_equal(parted.trace_part[members], np.full(len(members), k))
        assert np.array_equal(parted.trace_local[members], np.arange(len(members)))
        part = parted.part(k)
        assert part.trace_ids == tuple(want.trace_ids[t] for t in members.tolist())
        seen[members] += 1
    assert (seen == 1).all()
    for t in range(want.n_traces):
        assert parted.trace(t) == want.trace(t)
        assert parted.trace_index(want.trace_ids[t]) == t
    assert parted.trace_index("no such trace") == -1
    assert_same_corpus(parted.to_corpus(), want)


def _spread(text: str, seed: int) -> str:
    """Every span its own JSON Lines request, shuffled: a trace's spans arrive far apart."""
    lines = []
    for line in text.splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for span in ss["spans"]:
                    scope = {"scope": ss.get("scope", {}), "spans": [span]}
                    one = {"resource": rs.get("resource", {}), "scopeSpans": [scope]}
                    lines.append(json.dumps({"resourceSpans": [one]}))
    random.Random(seed).shuffle(lines)
    return "\n".join(lines) + "\n"


def _oddities(trace_id: str) -> str:
    """Honeycomb events Refinery drops or passes: a probe, one without id, a bad line."""
    return (
        json.dumps({"data": {"trace.trace_id": trace_id, "meta.refinery.probe": True}})
        + "\n"
        + json.dumps({"data": {"name": "no trace id"}})
        + "\n{not json\n"
        + json.dumps({"data": {"trace.trace_id": trace_id, "name": "late event", "nectar": 1}})
        + "\n"
    )


@pytest.fixture(scope="module")
def spread_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("spread")
    text = synthesize(shop_model(), 11, traces=40, start_ns=START)
    first = json.loads(text.splitlines()[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    spread = _spread(text, 5).splitlines(keepends=True)
    middle = len(spread) // 2
    a = folder / "a.jsonl"
    a.write_text("".join(spread[:middle]) + _oddities(first["traceId"]))
    b = folder / "b.jsonl"
    b.write_text("".join(spread[middle:]))
    keep = folder / "keep.txt"
    keep.write_text(f"{first['traceId']}  INC-1\nffffffffffffffff never seen\n")
    return [a, b, keep]


@pytest.mark.parametrize("batch_rows", [1, 300, None])
def test_real_captures_partitioned_are_the_in_memory_corpus(
    realdata: Path, tmp_path: Path, batch_rows: int | None
) -> None:
    inputs = [REALDATA / name for name in ("otlp", "zipkin", "jaeger", "honeycomb")]
    want = load_corpus(inputs, skip_bad=True, cache=False)
    parted = build_parted(
        inputs,
        tmp_path / "parts",
        part_rows=50,
        skip_bad=True,
        chunk_bytes=4096,
        batch_rows=batch_rows,
        workers=1,
    )
    assert parted.n_parts > 20
    assert_consistent(parted, want)
    assert_consistent(open_parted(tmp_path / "parts"), want)


def test_spread_traces_land_whole_in_one_partition_in_arrival_order(
    spread_files: list[Path], tmp_path: Path
) -> None:
    a, b, keep = spread_files
    options = {"skip_bad": True, "must_keep_file": keep, "must_keep_attribute": "nectar"}
    want = load_corpus([a, b], cache=False, **options)
    assert {s.reason.split(" (")[0] for s in want.skipped} >= {
        "event has no trace id",
        "event is a Refinery probe",
        "invalid JSON: Expecting property name enclosed in double quotes",
    }
    assert want.must_keep_unmatched == ("ffffffffffffffff",)
    first = want.trace_index(keep.read_text().split()[0])
    assert want.must_keep_reasons[first].endswith("keep.txt:1: INC-1")
    parted = build_parted(
        [a, b],
        tmp_path / "p",
        part_rows=40,
        chunk_bytes=2048,
        batch_rows=1,
        workers=2,  # chunks parsed in worker processes, in order
        **options,
    )
    assert parted.n_parts >= 10
    assert_consistent(parted, want)
    # That trace's spans are scattered over both files and many chunks; the honeycomb
    # event at the end of a.jsonl is its row too, in arrival order, in one partition.
    part = parted.part(int(parted.trace_part[first]))
    local = int(parted.trace_local[first])
    rows = range(int(part.trace_offsets[local]), int(part.trace_offsets[local + 1]))
    names = dict(part.columns["name"].values_between(rows.start, rows.stop))
    assert names[rows.stop - 1] != "late event"  # b.jsonl's spans arrive after it
    assert "late event" in names.values()


@pytest.fixture(scope="module")
def spread_corpus(spread_files: list[Path]) -> Corpus:
    a, b, keep = spread_files
    return load_corpus([a, b], cache=False, skip_bad=True, must_keep_file=keep)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    chunk=st.integers(min_value=3000, max_value=200_000),
    part_rows=st.integers(min_value=1, max_value=700),
    buckets=st.sampled_from([1, 2, 7, 64, 256]),
    batch_rows=st.integers(min_value=1, max_value=1_000),
)
def test_any_cut_gives_the_same_corpus(
    spread_files: list[Path],
    spread_corpus: Corpus,
    tmp_path_factory: pytest.TempPathFactory,
    chunk: int,
    part_rows: int,
    buckets: int,
    batch_rows: int,
) -> None:
    a, b, keep = spread_files
    want = spread_corpus
    folder = tmp_path_factory.mktemp("cut") / "p"
    parted = build_parted(
        [a, b],
        folder,
        part_rows=part_rows,
        skip_bad=True,
        must_keep_file=keep,
        chunk_bytes=chunk,
        buckets=buckets,
        batch_rows=batch_rows,
        workers=1,
    )
    assert_same_corpus(parted.to_corpus(), want)
    assert np.array_equal(parted.trace_offsets, want.trace_offsets)


def test_buckets_bigger_than_a_partition_are_split(
    spread_files: list[Path],
    spread_corpus: Corpus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, keep = spread_files
    monkeypatch.setattr(parts_spill, "SPLIT_MIN_ROWS", 0)
    options: dict[str, Any] = {"skip_bad": True, "must_keep_file": keep, "buckets": 1}
    parted = build_parted([a, b], tmp_path / "p", part_rows=60, **options)
    assert parted.n_parts > 4  # one bucket, split by a second (and third) hash
    assert max(np.diff(parted.trace_offsets)) <= 60 < spread_corpus.n_rows
    sizes = [int(np.diff(parted.part(k).trace_offsets).sum()) for k in range(parted.n_parts)]
    assert max(sizes) <= 2 * 60
    assert_same_corpus(parted.to_corpus(), spread_corpus)


def test_load_parted_is_cached_and_rebuilt_when_damaged(
    spread_files: list[Path], tmp_path: Path
) -> None:
    a, b, _ = spread_files
    cache = tmp_path / "cache"
    first = load_parted([a, b], part_rows=100, skip_bad=True, cache_dir=cache)
    assert first.folder == parted_path(cache, first.digest, 100)
    assert first.digest == load_corpus([a, b], skip_bad=True, cache=False).digest
    stamp = (first.folder / "manifest.json").stat().st_mtime_ns
    again = load_parted([a, b], part_rows=100, skip_bad=True, cache_dir=cache)
    assert (again.folder / "manifest.json").stat().st_mtime_ns == stamp
    assert (
        load_parted([a, b], part_rows=300, skip_bad=True, cache_dir=cache).n_parts < first.n_parts
    )
    (first.parts[0] / "arrays.bin").write_bytes(b"cut")
    rebuilt = load_parted([a, b], part_rows=100, skip_bad=True, cache_dir=cache)
    assert_same_corpus(rebuilt.to_corpus(), first.to_corpus())
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]


def test_damaged_folders_are_refused(spread_files: list[Path], tmp_path: Path) -> None:
    a, b, _ = spread_files
    folder = tmp_path / "p"
    build_parted([a, b], folder, part_rows=100, skip_bad=True)
    manifest = folder / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) // 2])
    with pytest.raises(StoreError, match="cannot read partitioned corpus"):
        open_parted(folder)
    manifest.write_text(text.replace('"nectar-parts-1"', '"nectar-parts-0"'))
    with pytest.raises(StoreError, match="another format version"):
        open_parted(folder)
    manifest.write_text(text)
    order = folder / "part-00001" / "order.npy"
    saved = order.read_bytes()
    np.save(order, np.zeros(3, dtype=np.int64))
    with pytest.raises(StoreError, match="truncated or corrupt"):
        open_parted(folder)
    order.write_bytes(saved)
    (folder / "part-00002" / "arrays.bin").write_bytes(b"")
    with pytest.raises(StoreError):
        open_parted(folder)
    with pytest.raises(StoreError, match="cannot read"):
        open_parted(tmp_path / "absent")


def test_nothing_is_written_beside_the_input(spread_files: list[Path], tmp_path: Path) -> None:
    a, _, keep = spread_files
    before = sorted(p.name for p in a.parent.iterdir())
    cache = tmp_path / "cache"
    load_parted([a.parent], part_rows=100, skip_bad=True, cache_dir=cache, must_keep_file=keep)
    assert sorted(p.name for p in a.parent.iterdir()) == before


def test_partition_rows_must_be_positive(spread_files: list[Path], tmp_path: Path) -> None:
    from pytest_nectar.errors import UsageError

    with pytest.raises(UsageError, match="partition rows must be a whole number >= 1; got 0"):
        build_parted(spread_files[:1], tmp_path / "p", part_rows=0, skip_bad=True)


def _scale_module() -> Any:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scale_corpus.py"
    spec = importlib.util.spec_from_file_location("scale_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_day_is_a_valid_corpus_whatever_its_partitions(tmp_path: Path) -> None:
    generate = _scale_module().generate_parted
    many = generate(tmp_path / "many", 30_000, 3, 4_000, base_spans=3_000, log=False)
    few = generate(tmp_path / "few", 30_000, 3, 20_000, base_spans=3_000, log=False)
    assert many.n_parts > few.n_parts >= 2
    assert 29_000 < many.n_rows <= 30_000 and many.digest == few.digest
    assert len(set(many.trace_ids)) == many.n_traces
    assert 0.9 * 86_400 < many.duration_s < 1.1 * 86_400
    assert many.must_keep.any() and not many.must_keep.all()
    one, other = many.to_corpus(), few.to_corpus()
    assert_same_corpus(one, other)
    # Well-formed: every row names its own trace; times inside the trace's span.
    column = one.columns["trace.trace_id"]
    assert np.array_equal(column.rows, np.arange(one.n_rows))
    assert [column.value_at(i) for i in range(0, one.n_rows, 997)] == [
        one.trace_ids[int(one.row_trace[r])] for r in range(0, one.n_rows, 997)
    ]
    assert np.array_equal(many.has_root, one.root_row >= 0) and many.has_root.mean() > 0.5
    for t in range(0, many.n_traces, 101):
        assert many.trace(t) == one.trace(t)


def test_corpus_ingest_writes_partitions_on_request(
    spread_files: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_nectar.cli import main

    a, b, _ = spread_files
    out = tmp_path / "out"
    args = ["corpus", "ingest", str(a), str(b), "-o", str(out), "--skip-bad"]
    assert main([*args, "--partition-rows", "100"]) == 0
    want = load_corpus([a, b], skip_bad=True, cache=False)
    folder = parted_path(out, want.digest, 100)
    assert capsys.readouterr().out.startswith(
        f"{folder}: {want.n_rows} events, {want.n_traces} traces in "
    )
    assert_same_corpus(open_parted(folder, (str(a), str(b))).to_corpus(), want)
    assert sorted(p.name for p in out.iterdir()) == [folder.name]  # no cache index beside it
    assert main([*args, "--partition-rows", "0"]) == 2
    assert "--partition-rows has a wrong value; got 0; a whole number of events > 0" in (
        capsys.readouterr().err
    )


def test_compressed_json_lines_are_read_a_block_at_a_time(
    spread_files: list[Path], spread_corpus: Corpus, tmp_path: Path
) -> None:
    import gzip

    a, b, keep = spread_files
    text = a.read_bytes()
    packed = tmp_path / "a.jsonl.gz"
    packed.write_bytes(gzip.compress(text * (1 + (3 << 20) // len(text))))  # 1 MiB blocks
    options: dict[str, Any] = {"skip_bad": True, "must_keep_file": keep}
    want = load_corpus([packed, b], cache=False, **options)
    assert want.trace_ids == spread_corpus.trace_ids  # a's events again and again, then b's
    assert want.n_rows > 3 * spread_corpus.n_rows
    parted = build_parted([packed, b], tmp_path / "p", part_rows=400, batch_rows=1, **options)
    assert_same_corpus(parted.to_corpus(), want)


def test_a_bad_line_fails_as_load_corpus_does_and_leaves_nothing(
    spread_files: list[Path], tmp_path: Path
) -> None:
    from pytest_nectar.errors import CorpusError

    a, b, _ = spread_files
    with pytest.raises(CorpusError) as want:
        load_corpus([a, b], cache=False)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CorpusError) as got:
        build_parted([a, b], out / "p", part_rows=40, chunk_bytes=2048, batch_rows=1, workers=1)
    assert str(got.value) == str(want.value)
    assert ":" in str(got.value).split(" ")[0]  # file:line of the bad line
    assert list(out.iterdir()) == []  # no partitions, no spill, no temporary folder
