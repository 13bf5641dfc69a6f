"""Building a corpus partitioned by trace id, with bounded memory (``parts.py`` reads it).

A day of traffic does not fit in memory, and a trace's spans arrive spread over the whole
input.  The build therefore reads the input one chunk at a time (``ingest.iter_chunks``),
finds each row's trace exactly as :func:`~.assemble.assemble` does (``assemble.identify``),
and routes the rows by a stable hash of their trace id (CRC-32 of its UTF-8 bytes) into
``buckets`` append-only spill files, each row with its sequence number in the whole input.
Contiguous bucket ranges then become partitions of about ``part_rows`` rows, and each one
is assembled from its spilled rows by the same ``assemble`` (ordered by those sequence
numbers), so roots ("last root wins"), times, weights and must-keep labels come from the
one code path, and every trace lands whole in one partition with its rows in arrival
order.  Peak memory: one chunk, then one partition.  A partition holds at least one
bucket, about ``rows / buckets`` rows.

Layout of the folder (written to a temporary sibling, renamed into place whole)::

    manifest.json        version, digest, part_rows, partitions, skipped records, sources,
                         formats, must-keep ids matching no trace, per-field kind counts
    part-00000/          an ordinary store (``store.py``) of the partition's traces, plus
        order.npy        each trace's first-appearance sequence number in the input (int64,
                         ascending): sorting all of them rebuilds the corpus order exactly
        end.npy          each trace's last event time (float64; NaN: none)
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.assemble import assemble, concat_tables, identify
from pytest_nectar.corpus.buffer import PartialColumn, PartialTable
from pytest_nectar.corpus.context import FMT_NAMES
from pytest_nectar.corpus.ingest import iter_chunks
from pytest_nectar.corpus.labels import label_must_keep, read_must_keep_file
from pytest_nectar.corpus.load import CorpusRequest
from pytest_nectar.corpus.store import save_store
from pytest_nectar.corpus.table import KIND_NAMES, Corpus, Skipped

__all__ = [
    "END_FILE",
    "MANIFEST",
    "ORDER_FILE",
    "PARTS_VERSION",
    "part_digest",
    "part_files",
    "part_name",
    "trace_end",
    "write_manifest",
    "write_part",
    "write_parted",
]

PARTS_VERSION: Final = "nectar-parts-1"
MANIFEST: Final = "manifest.json"
ORDER_FILE: Final = "order.npy"
END_FILE: Final = "end.npy"
#: Spill files: enough that a partition of a day of traffic is a few buckets.
DEFAULT_BUCKETS: Final = 256
#: A bucket is split only above this many rows (and twice ``part_rows``): splitting small
#: buckets would only make small partitions smaller, never bound memory better.
SPLIT_MIN_ROWS = 1 << 16
SPLIT_LEVELS: Final = 3
#: Rows spilled at once at most (parsed chunks joined): about 1,000 rows a bucket piece.
BATCH_ROWS: Final = 262_144


def part_name(k: int) -> str:
    return f"part-{k:05d}"


def part_digest(digest: str, k: int) -> str:
    """The digest a partition's store carries: the corpus's, and which part it is."""
    return f"{digest}/{part_name(k)}"


def trace_end(corpus: Corpus) -> npt.NDArray[np.float64]:
    """Each trace's last event time (NaN when none of its rows has a time)."""
    if corpus.n_traces == 0:
        return np.zeros(0, dtype=np.float64)
    end: npt.NDArray[np.float64] = np.fmax.reduceat(corpus.row_time, corpus.trace_offsets[:-1])
    return end


def write_part(
    root: Path, k: int, corpus: Corpus, first_seq: npt.NDArray[np.int64]
) -> dict[str, Any]:
    """Write partition ``k`` into ``root``; returns its manifest entry."""
    directory = root / part_name(k)
    save_store(corpus, directory)
    kinds = {name: column.kind_counts() for name, column in corpus.columns.items()}
    return part_files(directory, first_seq, trace_end(corpus), corpus.n_rows, kinds)


