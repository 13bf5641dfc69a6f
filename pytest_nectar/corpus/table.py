"""The columnar corpus: Refinery events as numpy arrays, one sparse column per field.

This module is a contract.  The vectorised evaluator and the prover read these arrays
directly, so the layout is fixed and documented here.

Rows
    Every row is one event as Refinery sees it: a span, a span event or a link, flattened
    the way Husky does (``husky.py``).  Rows are grouped by trace: the rows of trace ``t``
    are ``trace_offsets[t]:trace_offsets[t + 1]``.  Traces are ordered by first appearance
    in the input; inside a trace, rows keep their arrival order (for one OTLP span: its
    span events, then its links, then the span itself).  ``?.NUM_DESCENDANTS`` of a trace
    is therefore ``trace_offsets[t + 1] - trace_offsets[t]``.

Columns
    A :class:`Column` holds only the rows where its field is present (a field explicitly
    set to null is present, with kind :data:`KIND_NULL`).  ``rows`` is sorted ascending.
    Each entry has a kind tag, and its value is in the array that kind selects:

    =============  =============================================================
    kind           value
    =============  =============================================================
    KIND_NULL      ``None`` (Go nil)
    KIND_BOOL      ``ints`` holds 0 or 1
    KIND_INT       ``ints`` holds the int64; ``floats`` holds ``float64(value)``
    KIND_FLOAT     ``floats`` holds the float64
    KIND_STRING    ``codes`` indexes ``strings`` (the column's dictionary)
    KIND_OTHER     ``others[i]``: a list or dict (Honeycomb JSON API only)
    =============  =============================================================

    Unused slots are 0 (``ints``/``floats``) or -1 (``codes``).  ``floats`` of an int
    entry is Go's ``float64(a)`` (rounded above 2**53), the conversion untyped
    ``compare()`` applies, so numeric comparisons can run on ``floats`` alone.

Everything here is immutable: arrays may be read-only memory maps of the on-disk cache.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Protocol, overload

import numpy as np
import numpy.typing as npt

from pytest_nectar.trace import Span, Trace

__all__ = [
    "KIND_BOOL",
    "KIND_FLOAT",
    "KIND_INT",
    "KIND_NAMES",
    "KIND_NULL",
    "KIND_OTHER",
    "KIND_STRING",
    "Column",
    "Corpus",
    "Skipped",
    "StringPool",
    "TraceIds",
    "TraceTable",
]

KIND_NULL: Final = 1
KIND_BOOL: Final = 2
KIND_INT: Final = 3
KIND_FLOAT: Final = 4
KIND_STRING: Final = 5
KIND_OTHER: Final = 6

#: Human names of the kinds, as the summary and error messages print them.
KIND_NAMES: Final[Mapping[int, str]] = {
    KIND_NULL: "null",
    KIND_BOOL: "bool",
    KIND_INT: "int",
    KIND_FLOAT: "float",
    KIND_STRING: "string",
    KIND_OTHER: "other",
}

Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
UInt8Array = npt.NDArray[np.uint8]
Float64Array = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class StringPool(Sequence[str]):
    """A column's string dictionary: one UTF-8 buffer and ``n + 1`` byte offsets.

    It is a ``Sequence[str]`` (index, ``len``, iterate).  The strings are decoded once, on
    first use, so loading a cached corpus does not pay for dictionaries nobody reads.
    :meth:`index_of` looks a string up without a scan.
    """

    __slots__ = ("__dict__", "buffer", "offsets")

    def __init__(self, buffer: bytes | npt.NDArray[np.uint8], offsets: Int64Array) -> None:
        self.buffer = buffer
        self.offsets = offsets

    @classmethod
    def from_strings(cls, strings: Sequence[str]) -> StringPool:
        offsets = np.zeros(len(strings) + 1, dtype=np.int64)
        text = "".join(strings)
        if text.isascii():  # one encode; a character is a byte
            buffer = text.encode("ascii")
            lengths: Iterable[int] = map(len, strings)
        else:
            encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
            buffer = b"".join(encoded)
            lengths = map(len, encoded)
        if strings:
            np.cumsum(np.fromiter(lengths, dtype=np.int64, count=len(strings)), out=offsets[1:])
        pool = cls(buffer, offsets)
        pool.__dict__["values"] = tuple(strings)
        return pool

    @cached_property
    def values(self) -> tuple[str, ...]:
        """All strings, decoded."""
        raw = bytes(self.buffer)
        bounds = self.offsets.tolist()
        if raw.isascii():
            text = raw.decode("ascii")
            return tuple(text[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1))
        return tuple(
            raw[bounds[i] : bounds[i + 1]].decode("utf-8", "surrogatepass")
            for i in range(len(bounds) - 1)
        )

    @cached_property
    def _lookup(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.values)}

    @cached_property
    def in_order(self) -> tuple[list[str], Int64Array]:
        """The strings sorted (code point order) and their codes: a prefix is a range."""
        codes = sorted(range(len(self.values)), key=self.values.__getitem__)
        return [self.values[c] for c in codes], np.array(codes, dtype=np.int64)

    def index_of(self, value: str) -> int:
        """The code of ``value`` in this dictionary, or -1 when no row holds it."""
        return self._lookup.get(value, -1)

    def as_array(self) -> npt.NDArray[np.object_]:
        """The strings as a numpy object array (for vectorised string operations)."""
        out = np.empty(len(self), dtype=object)
        out[:] = self.values
        return out

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self.values[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StringPool):
            return self.values == other.values
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StringPool({len(self)} strings)"


class TraceIds(Sequence[str]):
    """Trace ids in one UTF-8 buffer with ``n + 1`` byte offsets, decoded one at a time.

    A day of traffic holds tens of millions of traces: as Python strings their ids cost
    about 90 bytes each, packed about 40 (a 32-digit hex id and its offset).  Equal to any
    sequence of the same strings.
    """

    __slots__ = ("buffer", "offsets")

    def __init__(self, buffer: bytes, offsets: Int64Array) -> None:
        self.buffer = buffer
        self.offsets = offsets

    @staticmethod
    def pack(ids: Sequence[str]) -> tuple[bytes, Int64Array]:
        """``ids`` as one UTF-8 buffer and each id's length in bytes (for :meth:`gather`)."""
        text = "".join(ids)
        if text.isascii():
            lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
            return text.encode("ascii"), lengths
        encoded = [s.encode("utf-8", "surrogatepass") for s in ids]
        return b"".join(encoded), np.fromiter(map(len, encoded), np.int64, len(encoded))

    @classmethod
    def gather(cls, pieces: Sequence[tuple[bytes, Int64Array]], order: Int64Array) -> TraceIds:
        """The ids of the packed ``pieces`` (concatenated) taken in ``order``."""
        lengths = np.concatenate([n for _, n in pieces]) if pieces else np.zeros(0, dtype=np.int64)
        offsets = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(lengths[order], out=offsets[1:])
        joined = b"".join(b for b, _ in pieces)
        if len(lengths) and lengths[0] > 0 and bool((lengths == lengths[0]).all()):
            # One width (hex ids): a row per id, reordered at once.
            rows = np.frombuffer(joined, dtype=np.uint8).reshape(len(lengths), -1)
            return cls(rows[order].tobytes(), offsets)
        starts = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        bounds = starts.tolist()
        return cls(b"".join([joined[bounds[i] : bounds[i + 1]] for i in order.tolist()]), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"trace index {index} out of range")
        lo, hi = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.buffer[lo:hi].decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of ``value`` (a scan of the buffer, no index kept)."""
        needle = str(value).encode("utf-8", "surrogatepass")
        at = int(self.offsets[start]) if 0 < start < len(self) else 0
        end = len(self) if stop is None else min(stop, len(self))
        while True:
            found = self.buffer.find(needle, at) if needle else -1
            if found < 0:
                break
            i = int(np.searchsorted(self.offsets, found, side="right")) - 1
            whole = int(self.offsets[i]) == found and int(self.offsets[i + 1]) == found + len(
                needle
            )
            if whole and start <= i < end:
                return i
            at = found + 1
        if not needle:  # an empty id: compare the offsets
            empty = np.flatnonzero(np.diff(self.offsets) == 0)
            for i in empty.tolist():
                if start <= i < end:
                    return int(i)
        raise ValueError(f"{value!r} is not a trace id here")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TraceIds):
            return self.buffer == other.buffer and bool(np.array_equal(self.offsets, other.offsets))
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TraceIds({len(self)} ids)"


@dataclass(frozen=True, eq=False)
class Column:
    """One field over the whole corpus, sparse: only the rows where the field is present.

    Arrays all have length ``k`` (entries), ``rows`` is sorted ascending.  See the module
    docstring for which array holds the value of each kind.
    """

    name: str
    rows: Int64Array
    kind: UInt8Array
    ints: Int64Array
    floats: Float64Array
    codes: Int32Array
    strings: StringPool
    #: Entry index -> list or dict, for KIND_OTHER entries (Honeycomb JSON objects/arrays).
    others: Mapping[int, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def value_at(self, entry: int) -> object:
        """The exact Python value of entry ``entry`` (an index into ``rows``, not a row)."""
        kind = int(self.kind[entry])
        if kind == KIND_STRING:
            return self.strings[int(self.codes[entry])]
        if kind == KIND_INT:
            return int(self.ints[entry])
        if kind == KIND_FLOAT:
            return float(self.floats[entry])
        if kind == KIND_BOOL:
            return bool(self.ints[entry])
        if kind == KIND_NULL:
            return None
        return self.others[entry]

    def values_between(self, start: int, stop: int) -> list[tuple[int, object]]:
        """``(row, value)`` for the entries whose row is in ``[start, stop)``."""
        lo = int(np.searchsorted(self.rows, start, side="left"))
        hi = int(np.searchsorted(self.rows, stop, side="left"))
        return [(int(self.rows[i]), self.value_at(i)) for i in range(lo, hi)]

    def kind_counts(self) -> dict[str, int]:
        """How many entries have each kind, by kind name (for summaries and warnings)."""
        counts = np.bincount(self.kind, minlength=KIND_OTHER + 1)
        return {KIND_NAMES[k]: int(counts[k]) for k in KIND_NAMES if counts[k]}


class _KindCounts(Mapping[str, Mapping[str, int]]):
    """Column kind counts by field name, each computed on first use (lints read a few)."""

    def __init__(self, columns: Mapping[str, Column]) -> None:
        self._columns = columns
        self._counted: dict[str, Mapping[str, int]] = {}

    def __getitem__(self, name: str) -> Mapping[str, int]:
        found = self._counted.get(name)
        if found is None:
            found = self._counted[name] = self._columns[name].kind_counts()
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not in the corpus, and why (never a silent drop)."""

    path: str
    record: int  # 1-based line number for JSON Lines, record index otherwise; 0 = whole file
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.record}" if self.record else self.path
        return f"{where}: {self.reason}"


