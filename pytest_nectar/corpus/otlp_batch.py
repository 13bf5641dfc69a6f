"""OTLP spans flattened a batch at a time: a column of values per field, not a dict per span.

The typed fast path (:mod:`~pytest_nectar.corpus.otlp_fast`) hands over all the spans of
one record.  Spans of the common case (no events or links, no sample rate or tracestate,
attributes of one scalar kind each, no attribute named like an intrinsic or a shared
field, no duplicate keys) are flattened together: each intrinsic and each attribute key
becomes one list (list comprehensions and a few numpy calls per batch), and the rows go to
the :class:`~pytest_nectar.corpus.buffer.RowBuffer` as blocks of columns, grouped by the
shape (field names in order) each span's dict would have had.  The buffer then builds the
very table the span-at-a-time path builds: the same rows, shapes, values, types and order.

Any other span is handed back, in its place, to the span-at-a-time path; anything invalid
raises, and the record goes to the exact reader (as in ``otlp_fast``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from operator import itemgetter
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from msgspec import UNSET

from pytest_nectar.corpus.buffer import Coded, Piece, Repeat, Strings
from pytest_nectar.corpus.context import ReadContext
from pytest_nectar.corpus.husky import SPAN_KINDS, STATUS_CODES, is_decimal, otlp_id

__all__ = [
    "COMPLEX",
    "INTRINSIC",
    "Attributes",
    "ScopeFields",
    "code_of",
    "flatten_spans",
    "group_attributes",
    "id_of",
    "kind_of",
    "nanos",
    "scalar",
]

#: The fields husky adds to a span row: when no attribute has one of these names (or a
#: scope or resource field's), the row is built without first-wins checks.
INTRINSIC: Final = frozenset(
    {
        "trace.trace_id",
        "trace.parent_id",
        "meta.signal_type",
        "error",
        "name",
        "trace.span_id",
        "trace.trace_state",
        "status_code",
        "status_message",
        "span.num_events",
        "span.num_links",
        "span.kind",
        "type",
        "duration_ms",
        "meta.invalid_duration",
    }
)
#: An attribute value that is not a scalar of the common case (husky's own functions read it).
COMPLEX: Final = object()
_RATE_KEYS: Final = frozenset({"sampleRate", "SampleRate"})
_UINT64_LIMIT: Final = 2**64
_INT32: Final = range(-(2**31), 2**31)
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_NAN: Final = float("nan")
#: Fewer spans than this in a record: one at a time is as fast.
_BATCH_MIN: Final = 8
_ZERO_HALF: Final = "0" * 16
#: The optional intrinsics, as bits of a span's shape (in husky's field order).
_PARENT, _ERROR, _MESSAGE, _INVALID = 1, 2, 4, 8


@dataclass(frozen=True, slots=True)
class ScopeFields:
    """What the spans of one ``scopeSpans`` share (scope and resource fields, rates)."""

    shared: list[tuple[str, object]]
    shared_fields: dict[str, object]
    scope_rate: list[object]
    resource_rate: list[object]
    #: A sample rate set at scope or resource level (husky's flatten_span picks the rate).
    outer_rate: bool

    @classmethod
    def of(
        cls, shared: list[tuple[str, object]], scope_rate: list[object], resource_rate: list[object]
    ) -> ScopeFields:
        """What ``husky.scope_and_resource_fields`` gives, for the batch path."""
        outer_rate = any(slot is not None for slot in (*scope_rate, *resource_rate))
        return cls(shared, dict(shared), scope_rate, resource_rate, outer_rate)

    @property
    def batched(self) -> bool:
        """Whether its spans may be flattened in batches (no outer rate, no shared field
        named like an intrinsic: those need husky's first-wins checks)."""
        return not self.outer_rate and INTRINSIC.isdisjoint(self.shared_fields)


# -- one value -------------------------------------------------------------------------


def scalar(value: Any) -> object:
    """An attribute value (an ``AnyValue`` struct) of the common case, or :data:`COMPLEX`.

    The order of the checks is husky's ``put_attributes`` on the same JSON; an int beyond
    int64, or a double beside a kvlist, raises (the exact reader decides)."""
    if value is None:
        return COMPLEX
    s = value.string_value
    if s is not UNSET:
        return s
    i = value.int_value
    if type(i) is str and is_decimal(i):
        i = int(i, 10)
    if type(i) is int:
        if not _INT64_MIN <= i <= _INT64_MAX:
            raise ValueError("intValue beyond int64")
        return i
    d = value.double_value
    b = value.bool_value
    if type(b) is bool and i is UNSET and d is UNSET and value.kvlist_value is UNSET:
        return b
    if type(d) is float:
        if value.kvlist_value is not UNSET or i is not UNSET:
            # 3 and 3.0 decode alike here, and husky ranks them differently against a
            # kvlist or an intValue that is not an integer: the exact reader decides.
            raise ValueError("doubleValue beside kvlistValue or intValue")
        return d
    return COMPLEX


def nanos(raw: int | str | None) -> int:
    """A timestamp: only what every reading of OTLP agrees on (a uint64 as a number or
    plain digits); anything else raises, and the exact reader says what is wrong."""
    if raw is None:
        return 0
    if type(raw) is str:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 20):
            raise ValueError("timestamp")
        raw = int(raw, 10)
    if not 0 <= raw < _UINT64_LIMIT:  # type: ignore[operator]
        raise ValueError("timestamp")
    return raw  # type: ignore[return-value]


