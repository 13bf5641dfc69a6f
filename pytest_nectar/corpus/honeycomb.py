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
from pytest_nectar.limits import MAX_DATA_DEPTH

__all__ = ["looks_like_honeycomb", "read_honeycomb_event", "read_honeycomb_list"]

_ENVELOPE = frozenset({"data", "time", "samplerate"})
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


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
        try:
            return float(raw)
        except OverflowError:
            return math.nan
    return math.nan


def _value(value: Any, json_ints: bool, depth: int = 0) -> Any:
    """A field value as Refinery's JSON API stores it (see the module docstring), with limits.

    Go's decoder refuses a number beyond float64 (or, as an int, int64); nesting is limited
    to :data:`MAX_DATA_DEPTH` so that later walks of the value cannot exhaust the stack.
    """
    if type(value) is int:
        if json_ints:
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise BadRecord("number does not fit in int64", _digits(value))
            return value
        try:
            return float(value)
        except OverflowError:
            raise BadRecord("number is out of float64 range", _digits(value)) from None
    if isinstance(value, list | dict):
        if depth >= MAX_DATA_DEPTH:
            raise BadRecord(f"value nested deeper than {MAX_DATA_DEPTH} levels", "[...]")
        if isinstance(value, list):
            return [_value(v, json_ints, depth + 1) for v in value]
        return {k: _value(v, json_ints, depth + 1) for k, v in value.items()}
    return value


def _digits(value: int) -> str:
    return f"an integer of {len(str(abs(value)))} digits"


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
        if isinstance(raw_rate, int) and not _INT64_MIN <= raw_rate <= _INT64_MAX:
            # Refinery's batch API decodes samplerate into an int64.
            raise BadRecord("samplerate does not fit in int64", _digits(raw_rate))
        rate = float(raw_rate) if raw_rate >= 1 else 1.0
    else:
        fields = doc
        when = _time(doc.get("timestamp", doc.get("time")))
    out: dict[str, Any] = {}
    for k, v in fields.items():
        if type(v) is str or type(v) is float:
            out[k] = v
            continue
        try:
            out[k] = _value(v, ctx.json_ints)
        except BadRecord as err:
            raise BadRecord(f"field {k!r}: {err.what}", err.got) from None
    ctx.emit(out, when, rate)


def read_honeycomb_list(doc: object, ctx: ReadContext) -> None:
    """Emit every event of a JSON array of events (one element = one record)."""
    if not isinstance(doc, list):
        raise BadRecord("Honeycomb events must be a JSON array or JSON Lines", doc)
    for index, event in enumerate(doc):
        ctx.record = index + 1
        ctx.guard("", read_honeycomb_event, event, ctx)