class TraceTable(Protocol):
    """A corpus as the proofs read it: per trace and per field, never per row.

    :class:`Corpus` (rows in memory or memory-mapped) and
    :class:`~pytest_nectar.corpus.parts.PartedCorpus` (rows in partitions on disk, read one
    partition at a time) both are one; arrays are in corpus order.
    """

    @property
    def trace_ids(self) -> Sequence[str]: ...
    @property
    def trace_offsets(self) -> Int64Array: ...
    @property
    def trace_start(self) -> Float64Array: ...
    @property
    def trace_end(self) -> Float64Array: ...
    @property
    def weight(self) -> Float64Array: ...
    @property
    def must_keep(self) -> BoolArray: ...
    @property
    def must_keep_reasons(self) -> Mapping[int, str]: ...
    @property
    def has_root(self) -> BoolArray: ...
    @property
    def field_kinds(self) -> Mapping[str, Mapping[str, int]]: ...
    @property
    def digest(self) -> str: ...
    @property
    def skipped(self) -> tuple[Skipped, ...]: ...
    @property
    def sources(self) -> tuple[str, ...]: ...
    @property
    def formats(self) -> Mapping[str, int]: ...
    @property
    def must_keep_unmatched(self) -> tuple[str, ...]: ...
    @property
    def n_traces(self) -> int: ...
    @property
    def n_rows(self) -> int: ...
    @property
    def duration_s(self) -> float: ...
    def trace(self, index: int) -> Trace: ...
    def trace_index(self, trace_id: str) -> int: ...