def kind_of(raw: int | str) -> str:
    kind = SPAN_KINDS.get(raw)
    if kind is None:
        if type(raw) is not int or raw not in _INT32:  # a protobuf enum is int32
            raise ValueError("kind")
        kind = "unspecified"
    return kind


def code_of(raw: int | str) -> int:
    code = STATUS_CODES.get(raw)
    if code is None:
        if type(raw) is not int or raw not in _INT32:
            raise ValueError("status.code")
        code = raw
    return code


#: Id text to Husky's hex, per process: spans of a trace share their trace id, children
#: name their parent's span id.  Bounded: cleared when full.
_TRACE_IDS: dict[str | None, str] = {}
_SPAN_IDS: dict[str | None, str] = {}
_IDS_MAX: Final = 1 << 16


def id_of(raw: str | None, nbytes: int, what: str) -> str:
    """``otlp_id`` of a trace id (``nbytes`` 16) or span id (8), remembered."""
    cache = _TRACE_IDS if nbytes == 16 else _SPAN_IDS
    value = cache.get(raw)
    if value is None:
        value = otlp_id(raw, nbytes, what, trace=nbytes == 16)
        if len(cache) >= _IDS_MAX:
            cache.clear()
        cache[raw] = value
    return value


# -- many values -----------------------------------------------------------------------


def _ids(raws: list[str | None], nbytes: int, what: str) -> list[str]:
    """``id_of`` of every id; plain hex ids (the OTLP/JSON spec's) all at once."""
    present = [r for r in raws if r]
    width = 2 * nbytes
    if present and set(map(len, present)) == {width}:
        joined = "".join(present)
        try:
            whole = len(bytes.fromhex(joined)) * 2 == len(joined)  # no whitespace skipped
        except ValueError:
            whole = False
        if whole:  # hex in, lowercase hex out; a trace id's zero upper half is dropped
            if any(letter in joined for letter in "ABCDEF"):
                raws = [r.lower() if r else r for r in raws]
            if nbytes == 16 and _ZERO_HALF in joined:
                raws = [r[16:] if r and r.startswith(_ZERO_HALF) else r for r in raws]
            return raws if len(present) == len(raws) else [r or "" for r in raws]  # type: ignore[return-value]
    return [id_of(r, nbytes, what) for r in raws]


def _all_nanos(raws: list[Any]) -> npt.NDArray[np.uint64]:
    """:func:`nanos` of every timestamp, as uint64; digit strings of one length (today's
    19-digit nanoseconds) read as a matrix of digits."""
    try:
        joined = "".join(raws)
    except TypeError:  # numbers or nulls among them
        if set(map(type, raws)) == {int} and min(raws) >= 0 and max(raws) < _UINT64_LIMIT:
            return np.array(raws, dtype=np.uint64)  # protobuf's fixed64 (or JSON numbers)
        return np.array(list(map(nanos, raws)), dtype=np.uint64)
    if joined.isascii() and joined.isdigit():
        lengths = set(map(len, raws))
        width = lengths.pop() if len(lengths) == 1 else 0
        if 0 < width <= 19:  # below 10**19 < 2**64: no digit string overflows
            digits = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, width)
            values: npt.NDArray[np.uint64] = (digits - 48).astype(np.uint64) @ _TENS[-width:]
            return values
    return np.array(list(map(nanos, raws)), dtype=np.uint64)


_TENS: Final = np.array([10**k for k in range(18, -1, -1)], dtype=np.uint64)


