"""OTLP protobuf at batch speed: decoded messages flattened a column at a time.

The exact reading of a protobuf message turns it, field by field, into the OTLP/JSON object
of the same request (``containers.request_dict``) and hands that to the OTLP/JSON reader,
a span at a time.  Here the spans of a message are read from the decoded message straight
into the batch path of OTLP/JSON (:func:`~pytest_nectar.corpus.otlp_batch.flatten_spans`):
one list per field over all the spans, ids hexed as the exact reading hexes them, the
attribute values of one key read together.

Exactness rests on the rule of the OTLP/JSON fast path: this path either produces the rows
the exact reading would, or it produces nothing and the message goes to the exact reading:

* protobuf's differences from OTLP/JSON are read the way the exact reading's object shows
  them: ids are bytes (the hex of their bytes; an id of another length than 16 or 8 bytes
  is read by husky, as the exact reading's hex of it), an attribute value is a oneof (its
  set member; none set, bytes, arrays and kvlists go to husky), a status is always there
  (code 0 and "" when absent), enums are any int32 and times any uint64;
* whatever else is not the common case (events, links, tracestates, sample rates,
  attributes named like intrinsics or shared fields, duplicate keys) goes to husky's
  ``flatten_span`` on the exact reading's object of that span, with the same scope fields;
* any error rolls the message's rows back, and the exact reading has it, so error messages
  and ``--skip-bad`` are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from operator import attrgetter
from typing import Any, Final

from msgspec import Struct

from pytest_nectar.corpus.buffer import Strings
from pytest_nectar.corpus.containers import resource_dict, scope_dict, span_dict
from pytest_nectar.corpus.context import FMT_OTLP, ReadContext
from pytest_nectar.corpus.husky import flatten_span, scope_and_resource_fields
from pytest_nectar.corpus.otlp_batch import (
    COMPLEX,
    Attributes,
    ScopeFields,
    flatten_spans,
    group_attributes,
)

__all__ = ["ProtoBatch"]

#: An AnyValue's oneof members read as themselves (the others go to husky), with the value a
#: member that is not set reads as.
_SCALARS: Final[dict[str, object]] = {
    "string_value": "",
    "int_value": 0,
    "double_value": 0.0,
    "bool_value": False,
}
#: Fewer spans than this in a message: the exact reading is faster (a batch costs about
#: 150 µs whatever its size, reading a span exactly about 20 µs).
_BATCH_MIN: Final = 16
_KEY: Final = attrgetter("key")
_VALUE: Final = attrgetter("value")
_ATTRIBUTES: Final = attrgetter("attributes")
_TRACE_ID: Final = attrgetter("trace_id")
_SPAN_ID: Final = attrgetter("span_id")
_PARENT_ID: Final = attrgetter("parent_span_id")
_NAME: Final = attrgetter("name")
_KIND: Final = attrgetter("kind")
_START: Final = attrgetter("start_time_unix_nano")
_END: Final = attrgetter("end_time_unix_nano")
_TRACE_STATE: Final = attrgetter("trace_state")
_EVENTS: Final = attrgetter("events")
_LINKS: Final = attrgetter("links")
_STATUS: Final = attrgetter("status")


class ProtoSpan(Struct, gc=False):
    """A protobuf span as the batch path reads a span: the names of OTLP/JSON's structs."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_time_unix_nano: int
    end_time_unix_nano: int
    trace_state: str
    #: How many span events and links it has (either makes it a span for husky).
    events: int
    links: int
    #: The ``Status`` message (``code`` and ``message``, defaults when absent).
    status: Any
    #: Where its attributes are in its batch's keys and values, and how many.
    first: int
    count: int
    #: The ``Span`` message, for husky.
    message: Any


