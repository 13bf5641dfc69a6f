"""Reading trace files: format detection, JSON Lines chunking, and parallel parsing.

A file is either one JSON document (OTLP request, Jaeger document, Zipkin span list,
Honeycomb event array) or JSON Lines (one OTLP request or Honeycomb event per line, as
the collector's file exporter writes).  The format is detected from content unless
forced.  Large JSON Lines files are cut at line boundaries (large length-delimited
protobuf files between messages) into chunks that worker processes parse in parallel;
chunks come back as :class:`PartialTable` in order, so the result does not depend on the
number of workers.

Lines that hold other OTLP signals (metrics, logs, profiles) are skipped and counted.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import importlib.util
import io
import itertools
import json
import os
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import IO, Any, Final

from pytest_nectar.corpus.arrow_table import TableError, iter_tables, read_table
from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.containers import (
    ARROW,
    GZIP,
    PARQUET,
    PROTO,
    ZSTD,
    ProtoError,
    open_decompressed,
    parse_request,
    proto_messages,
    read_blocks,
    request_dict,
    sniff,
)
from pytest_nectar.corpus.context import FMT_TABLE, FatalRecord, ReadContext
from pytest_nectar.corpus.honeycomb import (
    looks_like_honeycomb,
    read_honeycomb_event,
    read_honeycomb_list,
)
from pytest_nectar.corpus.husky import BadRecord
from pytest_nectar.corpus.jaeger import looks_like_jaeger, read_jaeger
from pytest_nectar.corpus.otlp import NON_TRACE_KEYS, TRACE_KEYS, read_otlp
from pytest_nectar.corpus.otlp_fast import FastOtlp
from pytest_nectar.corpus.otlp_proto import ProtoBatch
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.zipkin import looks_like_zipkin, read_zipkin
from pytest_nectar.errors import CorpusError, Position
from pytest_nectar.limits import MAX_DATA_DEPTH, nesting_position

__all__ = ["FORMATS", "IngestOptions", "iter_chunks", "read_file"]

FORMATS: Final = ("otlp", "jaeger", "zipkin", "honeycomb")
_EXPECTED: Final = "expected OTLP JSON, Jaeger JSON, Zipkin v2 JSON or Honeycomb events"
#: JSON Lines files larger than this are parsed by worker processes, in chunks.
PARALLEL_BYTES = 16 * 1024 * 1024
#: A table's rows read at a time when it is built into partitions: ``chunk_bytes`` over this.
_TABLE_ROW_BYTES: Final = 256
#: Arrays and objects one JSON document (a file, or one line of JSON Lines) may hold.  Parsed,
#: each costs Python 56-200 bytes, so a 60 MB array of empty arrays took 2-4 GB to reject;
#: 4 million is about 160,000 OTLP spans in one document (JSON Lines has no such limit).
MAX_CONTAINERS: Final = 4_000_000


def too_many_containers(data: bytes) -> str | None:
    """Why ``data`` is refused before parsing (None: fine).  Counts brackets in strings too:
    an upper bound, so it never lets a denser document through."""
    if len(data) <= 2 * MAX_CONTAINERS:  # every container takes at least two bytes
        return None
    count = data.count(b"[") + data.count(b"{")
    if count <= MAX_CONTAINERS:
        return None
    return (
        f"JSON document too large to read: up to {count:,} arrays and objects (limit "
        f"{MAX_CONTAINERS:,})"
    )


@dataclass(frozen=True)
class IngestOptions:
    """Reading options that change the corpus (they are part of its digest)."""

    fmt: str | None = None
    skip_bad: bool = False
    json_ints: bool = False
    #: (Nectar's name, the table's column name) for Parquet/Arrow tables with other names.
    columns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FileResult:
    """The chunks of one file."""

    chunks: list[PartialTable]


def _keys(doc: object) -> str:
    if isinstance(doc, dict):
        return "an object with keys " + ", ".join(sorted(doc)[:6])
    return f"a JSON {type(doc).__name__}"


def _reader_for(doc: object, fmt: str | None) -> Callable[[Any, ReadContext], None] | str:
    """The reader of a whole document, or the reason it is not a trace record."""
    if fmt == "otlp":
        return read_otlp
    if fmt == "jaeger":
        return read_jaeger
    if fmt == "zipkin":
        return read_zipkin
    if fmt == "honeycomb":
        return read_honeycomb_list if isinstance(doc, list) else read_honeycomb_event
    if isinstance(doc, dict):
        if any(key in doc for key in TRACE_KEYS):
            return read_otlp
        for key, signal in NON_TRACE_KEYS.items():
            if key in doc:
                return f"non-trace record (OTLP {signal})"
        if looks_like_jaeger(doc):
            return read_jaeger
        if looks_like_honeycomb(doc):
            return read_honeycomb_event
    elif isinstance(doc, list):
        if not doc:
            return read_zipkin
        if looks_like_zipkin(doc):
            return read_zipkin
        if all(looks_like_honeycomb(e) for e in doc[:8]):
            return read_honeycomb_list
    return ""


def _unknown(display: str, doc: object, line: int = 0) -> CorpusError:
    return CorpusError(
        f"unknown trace format; {_EXPECTED}",
        position=Position(display, line),
        got=_keys(doc),
        hint="force one with --format otlp|jaeger|zipkin|honeycomb",
    )


def _read_lines(data: bytes, display: str, opts: IngestOptions, first_line: int) -> PartialTable:
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
            reason = _json_reason(err)
            if not opts.skip_bad:
                table = buffer.finish(_count_lines(data, start, stop))
                table.error = (ctx.record, f"{reason}", _json_column(err, raw))
                return table
            ctx.skip(reason)
            continue
        reader = _reader_for(doc, opts.fmt)
        if isinstance(reader, str):
            if not reader:
                if not opts.skip_bad:
                    table = buffer.finish(_count_lines(data, start, stop))
                    table.error = (ctx.record, f"unknown trace format; {_EXPECTED}", _keys(doc))
                    return table
                reader = f"unknown trace format; got {_keys(doc)}"
            ctx.skip(reader)
            continue
        try:
            ctx.guard("", reader, doc, ctx)
        except FatalRecord as err:
            table = buffer.finish(_count_lines(data, start, stop))
            table.error = (err.record, err.what, err.got)
            return table
    return buffer.finish(_count_lines(data, start, stop))


def _line_bounds(data: bytes, start: int, stop: int) -> Iterator[tuple[int, int]]:
    """Where each line of ``data[start:stop]`` begins and ends (as ``split(b"\\n")`` cuts
    it, without a last empty line)."""
    while start < stop:
        end = data.find(b"\n", start, stop)
        if end < 0:
            end = stop
        yield start, end
        start = end + 1


def _count_lines(data: bytes, start: int, stop: int) -> int:
    return sum(1 for _ in _line_bounds(data, start, stop))


def _json_reason(err: ValueError | RecursionError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"invalid JSON: {err.msg} (column {err.colno})"
    if isinstance(err, UnicodeDecodeError):
        return "invalid UTF-8"
    if isinstance(err, RecursionError):
        return (
            "invalid JSON: nested deeper than Python's decoder reads "
            f"(Nectar reads {MAX_DATA_DEPTH} levels)"
        )
    # Python refuses to convert integers of over 4,300 digits; no trace field can hold one.
    return "invalid JSON: a number has too many digits"


def _json_column(err: ValueError | RecursionError, raw: bytes) -> int:
    if isinstance(err, json.JSONDecodeError):
        return err.colno
    if isinstance(err, RecursionError):
        where = nesting_position(raw.decode("utf-8", "replace"), MAX_DATA_DEPTH)
        return where[1] if where else 0
    return 0


def _chunk_job(path: str, start: int, stop: int, display: str, opts: IngestOptions) -> PartialTable:
    # Read, not memory-mapped: a file cut short while it is read gives a truncated last
    # line (a located error), where a mapping would kill the worker.  Parsing makes
    # millions of objects and no reference cycles: the cyclic collector would only walk
    # them again and again.
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(stop - start)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _read_lines(data, display, opts, 1)
    finally:
        if collecting:
            gc.enable()


def _chunk_bounds(path: Path, size: int, pieces: int) -> list[tuple[int, int]]:
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


def _first_value_then_more(data: bytes) -> bool:
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


def read_file(
    path: Path,
    display: str,
    opts: IngestOptions,
    *,
    workers: int = 0,
    chunk_bytes: int | None = None,
) -> FileResult:
    """Read one file into chunks; raise :class:`CorpusError` on bad input (unless skipping)."""
    return FileResult(
        list(read_chunks(path, display, opts, workers=workers, chunk_bytes=chunk_bytes))
    )


def read_chunks(
    path: Path,
    display: str,
    opts: IngestOptions,
    *,
    workers: int = 0,
    chunk_bytes: int | None = None,
) -> Iterator[PartialTable]:
    """The chunks :func:`read_file` gives, in order, each as soon as it is parsed: a big JSON
    Lines file's chunks are parsed by ``workers`` processes (0 = all cores) while the
    caller merges the ones before.  The first bad record (unless skipping) raises
    :class:`CorpusError` when its chunk's turn comes."""
    if chunk_bytes is None:
        chunk_bytes = PARALLEL_BYTES
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 20))
    if not head.strip():
        raise CorpusError(f"empty file; {_EXPECTED}", position=Position(display))
    container = sniff(head, size)
    if container in (PARQUET, ARROW):
        yield from _read_table(path, display, opts, container).chunks
        return
    if container == PROTO:
        yield from _proto_chunks(path, display, opts, size, workers, chunk_bytes)
        return
    if container:
        yield from _read_container(path, display, opts, container).chunks
        return
    lead = head.lstrip()[:1]
    if lead not in (b"{", b"["):
        raise CorpusError(
            f"not JSON; {_EXPECTED}",
            position=Position(display, 1, 1),
            got=head.strip()[:40].decode("utf-8", "replace"),
        )
    if _first_value_then_more(head if size <= len(head) else head + b"\n"):
        yield from _numbered(
            _jsonl_chunks(path, display, opts, size, workers, chunk_bytes), display
        )
        return
    yield from _read_document(path, display, opts).chunks