def _column(values: list[Any]) -> list[Any] | None:
    """Every value of one attribute key as :func:`scalar` reads it, when all are one kind of
    the common case (None: read them one by one)."""
    try:
        strings = [v.string_value for v in values]
    except AttributeError:  # a null value
        return None
    if _all_str(strings):
        return Strings(strings)
    n = len(values)
    if strings.count(UNSET) != n:
        return None
    ints = [v.int_value for v in values]
    if _all_str(ints):
        joined = "".join(ints)
        if not (joined.isascii() and joined.isdigit()) or "" in ints:
            return None
        ints = list(map(int, ints))
    elif ints.count(UNSET) == n:
        return _float_or_bool_column(values)
    elif set(map(type, ints)) != {int}:
        return None
    if max(ints) > _INT64_MAX or min(ints) < _INT64_MIN:
        raise ValueError("intValue beyond int64")
    return ints


def _float_or_bool_column(values: list[Any]) -> list[object] | None:
    """:func:`_column` of values without a string or an int value."""
    n = len(values)
    if [v.kvlist_value for v in values].count(UNSET) != n:
        return None
    doubles = [v.double_value for v in values]
    if UNSET not in doubles:
        return doubles if set(map(type, doubles)) == {float} else None
    if doubles.count(UNSET) != n:
        return None
    bools = [v.bool_value for v in values]
    return bools if set(map(type, bools)) == {bool} else None


def _all_str(values: list[Any]) -> bool:
    try:  # one pass in C: join refuses anything but strings
        "".join(values)
    except TypeError:
        return False
    return True


def _take(values: Sequence[Any], where: list[int], n: int, *, ids: bool = False) -> Piece:
    """``values`` at the ascending positions ``where`` (of ``n``: all of them is the list);
    strings dictionary-encoded now, while they are still in the processor's cache (not
    ``ids``: nearly all different, the buffer encodes them once)."""
    if len(where) == n:
        taken = values
    elif len(where) == 1:
        taken = [values[where[0]]]
    else:
        taken = itemgetter(*where)(values)
    if type(values) is not Strings:
        return taken
    if ids:
        return taken if type(taken) is Strings else Strings(taken)
    first = dict.fromkeys(taken)
    if len(first) == len(taken):
        return Coded(np.arange(len(taken), dtype=np.int32), list(first))
    strings = list(first)
    lookup = dict(zip(strings, count()))
    return Coded(np.fromiter(map(lookup.__getitem__, taken), np.int32, len(taken)), strings)


# -- a batch -----------------------------------------------------------------------------


@dataclass
class Attributes:
    """The spans' attribute keys (one signature per distinct key sequence) and values."""

    signature_of: list[int]
    signatures: list[tuple[str, ...]]
    #: Per signature: its spans (ascending) and one column of values per key.
    members: list[list[int]]
    columns: list[list[list[object]]]


def _attributes(spans: Sequence[Any], bad: set[int]) -> Attributes:
    lists = [s.attributes for s in spans]
    counts = [len(a) if a else 0 for a in lists]
    keys = [kv.key for a in lists if a for kv in a]
    values = [kv.value for a in lists if a for kv in a]
    return group_attributes(counts, keys, values, bad, _column, scalar)


def group_attributes(
    counts: list[int],
    keys: list[str],
    values: list[Any],
    bad: set[int],
    column_of: Callable[[list[Any]], list[Any] | None],
    scalar_of: Callable[[Any], object],
) -> Attributes:
    """The attributes of a batch's spans (``counts[i]`` of the flat ``keys`` and ``values``
    are span i's) by key sequence; spans whose attributes need husky's checks go to ``bad``.

    ``column_of`` reads every value of one key when all are of one kind of the common case
    (None: they are read one by one by ``scalar_of``, which gives :data:`COMPLEX` for a
    value of another case)."""
    n = len(counts)
    width = counts[0]
    if counts.count(width) == n and keys == keys[:width] * n:  # one key sequence (common)
        signature_of = [0] * n
        signatures = [tuple(keys[:width])]
        members = [list(range(n))]
        grouped = [[values[j::width] for j in range(width)]] if width else [[]]
    else:
        signature_of, signatures, members, grouped = [], [], [], []
        seen: dict[tuple[str, ...], int] = {}
        start = 0
        flat: list[list[object]] = []
        for i, count in enumerate(counts):
            key = tuple(keys[start : start + count])
            index = seen.get(key)
            if index is None:
                index = seen[key] = len(signatures)
                signatures.append(key)
                members.append([])
                flat.append([])
            signature_of.append(index)
            members[index].append(i)
            flat[index].extend(values[start : start + count])
            start += count
        for key, chunk in zip(signatures, flat, strict=True):
            width = len(key)
            grouped.append([chunk[j::width] for j in range(width)])
    columns: list[list[list[object]]] = []
    for key, spans_of, raw_columns in zip(signatures, members, grouped, strict=True):
        if (
            not all(key)
            or len(set(key)) != len(key)
            or not _RATE_KEYS.isdisjoint(key)
            or not INTRINSIC.isdisjoint(key)
        ):
            bad.update(spans_of)  # husky's first-wins checks and rate slots decide
            columns.append([])
            continue
        converted: list[list[object]] = []
        for raw in raw_columns:
            column = column_of(raw)
            if column is None:
                column = [scalar_of(v) for v in raw]
                bad.update(spans_of[j] for j, v in enumerate(column) if v is COMPLEX)
            converted.append(column)
        columns.append(converted)
    return Attributes(signature_of, signatures, members, columns)


