"""OTLP/JSON at native speed: decode straight into typed structs, then flatten.

``json.loads`` builds a dict per object and the flattening then reads them back key by
key; msgspec decodes the same bytes in C directly into the :class:`msgspec.Struct` types
below (the OTLP/JSON schema), which is several times cheaper.  The spans of a record are
then flattened without building dicts: the common ones together, a column per field
(:mod:`~pytest_nectar.corpus.otlp_batch`), the others one at a time here.

Exactness rests on one rule: this path either produces the rows the exact reader
(:mod:`pytest_nectar.corpus.otlp` over :mod:`~pytest_nectar.corpus.husky`) would, or it
produces nothing and the record goes to the exact reader:

* the structs only accept what the exact reader reads the same way: a field whose
  ``null`` means something other than "absent" has no ``None`` (it is ``UNSET`` when
  absent), and values of an unexpected type fail the decode;
* whatever is not the common case (kvlists, arrays, bytes, sample rates, span events and
  links, scope and resource fields) goes to husky's own functions, on the dicts
  :func:`msgspec.to_builtins` makes of the structs (the same keys and values
  ``json.loads`` gives for what husky reads; the one difference, a doubleValue written
  as an integer, sends the record to the exact reader where husky would tell them apart);
* a decode error, or any error while flattening, rolls the record's rows back and hands
  the line to the exact reader, so error messages and ``--skip-bad`` are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

import msgspec
from msgspec import UNSET, Struct, UnsetType

from pytest_nectar.corpus.context import FMT_OTLP, ReadContext
from pytest_nectar.corpus.husky import (
    flatten_span,
    marshallable,
    put_value,
    sample_rate_of,
    scope_and_resource_fields,
)
from pytest_nectar.corpus.otlp_batch import (
    COMPLEX,
    INTRINSIC,
    ScopeFields,
    code_of,
    flatten_spans,
    id_of,
    kind_of,
    nanos,
    scalar,
)

__all__ = ["FastOtlp"]

_CAMEL: Final = "camel"
# gc=False: decoded structs never form cycles, and millions of GC-tracked objects per file
# would make every collection walk them all.


class AnyValue(Struct, rename=_CAMEL, gc=False):
    # No None: a null value is an error for the exact reader, not an absent one.
    string_value: str | UnsetType = UNSET
    int_value: int | str | UnsetType = UNSET
    double_value: float | str | UnsetType = UNSET
    bool_value: bool | UnsetType = UNSET
    bytes_value: str | UnsetType = UNSET
    array_value: ArrayValue | UnsetType = UNSET
    kvlist_value: KeyValueList | UnsetType = UNSET


class KeyValue(Struct, gc=False):
    key: str | None = None
    value: AnyValue | None = None


class ArrayValue(Struct, gc=False):
    # UNSET, not None: `arrayValue: {}` must reach Husky's functions without a `values` key,
    # as the exact reader sees it (an explicit null falls back to the exact reader).
    values: list[AnyValue] | UnsetType = UNSET


class KeyValueList(Struct, gc=False):
    values: list[KeyValue] | UnsetType = UNSET


class Scope(Struct, gc=False):
    name: str | None = None
    version: str | None = None
    attributes: list[KeyValue] | None = None


class Resource(Struct, gc=False):
    attributes: list[KeyValue] | None = None


class Status(Struct, gc=False):
    code: int | str = 0
    message: str | None = None


class SpanEvent(Struct, rename=_CAMEL, gc=False):
    time_unix_nano: int | str | None = None
    name: str | None = None
    attributes: list[KeyValue] | None = None


class SpanLink(Struct, rename=_CAMEL, gc=False):
    trace_id: str | None = None
    span_id: str | None = None
    attributes: list[KeyValue] | None = None


class Span(Struct, rename=_CAMEL, gc=False):
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    name: str | None = None
    kind: int | str = 0
    start_time_unix_nano: int | str | None = None
    end_time_unix_nano: int | str | None = None
    trace_state: str | None = None
    attributes: list[KeyValue] | None = None
    events: list[SpanEvent] | None = None
    links: list[SpanLink] | None = None
    status: Status | None = None


class ScopeSpans(Struct, rename=_CAMEL, gc=False):
    # ``scope: null`` is no scope; an absent scope falls back to the legacy name.
    scope: Scope | UnsetType | None = UNSET
    instrumentation_library: Scope | UnsetType | None = UNSET
    schema_url: str | None = None
    spans: list[Span] | None = None


class ResourceSpans(Struct, rename=_CAMEL, gc=False):
    resource: Resource | None = None
    schema_url: str | None = None
    scope_spans: list[ScopeSpans] | UnsetType | None = UNSET
    instrumentation_library_spans: list[ScopeSpans] | UnsetType | None = UNSET


class Request(Struct, rename=_CAMEL, gc=False):
    resource_spans: list[ResourceSpans] | UnsetType | None = UNSET
    batches: list[ResourceSpans] | UnsetType | None = UNSET
    # The other signals a collector file interleaves: kept raw (not decoded), only seen.
    resource_metrics: msgspec.Raw | UnsetType = UNSET
    resource_logs: msgspec.Raw | UnsetType = UNSET
    resource_profiles: msgspec.Raw | UnsetType = UNSET


_DECODER: Final = msgspec.json.Decoder(Request)
_to_builtins: Final = msgspec.to_builtins
#: After this many records that are not OTLP (and no trace record yet), stop trying.
_GIVE_UP_AFTER: Final = 8


class FastOtlp:
    """The typed fast path of one chunk; :meth:`read` says whether it took the record."""

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.misses = 0
        self.hits = 0

    def read(self, raw: bytes | memoryview) -> bool:
        if self.misses >= _GIVE_UP_AFTER and not self.hits:
            return False
        try:
            request = _DECODER.decode(raw)
        except (msgspec.MsgspecError, RecursionError):  # deep input: the exact reader says why
            self.misses += 1
            return False
        if request.resource_spans is not UNSET:
            resource_spans = request.resource_spans
        elif request.batches is not UNSET:
            resource_spans = request.batches
        else:
            if (
                request.resource_metrics is UNSET
                and request.resource_logs is UNSET
                and request.resource_profiles is UNSET
            ):
                self.misses += 1  # not OTLP at all (e.g. Honeycomb events): stop trying soon
            return False
        ctx = self.ctx
        mark = ctx.buffer.mark()
        try:
            ctx.fmt = FMT_OTLP
            _read_resource_spans(resource_spans or [], ctx)
        except Exception:  # the exact reader decides what is wrong, and says so
            ctx.buffer.rollback(mark)
            return False
        self.hits += 1
        return True


def _read_resource_spans(resource_spans: list[ResourceSpans], ctx: ReadContext) -> None:
    """Every span of one request, with the fields of its scope, in order."""
    spans: list[Span] = []
    scope_of: list[int] = []
    scopes: list[ScopeFields] = []
    for rs in resource_spans:
        scope_spans = rs.scope_spans
        if scope_spans is UNSET:
            scope_spans = rs.instrumentation_library_spans
        if not scope_spans:
            continue
        resource = None if rs.resource is None else _builtins(rs.resource, rs.resource.attributes)
        for ss in scope_spans:
            scope = ss.scope if ss.scope is not UNSET else ss.instrumentation_library
            shared, scope_rate, resource_rate = scope_and_resource_fields(
                None if scope is None or scope is UNSET else _builtins(scope, scope.attributes),
                ss.schema_url,
                resource,
                rs.schema_url,
            )
            if not ss.spans:
                continue
            index = len(scopes)
            scopes.append(ScopeFields.of(shared, scope_rate, resource_rate))
            spans.extend(ss.spans)
            scope_of.extend([index] * len(ss.spans))
    flatten_spans(spans, scope_of, scopes, ctx, partial(_flatten_one, emit=ctx.emit))


def _flatten_one(
    span: Span, scope: ScopeFields, emit: Callable[[dict[str, object], float, float], None]
) -> None:
    """One span, as husky.flatten_span flattens it."""
    if span.events or span.links or scope.outer_rate:
        flatten_span(
            _span_builtins(span), scope.shared, scope.scope_rate, scope.resource_rate, emit
        )
    else:
        _flatten_plain(span, scope, emit)


def _builtins(struct: Struct, *attribute_lists: list[KeyValue] | None) -> object:
    """``struct`` as the dicts husky's functions read, when they read them as they read
    ``json.loads``' dicts.  They do not when a top-level attribute value has a doubleValue
    beside an intValue or a kvlistValue: husky takes a float doubleValue before those and
    an integer one after them, and a doubleValue written as an integer decodes here as a
    float.  Then this raises and the exact reader has the record."""
    for attributes in attribute_lists:
        for kv in attributes or ():
            value = kv.value
            if (
                value is not None
                and value.double_value is not UNSET
                and (value.int_value is not UNSET or value.kvlist_value is not UNSET)
            ):
                raise ValueError("doubleValue beside intValue or kvlistValue")
    return _to_builtins(struct)


def _span_builtins(span: Span) -> object:
    lists = [span.attributes]
    lists += [event.attributes for event in span.events or ()]
    lists += [link.attributes for link in span.links or ()]
    return _builtins(span, *lists)


def _put_attributes(out: dict[str, object], attributes: list[KeyValue], rate: list[object]) -> None:
    """husky.put_attributes on structs: its fast cases here, the others through husky."""
    for kv in attributes:
        key = kv.key
        value = kv.value
        if not key or value is None:
            continue
        if key == "sampleRate" or key == "SampleRate":
            slot = 0 if key == "sampleRate" else 1
            if rate[slot] is None:
                rate[slot] = marshallable(_to_builtins(value))
            continue
        if key in out:
            continue
        converted = scalar(value)
        if converted is COMPLEX:
            put_value(out, key, _to_builtins(value), 0)
        else:
            out[key] = converted


def _flatten_plain(
    span: Span, scope: ScopeFields, emit: Callable[[dict[str, object], float, float], None]
) -> None:
    """husky.flatten_span for a span without events or links (its last part only)."""
    trace_id = id_of(span.trace_id, 16, "traceId")
    span_id = id_of(span.span_id, 8, "spanId")
    parent_id = id_of(span.parent_span_id, 8, "parentSpanId")
    name = span.name or ""
    start = nanos(span.start_time_unix_nano)
    end = nanos(span.end_time_unix_nano)
    status = span.status
    code = code_of(0 if status is None else status.code)
    message = "" if status is None else (status.message or "")
    kind = kind_of(span.kind)
    trace_state = span.trace_state or ""
    span_rate: list[object] = [None, None]
    fields: dict[str, object] = {}
    if span.attributes:
        _put_attributes(fields, span.attributes, span_rate)
    if span_rate[0] is None and span_rate[1] is None and not trace_state:
        rate = 1.0
    else:
        rate = sample_rate_of((span_rate, scope.scope_rate, scope.resource_rate), trace_state)
    shared_fields = scope.shared_fields
    if (
        not scope.batched
        or not shared_fields.keys().isdisjoint(fields)
        or not INTRINSIC.isdisjoint(fields)
    ):
        # An attribute shadows an intrinsic or shared field, or a resource or scope field
        # shadows an intrinsic (rare): husky decides which wins.
        flatten_span(
            _span_builtins(span), scope.shared, scope.scope_rate, scope.resource_rate, emit
        )
        return
    # No attribute shadows an intrinsic or shared field: husky's first-wins checks would all
    # pass, in this order.
    fields["trace.trace_id"] = trace_id
    if parent_id:
        fields["trace.parent_id"] = parent_id
    fields["meta.signal_type"] = "trace"
    if code == 2:
        fields["error"] = True
    fields["name"] = name
    fields["trace.span_id"] = span_id
    if trace_state:
        fields["trace.trace_state"] = trace_state
    fields["status_code"] = code
    if message:
        fields["status_message"] = message
    fields["span.num_events"] = 0
    fields["span.num_links"] = 0
    fields["span.kind"] = kind
    fields["type"] = kind
    if start > 0 and end > 0 and end < start:
        fields["duration_ms"] = 0.0
        fields["meta.invalid_duration"] = True
    else:
        fields["duration_ms"] = (end - start) / 1e6 if start > 0 and end > 0 else 0.0
    fields.update(shared_fields)
    emit(fields, start / 1e9 if start > 0 else _NAN, rate)


_NAN: Final = float("nan")
