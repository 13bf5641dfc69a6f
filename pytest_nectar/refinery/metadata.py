"""The metadata fields Refinery's router gives every event before any rule runs.

Read from Refinery's ``types/payload.go`` (``metadataFields``, ``ExtractMetadata``,
``extractCriticalFieldsFromBytes``, ``All``, ``MarshalJSON``), ``route/route.go``
(``processEvent``, ``addIncomingUserAgent``) and ``collect/collect.go`` at 64a874a.  Each
``meta.*`` key below has dedicated storage in Refinery's ``Payload``: a rule's ``Get``/
``Exists`` reads that storage, never the event's own map, and a field "exists" only when it
holds a non-zero value of its Go type.  A literal event field of another type (say
``meta.refinery.root: "true"``) is skipped on ingest and is invisible to rules, to the
nested-field JSON and to the outgoing event.

=====================================  ======  ==================================================
field                                  type    when Refinery sets it (what Nectar models)
=====================================  ======  ==================================================
``meta.refinery.root``                 bool    ``ExtractMetadata``: true, then false when any
                                               ``trace.parent_id``/``parentId`` holds a non-empty
                                               string; a literal bool in the event is read too
                                               (before the parent ids in OTLP order, so a parent
                                               wins); **unset** (does not exist) for
                                               ``meta.signal_type == "log"``.  Nectar: the span's
                                               root status (:attr:`Span.is_root`), not existing
                                               on logs.
``meta.trace_id``                      string  ``ExtractMetadata``: a literal non-empty
                                               ``meta.trace_id``, else a trace-id field
                                               (``trace.trace_id``, ``traceId``) holding a
                                               non-empty string: the first in the event's
                                               key order (Nectar, whose corpus does not keep
                                               key order, prefers ``trace.trace_id`` when an
                                               event has both, different).  It is the id the
                                               trace is grouped by, so Nectar reads the
                                               trace's id.
``meta.signal_type``                   string  Husky's intrinsic (``"trace"``; ``"log"`` for
                                               logs); read from the event.
``meta.annotation_type``               string  Husky's intrinsic on span events
                                               (``"span_event"``) and links (``"link"``).
``meta.refinery.probe``                bool    Set by a Refinery under stress relief on the
                                               copy it forwards; the router **drops** an event
                                               whose probe is true before any trace exists
                                               (the corpus skips it, counted).  A literal false
                                               exists and is false.
``meta.refinery.incoming_user_agent``  string  ``addIncomingUserAgent``: the request's
                                               ``User-Agent`` header, unless the event already
                                               carries one.  A trace file does not record the
                                               header: ``decide``, ``replay`` and ``prove`` on
                                               a corpus refuse rules that read it unless every
                                               event carries it (spans exported after a
                                               Refinery do); the all-traces prover treats it as
                                               a free value (any header, or none);
                                               ``nectar validate`` warns where a rule reads it.
``meta.refinery.local_hostname``,      string  Set by the collector on the way out, after the
``meta.refinery.reason``,                      decision (``AddRuleReasonToTrace``, hostname);
``meta.refinery.send_reason``,                 rules see them only when the event arrived with
``meta.refinery.sample_key``                   them (a corpus exported after a Refinery).
``meta.stressed``                      bool    The same (stress relief decisions).
``meta.span_count``,                   int64   The same (``AddSpanCountToRoot``,
``meta.span_event_count``,                     ``AddCountsToRoot``, sample rates on sent
``meta.span_link_count``,                      events); the batch and OTLP paths accept msgpack
``meta.event_count``,                          ints only (a JSON float is not an int64 there).
``meta.refinery.original_sample_rate``,
``meta.refinery.final_sample_rate``
=====================================  ======  ==================================================

With ``CheckNestedFields`` the gjson lookup runs on ``json.Marshal(span.Data)``, which is
``Payload.All()`` without ``meta.trace_id``: the event's fields except the ``meta.*`` keys
above, then each metadata field that exists, where ``meta.refinery.root`` appears only when
true (:func:`payload_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pytest_nectar.refinery.values import (
    META_BOOL_FIELDS,
    META_INT64_FIELDS,
    META_STRING_FIELDS,
    payload_get,
)
from pytest_nectar.trace import Span

__all__ = [
    "DERIVED_META",
    "META_FIELDS",
    "ROOT",
    "TRACE_ID",
    "USER_AGENT",
    "is_log",
    "meta_field",
    "payload_json",
]

ROOT: Final = "meta.refinery.root"
TRACE_ID: Final = "meta.trace_id"
USER_AGENT: Final = "meta.refinery.incoming_user_agent"
#: Metadata whose value comes from the router, not from the event's own field.
DERIVED_META: Final = frozenset({ROOT, TRACE_ID})
META_FIELDS: Final = META_STRING_FIELDS | META_BOOL_FIELDS | META_INT64_FIELDS


def is_log(data: Mapping[str, object]) -> bool:
    """``meta.signal_type == "log"`` (a log is never a root)."""
    return data.get("meta.signal_type") == "log"


def meta_field(trace_id: str, span: Span, key: str) -> tuple[object, bool]:
    """``(Get(key), Exists(key))`` of a ``meta.*`` key on a span of trace ``trace_id``."""
    if key == ROOT:
        return (None, False) if is_log(span.data) else (span.is_root, True)
    if key == TRACE_ID:
        return (trace_id, True) if trace_id else (None, False)
    return payload_get(span.data, key)


def payload_json(span: Span) -> dict[str, object]:
    """The map Go's ``json.Marshal(span.Data)`` writes (``Payload.All`` minus the trace id)."""
    out = {k: v for k, v in span.data.items() if k not in META_FIELDS}
    for key in sorted(META_FIELDS - DERIVED_META):
        value, exists = payload_get(span.data, key)
        if exists:
            out[key] = value
    if span.is_root and not is_log(span.data):
        out[ROOT] = True
    return out
