"""One JSON document or record: which trace format it is, and its exact reader.

A file is one JSON document (an OTLP request, a Jaeger document, a Zipkin span list, a
Honeycomb event array) or JSON Lines, one record a line; either way each document is
recognised by its content unless a format is forced, and read by the exact reader of that
format (``otlp``, ``jaeger``, ``zipkin``, ``honeycomb``).  Documents that hold other OTLP
signals (metrics, logs, profiles) are skipped and counted.  The limits and messages every
way of reading shares are here: a document's container count, a JSON error's reason and
column.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.context import FatalRecord, ReadContext
from pytest_nectar.corpus.honeycomb import (
    looks_like_honeycomb,
    read_honeycomb_event,
    read_honeycomb_list,
)
from pytest_nectar.corpus.husky import BadRecord
from pytest_nectar.corpus.jaeger import looks_like_jaeger, read_jaeger
from pytest_nectar.corpus.otlp import NON_TRACE_KEYS, TRACE_KEYS, read_otlp
from pytest_nectar.corpus.otlp_fast import FastOtlp
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.zipkin import looks_like_zipkin, read_zipkin
from pytest_nectar.errors import CorpusError, Position
from pytest_nectar.limits import MAX_DATA_DEPTH, nesting_position

__all__ = [
    "EXPECTED",
    "FORMATS",
    "MAX_CONTAINERS",
    "IngestOptions",
    "json_column",
    "json_reason",
    "keys_of",
    "one_json_record",
    "raiser",
    "read_document",
    "read_json_document",
    "reader_for",
    "too_many_containers",
    "unknown_format",
]


FORMATS: Final = ("otlp", "jaeger", "zipkin", "honeycomb")


EXPECTED: Final = "expected OTLP JSON, Jaeger JSON, Zipkin v2 JSON or Honeycomb events"


#: Arrays and objects one JSON document (a file, or one line of JSON Lines) may hold.  Parsed,
#: each costs Python 56-200 bytes, so a 60 MB array of empty arrays took 2-4 GB to reject;
#: 4 million is about 160,000 OTLP spans in one document (JSON Lines has no such limit).
MAX_CONTAINERS: Final = 4_000_000


def too_many_containers(data: bytes | bytearray) -> str | None:
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


def keys_of(doc: object) -> str:
    if isinstance(doc, dict):
        return "an object with keys " + ", ".join(sorted(doc)[:6])
    return f"a JSON {type(doc).__name__}"


def reader_for(doc: object, fmt: str | None) -> Callable[[Any, ReadContext], None] | str:
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


def unknown_format(display: str, doc: object, line: int = 0) -> CorpusError:
    return CorpusError(
        f"unknown trace format; {EXPECTED}",
        position=Position(display, line),
        got=keys_of(doc),
        hint="force one with --format otlp|jaeger|zipkin|honeycomb",
    )


def json_reason(err: ValueError | RecursionError) -> str:
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


def json_column(err: ValueError | RecursionError, raw: bytes | bytearray) -> int:
    if isinstance(err, json.JSONDecodeError):
        return err.colno
    if isinstance(err, RecursionError):
        where = nesting_position(raw.decode("utf-8", "replace"), MAX_DATA_DEPTH)
        return where[1] if where else 0
    return 0


def read_document(path: Path, display: str, opts: IngestOptions) -> PartialTable:
    return read_json_document(path.read_bytes(), display, opts)


def read_json_document(data: bytes, display: str, opts: IngestOptions) -> PartialTable:
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
        return buffer.finish(1)
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
    reader = reader_for(doc, opts.fmt)
    if isinstance(reader, str):
        if not reader:
            raise unknown_format(display, doc)
        ctx.skip(reader)
        return buffer.finish(1)
    try:
        try:
            reader(doc, ctx)
        except BadRecord as err:  # the document as a whole has the wrong shape
            ctx.guard("", raiser(err))
    except FatalRecord as err:
        where = f"record {err.record}: " if err.record else ""
        raise CorpusError(
            where + err.what,
            position=Position(display),
            got=err.got,
            hint="--skip-bad skips bad records",
        ) from None
    return buffer.finish(1)


def raiser(err: BadRecord) -> Callable[[], None]:
    def fail() -> None:
        raise err

    return fail


def one_json_record(payload: bytes, ctx: ReadContext, opts: IngestOptions) -> None:
    dense = too_many_containers(payload)
    if dense is not None:
        ctx.guard("", raiser(BadRecord(dense, f"{len(payload):,} bytes")))
        return
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        ctx.guard("", raiser(BadRecord(json_reason(err), "")))
        return
    reader = reader_for(doc, opts.fmt)
    if isinstance(reader, str):
        ctx.skip(reader or f"unknown trace format; got {keys_of(doc)}")
        return
    ctx.guard("", reader, doc, ctx)