def flatten_spans(
    spans: Sequence[Any],
    scope_of: Sequence[int],
    scopes: Sequence[ScopeFields],
    ctx: ReadContext,
    one: Callable[[Any, ScopeFields], None],
    attributes_of: Callable[[Sequence[Any], set[int]], Attributes] = _attributes,
) -> None:
    """Emit the rows of ``spans`` (``scopes[scope_of[i]]`` is span i's scope), in order.

    Spans that are not of the common case go to ``one`` (the span-at-a-time path).
    ``attributes_of`` reads the spans' attributes (the default: OTLP/JSON structs).
    """
    if len(spans) < _BATCH_MIN:
        for span, index in zip(spans, scope_of, strict=True):
            one(span, scopes[index])
        return
    bad: set[int] = set()
    for index, fields in enumerate(scopes):
        if not fields.batched:
            bad.update(i for i, s in enumerate(scope_of) if s == index)
    # Span events and links are rows of their own; a tracestate may carry a sample rate.
    uncommon = [s.events or s.links or s.trace_state for s in spans]
    if any(uncommon):
        bad.update(i for i, v in enumerate(uncommon) if v)
    attributes = attributes_of(spans, bad)
    if len(attributes.signatures) == 1 and len(scopes) == 1:
        pairs = {(0, 0)}
    else:
        pairs = set(zip(attributes.signature_of, scope_of, strict=True))
    for signature, scope in pairs:
        if not scopes[scope].shared_fields.keys().isdisjoint(attributes.signatures[signature]):
            # An attribute named like a scope or resource field: husky's first wins decides.
            bad.update(
                i
                for i, pair in enumerate(zip(attributes.signature_of, scope_of, strict=True))
                if pair == (signature, scope)
            )
    if not bad:
        _emit(spans, scope_of, scopes, attributes, ctx)
        return
    start = 0
    for i in sorted(bad):
        if i > start:
            flatten_spans(spans[start:i], scope_of[start:i], scopes, ctx, one, attributes_of)
        one(spans[i], scopes[scope_of[i]])
        start = i + 1
    if start < len(spans):
        flatten_spans(spans[start:], scope_of[start:], scopes, ctx, one, attributes_of)


