"""JSON Lines in chunks: cut at line boundaries, parsed by worker processes in parallel.

A big file is cut into chunks at line boundaries; worker processes parse them (the OTLP
fast path first, the exact reader for what it refuses) while the caller merges the chunks
before, and each chunk comes back as a :class:`PartialTable` in order, its lines numbered
as lines of the whole file, so the result does not depend on the number of workers.  The
first bad line stops the read with its line and column, unless bad records are skipped.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.containers import (
    open_decompressed,
    read_blocks,
)
from pytest_nectar.corpus.context import FatalRecord, ReadContext
from pytest_nectar.corpus.documents import (
    EXPECTED,
    MAX_CONTAINERS,
    IngestOptions,
    json_column,
    json_reason,
    keys_of,
    reader_for,
    too_many_containers,
)
from pytest_nectar.corpus.otlp_fast import FastOtlp
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.worker_pool import in_order
from pytest_nectar.errors import CorpusError, Position

__all__ = [
    "chunk_bounds",
    "chunk_job",
    "decompressed_blocks",
    "first_value_then_more",
    "jsonl_chunks",
    "numbered",
    "parsed_chunks",
    "read_lines",
]


def read_lines(
    data: bytes | bytearray, display: str, opts: IngestOptions, first_line: int
) -> PartialTable:
    """Parse JSON Lines; line numbers start at ``first_line`` (1 for a whole file).  Lines
    are views into ``data``, copied only for the exact reader."""
    buffer = RowBuffer()
    ctx = ReadContext(buffer, skip_bad=opts.skip_bad, json_ints=opts.json_ints)
    start, stop = 0, len(data)
    view = memoryview(data)
    loads = json.loads
    fast = FastOtlp(ctx).read if opts.fmt in (None, "otlp") else None
    for offset, (begin, end) in enumerate(_line_bounds(data, start, stop)):
        ctx.record = first_line + offset
        if not data[begin : begin + 64].strip() and not data[begin:end].strip():
            continue
        dense = too_many_containers(data[begin:end]) if end - begin > 2 * MAX_CONTAINERS else None
        if dense is not None:
            if not opts.skip_bad:
                table = buffer.finish(_count_lines(data, start, stop))
                table.error = (ctx.record, dense, f"{end - begin:,} bytes")
                return table
            ctx.skip(dense)
            continue
        if fast is not None and fast(view[begin:end]):
            continue
        raw = data[begin:end]
        try:
            doc = loads(raw)
        except (ValueError, RecursionError) as err:
            reason = json_reason(err)
            if not opts.skip_bad:
                table = buffer.finish(_count_lines(data, start, stop))
                table.error = (ctx.record, f"{reason}", json_column(err, raw))
                return table
            ctx.skip(reason)
            continue
        reader = reader_for(doc, opts.fmt)
        if isinstance(reader, str):
            if not reader:
                if not opts.skip_bad:
                    table = buffer.finish(_count_lines(data, start, stop))
                    table.error = (ctx.record, f"unknown trace format; {EXPECTED}", keys_of(doc))
                    return table
                reader = f"unknown trace format; got {keys_of(doc)}"
            ctx.skip(reader)
            continue
        try:
            ctx.guard("", reader, doc, ctx)
        except FatalRecord as err:
            table = buffer.finish(_count_lines(data, start, stop))
            table.error = (err.record, err.what, err.got)
            return table
    return buffer.finish(_count_lines(data, start, stop))


def _line_bounds(data: bytes | bytearray, start: int, stop: int) -> Iterator[tuple[int, int]]:
    """Where each line of ``data[start:stop]`` begins and ends (as ``split(b"\\n")`` cuts
    it, without a last empty line)."""
    while start < stop:
        end = data.find(b"\n", start, stop)
        if end < 0:
            end = stop
        yield start, end
        start = end + 1


def _count_lines(data: bytes | bytearray, start: int, stop: int) -> int:
    return sum(1 for _ in _line_bounds(data, start, stop))


#: In a worker process: the bytes of its last chunk, read into again for the next one (a
#: fresh 50 MB buffer per chunk costs its page faults each time, a fifth of reading it).
_CHUNK_BUFFER: list[bytearray] = []


def _worker_started() -> None:
    _CHUNK_BUFFER.append(bytearray())


def chunk_job(path: str, start: int, stop: int, display: str, opts: IngestOptions) -> PartialTable:
    # Read, not memory-mapped: a file cut short while it is read gives a truncated last
    # line (a located error), where a mapping would kill the worker.  Parsing makes
    # millions of objects and no reference cycles: the cyclic collector would only walk
    # them again and again.
    data: bytes | bytearray
    with open(path, "rb") as fh:
        fh.seek(start)
        want = stop - start
        if _CHUNK_BUFFER:  # a worker: nothing of a chunk outlives it (values are copies)
            data = _CHUNK_BUFFER[0]
            del data[want:]  # resized in place: its pages stay mapped
            data.extend(bytes(want - len(data)))
            del data[fh.readinto(data) :]  # a file cut short: its last line is cut too
        else:
            data = fh.read(want)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return read_lines(data, display, opts, 1)
    finally:
        if collecting:
            gc.enable()


def chunk_bounds(path: Path, size: int, pieces: int) -> list[tuple[int, int]]:
    bounds = []
    start = 0
    with open(path, "rb") as fh:
        for i in range(1, pieces):
            target = max(start, size * i // pieces)
            fh.seek(target)
            fh.readline()
            cut = fh.tell()
            if cut > start and cut < size:
                bounds.append((start, cut))
                start = cut
    bounds.append((start, size))
    return bounds


def first_value_then_more(data: bytes) -> bool:
    """True when the first line is a whole JSON value and more content follows (JSON Lines)."""
    stripped = data.lstrip()
    end = stripped.find(b"\n")
    if end < 0 or not stripped[end:].strip():
        return False
    try:
        json.loads(stripped[:end])
    except (ValueError, RecursionError):
        return False
    return True


def jsonl_chunks(
    path: Path, display: str, opts: IngestOptions, size: int, workers: int, chunk_bytes: int
) -> Iterator[PartialTable]:
    """A file read whole into memory: in one chunk up to ``chunk_bytes``, else in equal
    chunks, a multiple of the workers (none waits alone for the last one)."""
    n_workers = workers or (os.cpu_count() or 1)
    if size <= chunk_bytes:
        yield read_lines(path.read_bytes(), display, opts, 1)
        return
    pieces = -(-size // chunk_bytes)
    if n_workers > 1:
        pieces = n_workers * max(4, -(-size // (chunk_bytes * 4 * n_workers)))
    yield from parsed_chunks(path, chunk_bounds(path, size, pieces), display, opts, n_workers)


def numbered(chunks: Iterable[PartialTable], display: str) -> Iterator[PartialTable]:
    line = 0
    for chunk in chunks:
        if chunk.error is not None:
            record, what, got = chunk.error
            if what.startswith("invalid JSON") or what == "invalid UTF-8":
                raise CorpusError(
                    what.split(" (column")[0].split(" (Nectar")[0],
                    position=Position(display, line + record, got if isinstance(got, int) else 0),
                    hint="the file may be truncated; --skip-bad skips bad lines",
                )
            raise CorpusError(
                what,
                position=Position(display, line + record),
                got=got,
                hint="--skip-bad skips bad records",
            )
        chunk.skipped = [(line + r, reason) for r, reason in chunk.skipped]
        chunk.row_record += line
        line += chunk.records
        yield chunk


def parsed_chunks(
    path: Path,
    bounds: list[tuple[int, int]],
    display: str,
    opts: IngestOptions,
    workers: int,
) -> Iterator[PartialTable]:
    """The chunks at ``bounds``, in order: in this process (one chunk in memory at a time),
    or by ``workers`` processes (0 = all cores) a few chunks ahead of the caller."""
    workers = min(workers or (os.cpu_count() or 1), len(bounds))
    calls = ((str(path), a, b, display, opts) for a, b in bounds)
    if workers <= 1:
        yield from (chunk_job(*call) for call in calls)
    else:
        yield from in_order(chunk_job, calls, workers, _worker_started)


def decompressed_blocks(path: Path, kind: str) -> Iterator[bytes]:
    with open_decompressed(path, kind) as stream:
        yield from read_blocks(stream)