@dataclass(frozen=True, eq=False)
class Corpus:
    """A trace corpus: Refinery events in columns, grouped by trace.  See the module doc."""

    trace_ids: tuple[str, ...]
    trace_offsets: Int64Array
    row_trace: Int32Array
    is_root: BoolArray
    root_row: Int64Array
    row_time: Float64Array
    trace_start: Float64Array
    weight: Float64Array
    must_keep: BoolArray
    must_keep_reasons: Mapping[int, str]
    columns: Mapping[str, Column]
    digest: str
    skipped: tuple[Skipped, ...] = ()
    #: Input files, as given, in reading order (skipped records name them).
    sources: tuple[str, ...] = ()
    #: Must-keep ids from the sidecar file that no trace of the corpus has.
    must_keep_unmatched: tuple[str, ...] = ()
    #: Per input format, how many rows it produced (e.g. {"otlp": 547}).
    formats: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.row_trace)

    @property
    def n_traces(self) -> int:
        return len(self.trace_ids)

    @property
    def duration_s(self) -> float:
        """Seconds between the first and the last event timestamp (NaN without any)."""
        if self.row_time.size == 0:
            return math.nan
        # fmax/fmin skip NaN in one pass, without a filtered copy (NaN when all are NaN).
        return float(np.fmax.reduce(self.row_time) - np.fmin.reduce(self.row_time))

    # What follows is per trace or per field, never per row: a corpus stored in partitions
    # (:class:`~pytest_nectar.corpus.parts.PartedCorpus`) has the same attributes, held in
    # memory while its rows stay on disk, so the proofs read either.

    @cached_property
    def trace_end(self) -> Float64Array:
        """Each trace's last event time (NaN: none of its events has a time)."""
        ends = np.full(self.n_traces, np.nan)
        nonempty = np.flatnonzero(np.diff(self.trace_offsets) > 0)
        if nonempty.size:
            ends[nonempty] = np.fmax.reduceat(self.row_time, self.trace_offsets[nonempty])
        return ends

    @cached_property
    def has_root(self) -> BoolArray:
        """Whether each trace has a root span."""
        return np.asarray(self.root_row >= 0, dtype=np.bool_)

    @cached_property
    def field_kinds(self) -> Mapping[str, Mapping[str, int]]:
        """Per field name, how many entries have each kind (kind name -> count), counted
        when first asked for."""
        return _KindCounts(self.columns)

    def field_names(self) -> tuple[str, ...]:
        """All field names, sorted."""
        return tuple(sorted(self.columns))

    def trace(self, index: int) -> Trace:
        """Trace ``index`` rebuilt as :class:`~pytest_nectar.trace.Trace`, exact values."""
        if not 0 <= index < self.n_traces:
            raise IndexError(f"trace index {index} out of range 0..{self.n_traces - 1}")
        start = int(self.trace_offsets[index])
        stop = int(self.trace_offsets[index + 1])
        data: list[dict[str, Any]] = [{} for _ in range(stop - start)]
        for name, bounds in self._column_bounds.items():
            lo, hi = int(bounds[index]), int(bounds[index + 1])
            if lo == hi:
                continue
            column = self.columns[name]
            for entry in range(lo, hi):
                data[int(column.rows[entry]) - start][name] = column.value_at(entry)
        # Fields in a stable, readable order (dict order never decides anything here).
        spans = tuple(
            Span(dict(sorted(fields.items())), bool(self.is_root[start + i]))
            for i, fields in enumerate(data)
        )
        return Trace(self.trace_ids[index], spans)

    def iter_traces(self) -> Iterator[Trace]:
        """Every trace, in corpus order (rebuilds Python values: for checks, not bulk work)."""
        for index in range(self.n_traces):
            yield self.trace(index)

    def trace_index(self, trace_id: str) -> int:
        """The index of ``trace_id``, or -1."""
        return self._trace_lookup.get(trace_id, -1)

    @cached_property
    def _column_bounds(self) -> dict[str, Int64Array]:
        # Per column, the entry range of every trace: one vectorised search per column.
        return {
            name: np.searchsorted(column.rows, self.trace_offsets, side="left").astype(np.int64)
            for name, column in self.columns.items()
        }

    @cached_property
    def _trace_lookup(self) -> dict[str, int]:
        return {tid: i for i, tid in enumerate(self.trace_ids)}