def part_files(
    directory: Path,
    first_seq: npt.NDArray[np.int64],
    end: npt.NDArray[np.float64],
    n_rows: int,
    kinds: Mapping[str, Mapping[str, int]],
) -> dict[str, Any]:
    """Beside a partition's store (``directory``): each trace's first-appearance sequence
    number and last event time; returns the partition's manifest entry."""
    np.save(directory / ORDER_FILE, np.ascontiguousarray(first_seq, dtype=np.int64))
    np.save(directory / END_FILE, np.ascontiguousarray(end, dtype=np.float64))
    return {"name": directory.name, "traces": len(first_seq), "rows": n_rows, "kinds": kinds}


def write_manifest(
    root: Path,
    *,
    digest: str,
    part_rows: int,
    parts: Sequence[Mapping[str, Any]],
    skipped: Sequence[Skipped],
    sources: Sequence[str],
    formats: Mapping[str, int],
    must_keep_unmatched: Sequence[str],
) -> None:
    """The manifest of the partitions written into ``root`` (per-field kinds summed)."""
    field_kinds: dict[str, dict[str, int]] = {}
    for part in parts:
        for name, counts in part["kinds"].items():
            total = field_kinds.setdefault(name, {})
            for kind, count in counts.items():
                total[kind] = total.get(kind, 0) + count
    order = list(KIND_NAMES.values())
    index = {path: i for i, path in enumerate(sources)}
    manifest = {
        "version": PARTS_VERSION,
        "digest": digest,
        "part_rows": part_rows,
        "parts": [{k: v for k, v in p.items() if k != "kinds"} for p in parts],
        "skipped": [[index.get(s.path, -1), s.path, s.record, s.reason] for s in skipped],
        "sources": list(sources),
        "formats": dict(formats),
        "must_keep_unmatched": list(must_keep_unmatched),
        "field_kinds": {
            name: dict(sorted(field_kinds[name].items(), key=lambda kv: order.index(kv[0])))
            for name in sorted(field_kinds)
        },
    }
    (root / MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")


def publish(tmp: Path, folder: Path) -> None:
    """Rename the finished ``tmp`` to ``folder`` (another writer's whole copy wins a race)."""
    try:
        os.rename(tmp, folder)
    except OSError:
        if not (folder / MANIFEST).exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def write_parted(
    request: CorpusRequest,
    digest: str,
    folder: Path,
    *,
    part_rows: int,
    chunk_bytes: int | None = None,
    buckets: int = DEFAULT_BUCKETS,
    batch_rows: int | None = None,
    workers: int = 0,
    spill_dir: Path | None = None,
) -> None:
    """Read ``request``'s inputs and write them partitioned by trace id into ``folder``;
    ``workers`` (0 = all cores) parse big JSON Lines files in parallel; ``batch_rows``
    (default: a quarter partition, at most ``BATCH_ROWS``) are spilled at once."""
    if batch_rows is None:
        batch_rows = min(BATCH_ROWS, max(1, part_rows // 4))
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = spill_dir if spill_dir is not None else folder.parent
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-parts-", dir=folder.parent))
    spill_root = Path(tempfile.mkdtemp(prefix=".tmp-spill-", dir=scratch))
    try:
        spill = _Spill(spill_root, buckets)
        try:
            skipped = _spill_inputs(
                request, spill, chunk_bytes, batch_rows, workers, keep_alive=(tmp, spill_root)
            )
        finally:
            spill.close()
        spill.split_big(part_rows)
        keep_ids = (
            [tid for tid, _, _ in read_must_keep_file(request.must_keep_file)]
            if request.must_keep_file is not None
            else []
        )
        present: set[str] = set()
        parts = []
        formats: dict[str, int] = {}
        for k, group in enumerate(_groups(spill.rows, part_rows)):
            corpus, first_seq = _assemble_part(spill, group, request, part_digest(digest, k))
            present.update(set(keep_ids).intersection(corpus.trace_ids))
            for name, count in corpus.formats.items():
                formats[name] = formats.get(name, 0) + count
            parts.append(write_part(tmp, k, corpus, first_seq))
            del corpus
            _touch(tmp, spill_root)
        write_manifest(
            tmp,
            digest=digest,
            part_rows=part_rows,
            parts=parts,
            skipped=skipped,
            sources=request.displays,
            formats={n: formats[n] for n in FMT_NAMES.values() if n in formats},
            must_keep_unmatched=[tid for tid in keep_ids if tid not in present],
        )
        publish(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(spill_root, ignore_errors=True)


def _touch(*folders: Path) -> None:
    # The cache sweeps scratch folders untouched for an hour: a long build is not stale.
    for folder in folders:
        with contextlib.suppress(OSError):
            os.utime(folder)


def _spill_inputs(
    request: CorpusRequest,
    spill: _Spill,
    chunk_bytes: int | None,
    batch_rows: int,
    workers: int,
    *,
    keep_alive: tuple[Path, ...],
) -> list[Skipped]:
    """Spill every input row to its bucket; the skipped records, in ``assemble``'s order."""
    from_chunks: list[Skipped] = []
    no_id: list[Skipped] = []
    probes: list[Skipped] = []
    seq = 0
    for path, display in request.inputs:
        chunks = iter_chunks(path, display, request.opts, chunk_bytes=chunk_bytes, workers=workers)
        for batch in _batches(chunks, batch_rows):
            from_chunks.extend(Skipped(display, r, reason) for r, reason in batch.skipped)
            found = identify(batch, display)
            no_id.extend(found.no_id)
            probes.extend(found.probes)
            spill.add(batch, found.row_tid, found.names, seq)
            seq += batch.n_rows
            _touch(*keep_alive)
    first_input: dict[str, int] = {}
    for i, display in enumerate(request.displays):
        first_input.setdefault(display, i)
    every = from_chunks + no_id + probes
    every.sort(key=lambda s: (first_input.get(s.path, -1), s.record))
    return every


def _batches(chunks: Iterator[PartialTable], batch_rows: int) -> Iterator[PartialTable]:
    """Chunks joined into batches of at least ``batch_rows`` rows (fewer, bigger pieces to
    spill: the cost per piece and column dominates small ones)."""
    pending: list[PartialTable] = []
    rows = 0
    for chunk in chunks:
        pending.append(chunk)
        rows += chunk.n_rows
        if rows >= batch_rows:
            yield pending[0] if len(pending) == 1 else concat_tables(pending)
            pending, rows = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else concat_tables(pending)


class _Spill:
    """Append-only bucket files of (sequence numbers, rows) pieces, a piece per batch.

    Buckets are in a list: a bucket that outgrows a partition is split in place into
    sub-buckets by another hash of the trace id (:meth:`split_big`), so that no partition
    needs much more than ``part_rows`` rows of memory however large the input.
    """

    def __init__(self, folder: Path, buckets: int) -> None:
        self.folder = folder
        self.paths = [folder / f"bucket-{b:05d}" for b in range(buckets)]
        self.rows = [0] * buckets
        self._files = [open(p, "wb") for p in self.paths]  # noqa: SIM115 - closed in close()

    def close(self) -> None:
        for fh in self._files:
            fh.close()
        self._files = []

    def add(
        self, table: PartialTable, row_tid: npt.NDArray[np.int64], names: list[str], seq0: int
    ) -> None:
        """Route ``table``'s rows (``seq0`` is its first row's sequence number) to buckets."""
        seq = seq0 + np.arange(table.n_rows, dtype=np.int64)
        for bucket, rows, piece in _route(table, row_tid, names, len(self.paths), 0):
            _dump(seq[rows], piece, self._files[bucket])
            self.rows[bucket] += len(rows)

    def pieces(self, bucket: int) -> Iterator[tuple[npt.NDArray[np.int64], PartialTable]]:
        # Our own file in a private temporary folder, read back by the process that wrote it.
        with open(self.paths[bucket], "rb") as fh:
            while True:
                try:
                    seq, packed = pickle.load(fh)
                except EOFError:
                    return
                yield seq, _unpack(packed)

    def split_big(self, part_rows: int) -> None:
        """Split every bucket of more than ``max(2 * part_rows, SPLIT_MIN_ROWS)`` rows (one
        piece in memory at a time), up to ``SPLIT_LEVELS`` deep (a single huge trace stays
        whole)."""
        limit = max(2 * part_rows, SPLIT_MIN_ROWS)
        for b in reversed(range(len(self.rows))):  # from the end: earlier indices stay valid
            if self.rows[b] > limit:
                self._split_deep(b, part_rows, limit, 1)

    def _split_deep(self, bucket: int, part_rows: int, limit: int, level: int) -> None:
        before = self.rows[bucket]
        count = min(64, max(2, -(-before // part_rows)))
        self._split_one(bucket, count, level)
        if level >= SPLIT_LEVELS:
            return
        for b in reversed(range(bucket, bucket + count)):
            if limit < self.rows[b] < before:
                self._split_deep(b, part_rows, limit, level + 1)

    def _split_one(self, bucket: int, count: int, level: int) -> None:
        paths = [
            self.paths[bucket].with_name(f"{self.paths[bucket].name}-{i:03d}") for i in range(count)
        ]
        rows = [0] * count
        files = [open(p, "wb") for p in paths]  # noqa: SIM115 - closed below
        try:
            for seq, piece in self.pieces(bucket):
                found = identify(piece, "")
                for sub, picked, part in _route(piece, found.row_tid, found.names, count, level):
                    _dump(seq[picked], part, files[sub])
                    rows[sub] += len(picked)
        finally:
            for fh in files:
                fh.close()
        self.paths[bucket].unlink()
        self.paths[bucket : bucket + 1] = paths
        self.rows[bucket : bucket + 1] = rows


def _dump(seq: npt.NDArray[np.int64], piece: PartialTable, fh: IO[bytes]) -> None:
    """One spilled piece, compact: arrays of zeros (or of -1 codes) are left out, rows are
    int32 (a piece is a few thousand rows), so the spill takes about what the store does."""
    columns = {
        name: (
            col.rows.astype(np.int32),
            col.kind,
            col.ints if col.ints.any() else None,
            col.floats if col.floats.any() else None,
            col.codes if (col.codes >= 0).any() else None,
            col.strings,
            col.others,
        )
        for name, col in piece.columns.items()
    }
    rows = (piece.row_time, piece.row_rate, piece.row_format, piece.row_record)
    pickle.dump((seq, (piece.n_rows, rows, columns)), fh, protocol=5)


def _unpack(packed: tuple[Any, ...]) -> PartialTable:
    n_rows, (row_time, row_rate, row_format, row_record), columns = packed
    out = {}
    for name, (rows, kind, ints, floats, codes, strings, others) in columns.items():
        n = len(rows)
        out[name] = PartialColumn(
            rows=rows.astype(np.int64),
            kind=kind,
            ints=np.zeros(n, dtype=np.int64) if ints is None else ints,
            floats=np.zeros(n, dtype=np.float64) if floats is None else floats,
            codes=np.full(n, -1, dtype=np.int32) if codes is None else codes,
            strings=strings,
            others=others,
        )
    return PartialTable(n_rows, row_time, row_rate, row_format, row_record, out)


def _route(
    table: PartialTable, row_tid: npt.NDArray[np.int64], names: list[str], count: int, level: int
) -> Iterator[tuple[int, npt.NDArray[np.int64], PartialTable]]:
    """``table``'s rows by bucket: CRC-32 of the UTF-8 trace id (seeded by the split level)."""
    hashes = np.fromiter(
        (zlib.crc32(n.encode("utf-8", "surrogatepass"), level) for n in names),
        dtype=np.int64,
        count=len(names),
    )
    row_bucket = np.full(len(row_tid), -1, dtype=np.int64)
    named = row_tid >= 0
    row_bucket[named] = (hashes % count)[row_tid[named]]
    return _split(table, row_bucket, count)


def _split(
    chunk: PartialTable, row_bucket: npt.NDArray[np.int64], buckets: int
) -> Iterator[tuple[int, npt.NDArray[np.int64], PartialTable]]:
    """``(bucket, chunk rows, piece)`` per non-empty bucket; rows keep their chunk order."""
    kept = row_bucket >= 0
    sorted_rows = np.argsort(np.where(kept, row_bucket, -1), kind="stable")
    counts = np.bincount(row_bucket[kept], minlength=buckets)
    starts = np.zeros(buckets + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    n_dropped = len(row_bucket) - int(starts[-1])
    sorted_rows = sorted_rows[n_dropped:]
    local = np.full(len(row_bucket), -1, dtype=np.int64)
    local[sorted_rows] = np.arange(len(sorted_rows)) - starts[row_bucket[sorted_rows]]
    columns = {
        name: _split_column(col, row_bucket, local, buckets) for name, col in chunk.columns.items()
    }
    for b in np.flatnonzero(counts).tolist():
        rows = sorted_rows[starts[b] : starts[b + 1]]
        piece = PartialTable(
            n_rows=len(rows),
            row_time=chunk.row_time[rows],
            row_rate=chunk.row_rate[rows],
            row_format=chunk.row_format[rows],
            row_record=chunk.row_record[rows],
            columns={name: parts[b] for name, parts in columns.items() if b in parts},
        )
        yield b, rows, piece


def _split_column(
    col: PartialColumn,
    row_bucket: npt.NDArray[np.int64],
    local: npt.NDArray[np.int64],
    buckets: int,
) -> dict[int, PartialColumn]:
    entry_bucket = row_bucket[col.rows]
    entries = np.flatnonzero(entry_bucket >= 0)
    entries = entries[np.argsort(entry_bucket[entries], kind="stable")]
    eb = entry_bucket[entries]
    bounds = np.searchsorted(eb, np.arange(buckets + 1))
    codes = col.codes[entries]
    # Each bucket gets the dictionary of the strings its entries use, in code order.
    is_str = codes >= 0
    width = max(len(col.strings), 1)
    keys, inverse = np.unique(eb[is_str] * width + codes[is_str], return_inverse=True)
    key_bucket = keys // width
    key_code = keys % width
    key_bounds = np.searchsorted(key_bucket, np.arange(buckets + 1))
    new_codes = np.full(len(entries), -1, dtype=np.int32)
    new_codes[is_str] = (inverse.reshape(-1) - key_bounds[eb[is_str]]).astype(np.int32)
    position: dict[int, int] = {}
    if col.others:
        where = np.full(len(col.rows), -1, dtype=np.int64)
        where[entries] = np.arange(len(entries))
        position = {i: int(where[i]) for i in col.others if where[i] >= 0}
    strings = col.strings
    out: dict[int, PartialColumn] = {}
    for b in np.flatnonzero(bounds[1:] > bounds[:-1]).tolist():
        lo, hi = int(bounds[b]), int(bounds[b + 1])
        picked = entries[lo:hi]
        out[b] = PartialColumn(
            rows=local[col.rows[picked]],
            kind=col.kind[picked],
            ints=col.ints[picked],
            floats=col.floats[picked],
            codes=new_codes[lo:hi],
            strings=[strings[c] for c in key_code[key_bounds[b] : key_bounds[b + 1]].tolist()],
            others={p - lo: col.others[i] for i, p in position.items() if lo <= p < hi},
        )
    return out


def _groups(bucket_rows: Sequence[int], part_rows: int) -> list[list[int]]:
    """Contiguous runs of non-empty buckets of about ``part_rows`` rows each."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for b, rows in enumerate(bucket_rows):
        if not rows:
            continue
        if current and size + rows > part_rows:
            groups.append(current)
            current, size = [], 0
        current.append(b)
        size += rows
    if current:
        groups.append(current)
    return groups


def _assemble_part(
    spill: _Spill, group: list[int], request: CorpusRequest, digest: str
) -> tuple[Corpus, npt.NDArray[np.int64]]:
    """One partition from its buckets' pieces: ``assemble`` in input order, then labels."""
    seqs: list[npt.NDArray[np.int64]] = []
    pieces: list[PartialTable] = []
    for bucket in group:
        for seq, piece in spill.pieces(bucket):
            seqs.append(seq)
            pieces.append(piece)
    arrival = np.concatenate(seqs)
    done = assemble(pieces, [""] * len(pieces), scale=request.scale, arrival=arrival)
    del pieces
    must_keep, reasons, _ = label_must_keep(
        done.trace_ids,
        done.row_trace,
        done.columns,
        must_keep_file=request.must_keep_file,
        must_keep_attribute=request.must_keep_attribute,
    )
    corpus = Corpus(
        trace_ids=done.trace_ids,
        trace_offsets=done.trace_offsets,
        row_trace=done.row_trace,
        is_root=done.is_root,
        root_row=done.root_row,
        row_time=done.row_time,
        trace_start=done.trace_start,
        weight=done.weight,
        must_keep=must_keep,
        must_keep_reasons=reasons,
        columns=done.columns,
        digest=digest,
        sources=request.displays,
        formats=done.formats,
    )
    first_seq = arrival[done.source_row[done.trace_offsets[:-1]]]
    return corpus, first_seq
