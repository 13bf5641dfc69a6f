"""Honeycomb events reader: flat JSON objects, as JSON Lines or a JSON array.

An event is either a flat object of fields (``trace.trace_id``, ``trace.span_id``,
``trace.parent_id``, ``duration_ms``, ...) or the batch-API envelope
``{"data": {...}, "time": ..., "samplerate": N}``.

Value types are what Refinery's JSON API produces: **every JSON number becomes a
float64** (Refinery turns JSON into msgpack floats), so ``"duration_ms": 32`` is the float
``32.0``.  With ``json_ints=True`` (``--json-ints``) integers are kept as written
(int64), which is what the msgpack API or an OTLP path would give.  Nested objects and
arrays stay as they are (kind ``other``), with the same number rule inside.

Time: the envelope's ``time``, else a ``timestamp`` or ``time`` field (RFC 3339 text or
unix seconds); the field itself stays in the event.  The sample rate is the envelope's
``samplerate`` (1 when absent).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pytest_nectar.corpus.context import FMT_HONEYCOMB, ReadContext
from pytest_nectar.corpus.husky import BadRecord
from pytest_nectar.refinery.values import json_floats

__all__ = ["looks_like_honeycomb", "read_honeycomb_event", "read_honeycomb_list"]

_ENVELOPE = frozenset({"data", "time", "samplerate"})


def looks_like_honeycomb(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    data = doc.get("data")
    if isinstance(data, dict) and set(doc) <= _ENVELOPE:
        return True
    return "trace.trace_id" in doc or "traceId" in doc or "trace.span_id" in doc


def _time(raw: object) -> float:
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return math.nan
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    return math.nan


def read_honeycomb_event(doc: object, ctx: ReadContext) -> None:
    """Emit one event (one record)."""
    ctx.fmt = FMT_HONEYCOMB
    if not isinstance(doc, dict):
        raise BadRecord("a Honeycomb event must be a JSON object", doc)
    rate = 1.0
    if isinstance(doc.get("data"), dict) and set(doc) <= _ENVELOPE:
        fields: dict[str, Any] = doc["data"]
        when = _time(doc.get("time"))
        raw_rate = doc.get("samplerate", 1)
        if isinstance(raw_rate, bool) or not isinstance(raw_rate, int | float):
            raise BadRecord("samplerate must be a number", raw_rate)
        rate = float(raw_rate) if raw_rate >= 1 else 1.0
    else:
        fields = doc
        when = _time(doc.get("timestamp", doc.get("time")))
    if not ctx.json_ints:
        fields = {
            k: (
                float(v)
                if type(v) is int
                else (json_floats(v) if isinstance(v, list | dict) else v)
            )
            for k, v in fields.items()
        }
    else:
        fields = dict(fields)
    ctx.emit(fields, when, rate)


def read_honeycomb_list(doc: object, ctx: ReadContext) -> None:
    """Emit every event of a JSON array of events (one element = one record)."""
    if not isinstance(doc, list):
        raise BadRecord("Honeycomb events must be a JSON array or JSON Lines", doc)
    for index, event in enumerate(doc):
        ctx.record = index + 1
        ctx.guard("", read_honeycomb_event, event, ctx)