def _jsonl_chunks(
    path: Path, display: str, opts: IngestOptions, size: int, workers: int, chunk_bytes: int
) -> Iterator[PartialTable]:
    n_workers = workers or (os.cpu_count() or 1)
    if size <= chunk_bytes:
        yield _read_lines(path.read_bytes(), display, opts, 1)
        return
    if n_workers <= 1:  # one chunk in memory at a time: a 10 GB file never needs 10 GB
        bounds = _chunk_bounds(path, size, -(-size // chunk_bytes))
        for a, b in bounds:
            yield _chunk_job(str(path), a, b, display, opts)
        return
    # Equal chunks, a multiple of the workers: none waits alone for the last one.
    pieces = n_workers * max(4, -(-size // (chunk_bytes * 4 * n_workers)))
    bounds = _chunk_bounds(path, size, pieces)
    pool = ProcessPoolExecutor(n_workers, mp_context=get_context("fork"))
    try:
        futures = [pool.submit(_chunk_job, str(path), a, b, display, opts) for a, b in bounds]
        for future in futures:
            yield future.result()
    finally:  # a bad line (or a caller that stops) need not wait for the chunks after it
        pool.shutdown(wait=True, cancel_futures=True)


def _finish_lines(chunks: list[PartialTable], display: str) -> FileResult:
    """Number the chunks' records as lines of the whole file; the first error stops the read."""
    return FileResult(list(_numbered(chunks, display)))


def _numbered(chunks: Iterable[PartialTable], display: str) -> Iterator[PartialTable]:
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


def iter_chunks(
    path: Path,
    display: str,
    opts: IngestOptions,
    *,
    chunk_bytes: int | None = None,
    workers: int = 1,
) -> Iterator[PartialTable]:
    """The events :func:`read_file` gives, read and parsed a chunk at a time, in order.

    JSON Lines, plain or compressed, is read ``chunk_bytes`` (plain) or one block
    (compressed) at a time, and a Parquet or Arrow table about ``chunk_bytes / 256`` rows at
    a time, so only a few chunks are ever in memory: what a build with bounded memory
    (``parts_build.py``) reads.  ``workers`` (0 = all cores) parse a plain file's chunks in
    worker processes, at most two per worker ahead of the reader.  Other files (one JSON
    document, protobuf) are read whole, as :func:`read_file` does.
    """
    chunk_bytes = chunk_bytes or PARALLEL_BYTES
    kind = _lines_kind(path)
    if kind is None:
        table = _table_kind(path)
        if table is not None:
            # About as many events as chunk_bytes of JSON Lines hold.
            rows = max(1, chunk_bytes // _TABLE_ROW_BYTES)
            yield from _numbered(_table_chunks(path, display, opts, table, rows), display)
            return
        yield from read_chunks(path, display, opts, workers=1, chunk_bytes=chunk_bytes)
        return
    if kind in (GZIP, ZSTD):
        blocks = _decompressed_blocks(path, kind)
        yield from _numbered((_read_lines(b, display, opts, 1) for b in blocks), display)
        return
    size = path.stat().st_size
    bounds = _chunk_bounds(path, size, max(1, -(-size // chunk_bytes)))
    n_workers = min(workers or (os.cpu_count() or 1), len(bounds))
    parsed: Iterator[PartialTable]
    if n_workers <= 1:
        parsed = (_chunk_job(str(path), a, b, display, opts) for a, b in bounds)
    else:
        parsed = _parallel_chunks(path, bounds, display, opts, n_workers)
    yield from _numbered(parsed, display)


def _parallel_chunks(
    path: Path,
    bounds: list[tuple[int, int]],
    display: str,
    opts: IngestOptions,
    workers: int,
) -> Iterator[PartialTable]:
    """Chunks parsed by ``workers`` processes, in order, with a bounded number in flight."""
    todo = iter(bounds)
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        pending: deque[Future[PartialTable]] = deque()
        for a, b in itertools.islice(todo, 2 * workers):
            pending.append(pool.submit(_chunk_job, str(path), a, b, display, opts))
        while pending:
            chunk = pending.popleft().result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.submit(_chunk_job, str(path), *nxt, display, opts))
            yield chunk


def _lines_kind(path: Path) -> str | None:
    """``""`` for a plain JSON Lines file, ``gzip``/``zstd`` for a compressed one, None for
    anything else (read whole)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 20))
    container = sniff(head, size)
    if container in (GZIP, ZSTD):
        with open_decompressed(path, container) as stream:
            first = stream.read(1 << 20)
        if sniff(first, 1 << 62) or not _first_value_then_more(
            first if len(first) < 1 << 20 else first + b"\n"
        ):
            return None
        return container
    if container or head.lstrip()[:1] not in (b"{", b"["):
        return None
    if not _first_value_then_more(head if size <= len(head) else head + b"\n"):
        return None
    return ""


def _table_kind(path: Path) -> str | None:
    """``parquet`` or ``arrow`` for a table file, None for anything else."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 20))
    container = sniff(head, size)
    return container if container in (PARQUET, ARROW) else None


def _decompressed_blocks(path: Path, kind: str) -> Iterator[bytes]:
    with open_decompressed(path, kind) as stream:
        yield from read_blocks(stream)


def _read_document(path: Path, display: str, opts: IngestOptions) -> FileResult:
    return _document(path.read_bytes(), display, opts)


def _document(data: bytes, display: str, opts: IngestOptions) -> FileResult:
    dense = too_many_containers(data)
    if dense is not None:
        raise CorpusError(
            dense,
            position=Position(display),
            got=f"{len(data):,} bytes",
            hint="split it into several files, or write JSON Lines (one document per line)",
        )
    buffer = RowBuffer()
    ctx = ReadContext(buffer, skip_bad=opts.skip_bad, json_ints=opts.json_ints)
    if opts.fmt in (None, "otlp") and FastOtlp(ctx).read(data):
        return FileResult([buffer.finish(1)])
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as err:
        raise CorpusError(
            f"invalid JSON: {err.msg}",
            position=Position(display, err.lineno, err.colno),
            hint="the file may be truncated",
        ) from None
    except UnicodeDecodeError:
        raise CorpusError("invalid UTF-8", position=Position(display)) from None
    except RecursionError:
        deep = nesting_position(data.decode("utf-8", "replace"), MAX_DATA_DEPTH)
        raise CorpusError(
            "invalid JSON: nested deeper than Python's decoder reads",
            position=Position(display, *deep) if deep else Position(display),
            hint=f"Nectar reads trace records nested at most {MAX_DATA_DEPTH} levels deep",
        ) from None
    except ValueError as err:  # Python's 4,300-digit limit on integers
        raise CorpusError(
            "invalid JSON: a number has too many digits",
            position=Position(display),
            got=str(err).split(":")[0],
            hint="no trace field holds an integer of over 4,300 digits",
        ) from None
    reader = _reader_for(doc, opts.fmt)
    if isinstance(reader, str):
        if not reader:
            raise _unknown(display, doc)
        ctx.skip(reader)
        return FileResult([buffer.finish(1)])
    try:
        try:
            reader(doc, ctx)
        except BadRecord as err:  # the document as a whole has the wrong shape
            ctx.guard("", _raiser(err))
    except FatalRecord as err:
        where = f"record {err.record}: " if err.record else ""
        raise CorpusError(
            where + err.what,
            position=Position(display),
            got=err.got,
            hint="--skip-bad skips bad records",
        ) from None
    return FileResult([buffer.finish(1)])


def _raiser(err: BadRecord) -> Callable[[], None]:
    def fail() -> None:
        raise err

    return fail


def _read_container(path: Path, display: str, opts: IngestOptions, kind: str) -> FileResult:
    """A compressed file (its content read as if it were not) or length-delimited protobuf."""
    inner = PROTO
    if kind != PROTO:
        with open_decompressed(path, kind) as stream:
            head = stream.read(1 << 16)
        if not head.strip():
            raise CorpusError(f"empty {kind} file; {_EXPECTED}", position=Position(display))
        inner = sniff(head, 1 << 62)
        if inner != PROTO and head.lstrip()[:1] not in (b"{", b"["):
            raise CorpusError(
                f"not JSON or OTLP protobuf inside {kind}; {_EXPECTED}",
                position=Position(display),
                got=head.strip()[:40].decode("utf-8", "replace"),
            )
    with open_decompressed(path, kind) as stream:
        if inner == PROTO:
            return _read_proto(stream, display, opts)
        first = stream.read(1 << 20)
        if not _first_value_then_more(first if len(first) < 1 << 20 else first + b"\n"):
            return _document(first + stream.read(), display, opts)
        with open_decompressed(path, kind) as again:  # one block of lines at a time
            chunks = [_read_lines(block, display, opts, 1) for block in read_blocks(again)]
        return _finish_lines(chunks, display)


def _read_proto(stream: IO[bytes], display: str, opts: IngestOptions) -> FileResult:
    """Length-delimited messages; record numbers are message numbers (from 1)."""
    return FileResult([_checked(_proto_table(stream, opts, 1), display)])


def _proto_table(stream: IO[bytes], opts: IngestOptions, first: int) -> PartialTable:
    """Messages numbered from ``first``: common spans take the batch path (``otlp_proto``),
    the rest the exact reading.  The first bad message (unless skipping) is the table's
    error, and the last message read."""
    buffer = RowBuffer()
    ctx = ReadContext(buffer, skip_bad=opts.skip_bad, json_ints=opts.json_ints)
    ctx.record = first - 1
    batch = ProtoBatch(ctx).read
    # As in _chunk_job: millions of objects (protobuf's wrappers among them), no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            for index, payload in enumerate(proto_messages(stream), first):
                ctx.record = index
                if payload.lstrip()[:1] in (b"{", b"["):  # OTLP JSON in a zstd frame
                    _one_json_record(payload, ctx, opts)
                    continue
                try:
                    message = parse_request(payload, index)
                except ProtoError as err:
                    ctx.guard("", _raiser(BadRecord(err.what, f"{len(payload)} bytes")))
                    continue
                if not batch(message):
                    ctx.guard("", read_otlp, request_dict(message), ctx)
        except ProtoError as err:  # the stream ends inside a message: nothing follows
            ctx.record = first - 1 + err.message
            ctx.guard("", _raiser(BadRecord(err.what, "end of file")))
    except FatalRecord as err:
        table = buffer.finish(ctx.record)
        table.error = (err.record, err.what, err.got)
        return table
    finally:
        if collecting:
            gc.enable()
    return buffer.finish(ctx.record)


def _checked(table: PartialTable, display: str) -> PartialTable:
    if table.error is not None:
        record, what, got = table.error
        raise CorpusError(
            f"message {record}: {what}",
            position=Position(display),
            got=got,
            hint="--skip-bad skips bad records",
        )
    return table


def _proto_chunks(
    path: Path, display: str, opts: IngestOptions, size: int, workers: int, chunk_bytes: int
) -> Iterator[PartialTable]:
    """A length-delimited file, cut between messages into chunks that ``workers`` processes
    read while the caller merges the ones before (as JSON Lines chunks are)."""
    n_workers = workers or (os.cpu_count() or 1)
    if n_workers <= 1 or size <= chunk_bytes:
        with open(path, "rb") as stream:
            yield from _read_proto(stream, display, opts).chunks
        return
    pieces = n_workers * max(4, -(-size // (chunk_bytes * 4 * n_workers)))
    parse_request(b"", 0)  # protobuf's classes imported once, before the workers fork
    pool = ProcessPoolExecutor(n_workers, mp_context=get_context("fork"))
    try:
        futures = [
            pool.submit(_proto_chunk_job, str(path), start, stop, first, opts)
            for start, stop, first in _proto_cuts(path, size, pieces)
        ]
        for future in futures:
            yield _checked(future.result(), display)
    finally:  # a bad message (or a caller that stops) need not wait for the chunks after it
        pool.shutdown(wait=True, cancel_futures=True)


def _proto_cuts(path: Path, size: int, pieces: int) -> list[tuple[int, int, int]]:
    """(start, stop, number of the first message) of about ``pieces`` runs of whole
    messages; the last run ends at the end of the file (a message cut short is its last)."""
    ends = [0]
    with open(path, "rb") as fh:
        while ends[-1] + 4 <= size:
            fh.seek(ends[-1])
            (length,) = struct.unpack(">I", fh.read(4))
            if ends[-1] + 4 + length > size:
                break
            ends.append(ends[-1] + 4 + length)
    cuts = [0]
    for i in range(1, pieces):
        at = ends[min(bisect.bisect_left(ends, size * i // pieces), len(ends) - 1)]
        if cuts[-1] < at < size:
            cuts.append(at)
    bounds = [*cuts, size] if cuts[-1] < size else cuts
    return [(a, b, bisect.bisect_left(ends, a) + 1) for a, b in itertools.pairwise(bounds)]


def _proto_chunk_job(
    path: str, start: int, stop: int, first: int, opts: IngestOptions
) -> PartialTable:
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(stop - start)
    return _proto_table(io.BytesIO(data), opts, first)


def _one_json_record(payload: bytes, ctx: ReadContext, opts: IngestOptions) -> None:
    dense = too_many_containers(payload)
    if dense is not None:
        ctx.guard("", _raiser(BadRecord(dense, f"{len(payload):,} bytes")))
        return
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        ctx.guard("", _raiser(BadRecord(_json_reason(err), "")))
        return
    reader = _reader_for(doc, opts.fmt)
    if isinstance(reader, str):
        ctx.skip(reader or f"unknown trace format; got {_keys(doc)}")
        return
    ctx.guard("", reader, doc, ctx)


def _read_table(path: Path, display: str, opts: IngestOptions, kind: str) -> FileResult:
    """A Parquet or Arrow IPC table of flattened events; record numbers are row numbers."""
    with _table_errors(display, kind):
        return FileResult([read_table(path, kind, _table_context(opts), dict(opts.columns))])


def _table_chunks(
    path: Path, display: str, opts: IngestOptions, kind: str, rows: int
) -> Iterator[PartialTable]:
    """The table ``rows`` rows at a time (numbered in each: ``_numbered`` counts on)."""
    with _table_errors(display, kind):
        yield from iter_tables(path, kind, lambda: _table_context(opts), dict(opts.columns), rows)


def _table_context(opts: IngestOptions) -> ReadContext:
    ctx = ReadContext(RowBuffer(), skip_bad=opts.skip_bad, json_ints=opts.json_ints)
    ctx.fmt = FMT_TABLE
    return ctx


@contextlib.contextmanager
def _table_errors(display: str, kind: str) -> Iterator[None]:
    """pyarrow missing, a column Nectar cannot read, an unreadable file: located errors."""
    if importlib.util.find_spec("pyarrow") is None:  # an optional extra
        raise CorpusError(
            f"reading a {kind} table needs pyarrow",
            position=Position(display),
            hint="pip install 'pytest-nectar[tables]'",
        )
    try:
        yield
    except TableError as err:
        raise CorpusError(
            str(err),
            position=Position(display),
            hint="map other names with --columns (nectar corpus) or load_corpus(columns=...)",
        ) from None
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise CorpusError(f"unreadable {kind} file: {err}", position=Position(display)) from None
