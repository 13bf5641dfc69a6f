"""Reading trace files: what a file holds, and its chunks in order.

A file is one JSON document (:mod:`.documents`), JSON Lines (:mod:`.json_lines`: one OTLP
request or Honeycomb event a line, as the collector's file exporter writes),
length-delimited OTLP protobuf (:mod:`.proto_stream`), any of these compressed with gzip or
zstd, or a Parquet or Arrow table of flattened events (:mod:`.arrow_table`); the content
decides, not the name.  :func:`read_chunks` gives a file's chunks in order, each as soon as
it is parsed (big JSON Lines and protobuf files by worker processes), so the result does
not depend on the number of workers; :func:`iter_chunks` gives them with bounded memory, for
a build into partitions.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pytest_nectar.corpus.arrow_table import TableError, iter_tables, read_table
from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.containers import (
    ARROW,
    GZIP,
    PARQUET,
    PROTO,
    ZSTD,
    open_decompressed,
    sniff,
)
from pytest_nectar.corpus.context import FMT_TABLE, ReadContext
from pytest_nectar.corpus.documents import (
    EXPECTED,
    FORMATS,
    IngestOptions,
    read_document,
    read_json_document,
)
from pytest_nectar.corpus.json_lines import (
    chunk_bounds,
    decompressed_blocks,
    first_value_then_more,
    jsonl_chunks,
    numbered,
    parsed_chunks,
    read_lines,
)
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.proto_stream import (
    checked,
    proto_chunk_job,
    proto_chunks,
    proto_cuts,
    read_proto,
)
from pytest_nectar.errors import CorpusError, Position

__all__ = ["FORMATS", "IngestOptions", "iter_chunks", "read_chunks", "read_file"]

#: JSON Lines files larger than this are parsed by worker processes, in chunks.
PARALLEL_BYTES = 16 * 1024 * 1024
#: A table's rows read at a time when it is built into partitions: ``chunk_bytes`` over this.
_TABLE_ROW_BYTES: Final = 256
#: What :func:`_what` says of a file that is not a container.
_LINES: Final = "json lines"
_DOCUMENT: Final = "json document"


@dataclass(frozen=True)
class FileResult:
    """The chunks of one file."""

    chunks: list[PartialTable]


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
    size, kind = _what(path, display)
    if kind in (PARQUET, ARROW):
        with _table_errors(display, kind):  # the table as one chunk (as read whole)
            yield read_table(path, kind, _table_context(opts), dict(opts.columns))
    elif kind == PROTO:
        yield from proto_chunks(path, display, opts, size, workers, chunk_bytes)
    elif kind in (GZIP, ZSTD):
        yield from _compressed_chunks(path, display, opts, kind, chunk_bytes)
    elif kind == _LINES:
        yield from numbered(jsonl_chunks(path, display, opts, size, workers, chunk_bytes), display)
    else:
        yield read_document(path, display, opts)


def _what(path: Path, display: str) -> tuple[int, str]:
    """The file's size and what it holds: a container (:func:`~.containers.sniff`), JSON
    Lines or one JSON document, from its first megabyte.

    Raises:
        CorpusError: an empty file, or one that is none of these.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 20))
    if not head.strip():
        raise CorpusError(f"empty file; {EXPECTED}", position=Position(display))
    container = sniff(head, size)
    if container:
        return size, container
    if head.lstrip()[:1] not in (b"{", b"["):
        raise CorpusError(
            f"not JSON; {EXPECTED}",
            position=Position(display, 1, 1),
            got=head.strip()[:40].decode("utf-8", "replace"),
        )
    if first_value_then_more(head if size <= len(head) else head + b"\n"):
        return size, _LINES
    return size, _DOCUMENT


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
    (compressed) at a time, protobuf (plain or compressed) about ``chunk_bytes`` of whole
    messages at a time, and a Parquet or Arrow table about ``chunk_bytes / 256`` rows at a
    time, so only a few chunks are ever in memory: what a build with bounded memory
    (``parts_build.py``) reads.  ``workers`` (0 = all cores) parse a plain JSON Lines file's
    chunks in worker processes, at most two per worker ahead of the reader.  A file of one
    JSON document is read whole, as :func:`read_file` does.
    """
    chunk_bytes = chunk_bytes or PARALLEL_BYTES
    size, kind = _what(path, display)
    if kind in (PARQUET, ARROW):
        # About as many events as chunk_bytes of JSON Lines hold.
        rows = max(1, chunk_bytes // _TABLE_ROW_BYTES)
        yield from numbered(_table_chunks(path, display, opts, kind, rows), display)
        return
    if kind == PROTO:  # runs of whole messages, numbered from their first
        for start, stop, first in proto_cuts(path, size, -(-size // chunk_bytes)):
            yield checked(proto_chunk_job(str(path), start, stop, first, opts), display)
        return
    if kind in (GZIP, ZSTD):  # a block of lines or a run of messages at a time
        yield from _compressed_chunks(path, display, opts, kind, chunk_bytes)
        return
    if kind == _DOCUMENT:
        yield read_document(path, display, opts)
        return
    bounds = chunk_bounds(path, size, max(1, -(-size // chunk_bytes)))
    yield from numbered(parsed_chunks(path, bounds, display, opts, workers), display)


def _compressed_chunks(
    path: Path, display: str, opts: IngestOptions, kind: str, chunk_bytes: int
) -> Iterator[PartialTable]:
    """A gzip or zstd file, its content read as if it were not compressed."""
    with open_decompressed(path, kind) as stream:
        head = stream.read(1 << 16)
    if not head.strip():
        raise CorpusError(f"empty {kind} file; {EXPECTED}", position=Position(display))
    inner = sniff(head, 1 << 62)
    if inner != PROTO and head.lstrip()[:1] not in (b"{", b"["):
        raise CorpusError(
            f"not JSON or OTLP protobuf inside {kind}; {EXPECTED}",
            position=Position(display),
            got=head.strip()[:40].decode("utf-8", "replace"),
        )
    with open_decompressed(path, kind) as stream:
        if inner == PROTO:  # a run of messages at a time, as they are decompressed
            yield from read_proto(stream, display, opts, chunk_bytes)
            return
        first = stream.read(1 << 20)
        if not first_value_then_more(first if len(first) < 1 << 20 else first + b"\n"):
            yield read_json_document(first + stream.read(), display, opts)
            return
    # JSON Lines: one decompressed block of lines at a time.
    yield from numbered(
        (read_lines(b, display, opts, 1) for b in decompressed_blocks(path, kind)), display
    )


def _table_chunks(
    path: Path, display: str, opts: IngestOptions, kind: str, rows: int
) -> Iterator[PartialTable]:
    """The table ``rows`` rows at a time (numbered in each: ``numbered`` counts on)."""
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