class ProtoBatch:
    """The batch path of one file's protobuf messages; :meth:`read` says whether it took
    the message (False: nothing was emitted, the exact reading must read it)."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx

    def read(self, message: Any) -> bool:
        ctx = self.ctx
        mark = ctx.buffer.mark()
        try:
            ctx.fmt = FMT_OTLP
            return _read_request(message, ctx)
        except Exception:  # the exact reading decides what is wrong, and says so
            ctx.buffer.rollback(mark)
            return False


def _read_request(message: Any, ctx: ReadContext) -> bool:
    """Every span of one request, with the fields of its scope, in order (False: too few
    spans to be worth a batch, none read)."""
    resource_spans = message.resource_spans
    if sum(len(ss.spans) for rs in resource_spans for ss in rs.scope_spans) < _BATCH_MIN:
        return False
    spans: list[Any] = []
    scope_of: list[int] = []
    scopes: list[ScopeFields] = []
    for rs in resource_spans:
        scope_spans = rs.scope_spans
        if not scope_spans:
            continue
        resource = resource_dict(rs)
        for ss in scope_spans:
            fields = scope_and_resource_fields(
                scope_dict(ss), ss.schema_url, resource, rs.schema_url
            )
            if ss.spans:
                scope_of.extend([len(scopes)] * len(ss.spans))
                scopes.append(ScopeFields.of(*fields))
                spans.extend(ss.spans)
    batch = _Batch.of(spans)
    one = partial(_one, emit=ctx.emit)
    flatten_spans(batch.spans, scope_of, scopes, ctx, one, batch.attributes)
    return True


@dataclass(frozen=True)
class _Batch:
    """The spans of one message read field by field (a list per field: protobuf's accessors
    in C), and the keys and values of all their attributes, in order."""

    spans: list[ProtoSpan]
    counts: list[int]
    keys: list[str]
    values: list[Any]

    @classmethod
    def of(cls, spans: list[Any]) -> _Batch:
        lists = list(map(_ATTRIBUTES, spans))
        counts = list(map(len, lists))
        kvs = [kv for attributes in lists for kv in attributes]
        read = _read_spans(spans, list(accumulate(counts, initial=0)), counts)
        return cls(read, counts, list(map(_KEY, kvs)), list(map(_VALUE, kvs)))

    def attributes(self, spans: Sequence[ProtoSpan], bad: set[int]) -> Attributes:
        """The attributes of ``spans`` (all of the batch, or a part of it)."""
        if spans is self.spans:
            counts, keys, values = self.counts, self.keys, self.values
        else:
            counts = [s.count for s in spans]
            keys = [k for s in spans for k in self.keys[s.first : s.first + s.count]]
            values = [v for s in spans for v in self.values[s.first : s.first + s.count]]
        return group_attributes(counts, keys, values, bad, _column, _scalar)


def _read_spans(spans: list[Any], firsts: list[int], counts: list[int]) -> list[ProtoSpan]:
    return list(
        map(
            ProtoSpan,
            map(bytes.hex, map(_TRACE_ID, spans)),
            map(bytes.hex, map(_SPAN_ID, spans)),
            map(bytes.hex, map(_PARENT_ID, spans)),
            map(_NAME, spans),
            map(_KIND, spans),
            map(_START, spans),
            map(_END, spans),
            map(_TRACE_STATE, spans),
            map(len, map(_EVENTS, spans)),
            map(len, map(_LINKS, spans)),
            map(_STATUS, spans),
            firsts,
            counts,
            spans,
        )
    )


def _scalar(value: Any) -> object:
    """An ``AnyValue`` of the common case as husky reads it, or :data:`COMPLEX`."""
    which = value.WhichOneof("value")
    return getattr(value, which) if which in _SCALARS else COMPLEX


def _column(values: list[Any]) -> list[Any] | None:
    """Every value of one key, when all have the same scalar member set (None: not so).

    Read through the first value's member: a value that reads as not set (the member's
    default) is checked for having that member set."""
    which = values[0].WhichOneof("value")
    if which not in _SCALARS:
        return None
    column = list(map(attrgetter(which), values))
    unset = _SCALARS[which]
    if unset in column:  # 0 == 0.0 == False and -0.0: checked alike
        for value, read in zip(values, column, strict=True):
            if read == unset and value.WhichOneof("value") != which:
                return None
    return Strings(column) if which == "string_value" else column


def _one(
    span: ProtoSpan,
    scope: ScopeFields,
    emit: Callable[[dict[str, object], float, float], None],
) -> None:
    """A span that is not of the common case, as the exact reading flattens it."""
    flatten_span(span_dict(span.message), scope.shared, scope.scope_rate, scope.resource_rate, emit)
