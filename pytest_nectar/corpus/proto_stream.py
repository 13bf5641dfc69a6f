"""Length-delimited OTLP protobuf (the collector file exporter's ``format: proto``) in chunks.

Each message is an ``ExportTraceServiceRequest``; its spans take the batch path
(:mod:`.otlp_proto`), anything else the exact reading.  A big file is cut between whole
messages (their 4-byte sizes walked from the start) and read by worker processes as JSON
Lines is; records are message numbers from 1, whatever the cut.
"""

from __future__ import annotations

import bisect
import gc
import io
import itertools
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.containers import (
    ProtoError,
    parse_request,
    proto_messages,
    request_dict,
)
from pytest_nectar.corpus.context import FatalRecord, ReadContext
from pytest_nectar.corpus.documents import IngestOptions, one_json_record, raiser
from pytest_nectar.corpus.husky import BadRecord
from pytest_nectar.corpus.otlp import read_otlp
from pytest_nectar.corpus.otlp_proto import ProtoBatch
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.worker_pool import in_order
from pytest_nectar.errors import CorpusError, Position

__all__ = [
    "checked",
    "proto_chunk_job",
    "proto_chunks",
    "proto_cuts",
    "proto_table",
    "proto_tables",
    "read_proto",
]


def read_proto(
    stream: IO[bytes], display: str, opts: IngestOptions, chunk_bytes: int | None = None
) -> Iterator[PartialTable]:
    """Length-delimited messages, a chunk about every ``chunk_bytes`` of messages (None: one
    chunk); record numbers are message numbers (from 1)."""
    for table in proto_tables(stream, opts, 1, chunk_bytes):
        yield checked(table, display)


def proto_table(stream: IO[bytes], opts: IngestOptions, first: int) -> PartialTable:
    """The messages of ``stream`` as one table, numbered from ``first``."""
    return next(proto_tables(stream, opts, first))


def proto_tables(
    stream: IO[bytes], opts: IngestOptions, first: int, chunk_bytes: int | None = None
) -> Iterator[PartialTable]:
    """Messages numbered from ``first``, a table about every ``chunk_bytes`` of them (None:
    one table): common spans take the batch path (``otlp_proto``), the rest the exact
    reading.  The first bad message (unless skipping) is the last table's error."""
    messages: Iterator[tuple[int, bytes]] = enumerate(proto_messages(stream), first)
    last = first - 1
    while True:
        table, last, rest = _proto_run(messages, opts, first, last, chunk_bytes)
        yield table
        if rest is None or table.error is not None:
            return
        messages = rest


def _proto_run(
    messages: Iterator[tuple[int, bytes]],
    opts: IngestOptions,
    first: int,
    last: int,
    budget: int | None,
) -> tuple[PartialTable, int, Iterator[tuple[int, bytes]] | None]:
    """One table of messages (about ``budget`` bytes of them), the last message number, and
    the messages left (None: there are none)."""
    buffer = RowBuffer()
    ctx = ReadContext(buffer, skip_bad=opts.skip_bad, json_ints=opts.json_ints)
    ctx.record = last
    batch = ProtoBatch(ctx).read
    read = 0
    rest: Iterator[tuple[int, bytes]] | None = None
    # As in chunk_job: millions of objects (protobuf's wrappers among them), no cycles.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            for index, payload in messages:
                ctx.record = index
                read += len(payload)
                _read_message(payload, index, ctx, opts, batch)
                if budget is not None and read >= budget:
                    following = next(messages, None)
                    if following is not None:
                        rest = itertools.chain([following], messages)
                    break
        except ProtoError as err:  # the stream ends inside a message: nothing follows
            ctx.record = first - 1 + err.message  # counted from the stream's start
            ctx.guard("", raiser(BadRecord(err.what, "end of file")))
            rest = None
    except FatalRecord as err:
        table = buffer.finish(ctx.record)
        table.error = (err.record, err.what, err.got)
        return table, ctx.record, None
    finally:
        if collecting:
            gc.enable()
    return buffer.finish(ctx.record), ctx.record, rest


def _read_message(
    payload: bytes, index: int, ctx: ReadContext, opts: IngestOptions, batch: Any
) -> None:
    if payload.lstrip()[:1] in (b"{", b"["):  # OTLP JSON in a zstd frame
        one_json_record(payload, ctx, opts)
        return
    try:
        message = parse_request(payload, index)
    except ProtoError as err:
        ctx.guard("", raiser(BadRecord(err.what, f"{len(payload)} bytes")))
        return
    if not batch(message):
        ctx.guard("", read_otlp, request_dict(message), ctx)


def checked(table: PartialTable, display: str) -> PartialTable:
    if table.error is not None:
        record, what, got = table.error
        raise CorpusError(
            f"message {record}: {what}",
            position=Position(display),
            got=got,
            hint="--skip-bad skips bad records",
        )
    return table


def proto_chunks(
    path: Path, display: str, opts: IngestOptions, size: int, workers: int, chunk_bytes: int
) -> Iterator[PartialTable]:
    """A length-delimited file, cut between messages into chunks that ``workers`` processes
    read while the caller merges the ones before (as JSON Lines chunks are)."""
    n_workers = workers or (os.cpu_count() or 1)
    if n_workers <= 1 or size <= chunk_bytes:
        with open(path, "rb") as stream:
            yield from read_proto(stream, display, opts)
        return
    pieces = n_workers * max(4, -(-size // (chunk_bytes * 4 * n_workers)))
    parse_request(b"", 0)  # protobuf's classes imported once, before the workers fork
    calls = ((str(path), *cut, opts) for cut in proto_cuts(path, size, pieces))
    for table in in_order(proto_chunk_job, calls, n_workers):
        yield checked(table, display)


def proto_cuts(path: Path, size: int, pieces: int) -> list[tuple[int, int, int]]:
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


def proto_chunk_job(
    path: str, start: int, stop: int, first: int, opts: IngestOptions
) -> PartialTable:
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(stop - start)
    return proto_table(io.BytesIO(data), opts, first)