def _emit(
    spans: Sequence[Any],
    scope_of: Sequence[int],
    scopes: Sequence[ScopeFields],
    attributes: Attributes,
    ctx: ReadContext,
) -> None:
    """The rows of spans that are all of the common case (husky's ``flatten_span``)."""
    n = len(spans)
    trace_ids = Strings(_ids([s.trace_id for s in spans], 16, "traceId"))
    span_ids = Strings(_ids([s.span_id for s in spans], 8, "spanId"))
    parent_ids = Strings(_ids([s.parent_span_id for s in spans], 8, "parentSpanId"))
    names = Strings([s.name or "" for s in spans])
    kinds_raw = [s.kind for s in spans]
    known = list(map(SPAN_KINDS.get, kinds_raw))
    kinds = Strings(map(kind_of, kinds_raw) if None in known else known)  # type: ignore[arg-type]
    statuses = [s.status for s in spans]
    codes_raw = [0 if st is None else st.code for st in statuses]
    codes = list(map(STATUS_CODES.get, codes_raw))
    if None in codes:
        codes = list(map(code_of, codes_raw))
    messages = Strings(["" if st is None else (st.message or "") for st in statuses])
    start = _all_nanos([s.start_time_unix_nano for s in spans])
    end = _all_nanos([s.end_time_unix_nano for s in spans])
    started = start > 0
    both = started & (end > 0)
    invalid = both & (end < start)
    elapsed = np.zeros(n, dtype=np.uint64)
    np.subtract(end, start, out=elapsed, where=both & ~invalid)
    durations = elapsed.astype(np.float64) / 1e6
    times: list[float] = np.where(started, start.astype(np.float64) / 1e9, _NAN).tolist()
    code_array = np.array(codes, dtype=np.int64)

    flags = invalid.astype(np.int64) * _INVALID
    flags += np.fromiter(map(bool, parent_ids), dtype=bool, count=n) * _PARENT
    flags += (code_array == 2) * _ERROR
    flags += np.fromiter(map(bool, messages), dtype=bool, count=n) * _MESSAGE
    key = np.array(attributes.signature_of, dtype=np.int64) * (len(scopes) * 16)
    key += np.array(scope_of, dtype=np.int64) * 16 + flags
    # Spans of one shape (the field names of their rows, in order) are one block.
    shapes: dict[tuple[str, ...], list[int]] = {}
    if int(key.min()) == int(key.max()):
        shapes[_shape(attributes, scopes, int(key[0]), len(scopes))] = list(range(n))
    else:
        uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        of_key = [_shape(attributes, scopes, int(k), len(scopes)) for k in uniq.tolist()]
        for k in np.argsort(first, kind="stable").tolist():  # in order of first row
            shapes.setdefault(of_key[k], [])
        for k, shape in enumerate(of_key):
            shapes[shape].extend(np.flatnonzero(inverse == k).tolist())
    base = ctx.buffer.add_rows(times, [1.0] * n, ctx.fmt, ctx.record)
    for shape, where in shapes.items():
        where.sort()
        g = len(where)
        at = np.array(where, dtype=np.int64)
        first_span = where[0]
        signature = attributes.signature_of[first_span]
        members = attributes.members[signature]
        if len(members) == n:
            positions = where
        else:
            rank = {span: j for j, span in enumerate(members)}
            positions = [rank[i] for i in where]
        columns: list[Piece] = [
            _take(column, positions, len(members)) for column in attributes.columns[signature]
        ]
        flag = int(flags[first_span])
        columns.append(_take(trace_ids, where, n, ids=True))
        if flag & _PARENT:
            columns.append(_take(parent_ids, where, n, ids=True))
        columns.append(Repeat("trace", g))
        if flag & _ERROR:
            columns.append(Repeat(True, g))
        columns.append(_take(names, where, n))
        columns.append(_take(span_ids, where, n, ids=True))
        columns.append(code_array if g == n else code_array[at])
        if flag & _MESSAGE:
            columns.append(_take(messages, where, n))
        columns.append(Repeat(0, g))
        columns.append(Repeat(0, g))
        kind = _take(kinds, where, n)
        columns.append(kind)
        columns.append(kind)
        columns.append(durations if g == n else durations[at])
        if flag & _INVALID:
            columns.append(Repeat(True, g))
        in_scopes = {scope_of[i] for i in where}
        if len(in_scopes) == 1:
            for value in scopes[in_scopes.pop()].shared_fields.values():
                columns.append(Repeat(value, g))
        else:
            names_of = list(scopes[scope_of[first_span]].shared_fields)
            for name in names_of:
                columns.append([scopes[scope_of[i]].shared_fields[name] for i in where])
        rows: npt.NDArray[np.int64] = at + base
        ctx.buffer.add_block(shape, rows, columns)


def _shape(
    attributes: Attributes, scopes: Sequence[ScopeFields], key: int, m: int
) -> tuple[str, ...]:
    signature, rest = divmod(key, m * 16)
    scope, flag = divmod(rest, 16)
    names = [*attributes.signatures[signature], "trace.trace_id"]
    if flag & _PARENT:
        names.append("trace.parent_id")
    names.append("meta.signal_type")
    if flag & _ERROR:
        names.append("error")
    names += ["name", "trace.span_id", "status_code"]
    if flag & _MESSAGE:
        names.append("status_message")
    names += ["span.num_events", "span.num_links", "span.kind", "type", "duration_ms"]
    if flag & _INVALID:
        names.append("meta.invalid_duration")
    names += scopes[scope].shared_fields
    return tuple(names)
