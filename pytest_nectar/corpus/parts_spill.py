"""Spilling a corpus's rows to disk by trace id, one batch in memory at a time.

:func:`spill_inputs` reads every input a chunk at a time (``ingest.iter_chunks``), joins
chunks into batches, finds each row's trace as ``assemble`` does (``assemble.identify``) and
appends the batch's rows to :class:`Spill`'s bucket files by a CRC-32 of the UTF-8 trace id,
each row with its sequence number in the whole input.  ``parts_build.py`` then assembles
partitions from contiguous runs of buckets.  A piece on disk is a pickle (our own file in a
private temporary folder, read back by the process that wrote it) of its arrays, without
those that hold only zeros.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.assemble import identify
from pytest_nectar.corpus.chunks import concat_tables
from pytest_nectar.corpus.ingest import iter_chunks
from pytest_nectar.corpus.load import CorpusRequest
from pytest_nectar.corpus.partial import PartialColumn, PartialTable
from pytest_nectar.corpus.table import Skipped

__all__ = ["BATCH_ROWS", "DEFAULT_BUCKETS", "Spill", "batches", "spill_inputs", "touch"]

#: Spill files: enough that a partition of a day of traffic is a few buckets.
DEFAULT_BUCKETS: Final = 256
#: A bucket is split only above this many rows (and twice ``part_rows``): splitting small
#: buckets would only make small partitions smaller, never bound memory better.
SPLIT_MIN_ROWS = 1 << 16
SPLIT_LEVELS: Final = 3
#: Rows spilled at once at most (parsed chunks joined): about 1,000 rows a bucket piece.
BATCH_ROWS: Final = 262_144


def touch(*folders: Path) -> None:
    # The cache sweeps scratch folders untouched for an hour: a long build is not stale.
    for folder in folders:
        with contextlib.suppress(OSError):
            os.utime(folder)


def spill_inputs(
    request: CorpusRequest,
    spill: Spill,
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
        for batch in batches(chunks, batch_rows):
            from_chunks.extend(Skipped(display, r, reason) for r, reason in batch.skipped)
            found = identify(batch, display)
            no_id.extend(found.no_id)
            probes.extend(found.probes)
            spill.add(batch, found.row_tid, found.names, seq)
            seq += batch.n_rows
            touch(*keep_alive)
    first_input: dict[str, int] = {}
    for i, display in enumerate(request.displays):
        first_input.setdefault(display, i)
    every = from_chunks + no_id + probes
    every.sort(key=lambda s: (first_input.get(s.path, -1), s.record))
    return every


def batches(chunks: Iterator[PartialTable], batch_rows: int) -> Iterator[PartialTable]:
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


class Spill:
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
