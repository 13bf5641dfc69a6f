"""TRACE JSON: one trace as a JSON document, read by ``nectar decide`` and expectations,
written for witnesses (``prove --save-witnesses``, the pytest plugin's witness files,
``prove --add-expectations``).

Two shapes are read: a list of Honeycomb-style events (flat field objects, or batch-API
``{"data": {...}}`` envelopes; numbers become float64 as Refinery's JSON API makes them; the
root is the event without a non-empty ``trace.parent_id``/``parentId``), or the cases-file
shape ``{"trace_id": "...", "spans": [{"root": bool, "data": {...}, "go_types": {...}}]}``
(numbers kept as written: ints are int64).  The writer emits the cases-file shape, so a
written witness reads back as the trace that was decided.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_nectar.errors import CorpusError, Position
from pytest_nectar.limits import BEYOND_DECODER, MAX_DATA_DEPTH, beyond_decoder
from pytest_nectar.refinery.values import json_floats
from pytest_nectar.trace import GoInt, Span, Trace

__all__ = ["jsonable", "load_trace_file", "trace_doc", "trace_from_json", "write_trace_file"]

_MAX_TRACE_BYTES = 64 * 1024 * 1024
_TRACE_ID_FIELDS = ("meta.trace_id", "trace.trace_id", "traceId")
_PARENT_FIELDS = ("trace.parent_id", "parentId")


def _is_root(data: dict[str, Any]) -> bool:
    # Refinery's ExtractMetadata: a literal bool meta.refinery.root, then the parent ids.
    if data.get("meta.signal_type") == "log" or data.get("meta.refinery.root") is False:
        return False
    return not any(isinstance(data.get(f), str) and data.get(f) != "" for f in _PARENT_FIELDS)


def _trace_id(data: dict[str, Any]) -> str | None:
    for f in _TRACE_ID_FIELDS:
        v = data.get(f)
        if isinstance(v, str) and v:
            return v
    return None


def load_trace_file(path: str) -> Trace:
    """Read a TRACE file (see the module docstring) into a :class:`Trace`."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_TRACE_BYTES:
            raise CorpusError(
                "trace file is too large", position=Position(path), got=p.stat().st_size
            )
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise CorpusError(
            "cannot read trace file", position=Position(path), got=err.strerror
        ) from None
    except UnicodeDecodeError:
        raise CorpusError("trace file is not valid UTF-8", position=Position(path)) from None
    except json.JSONDecodeError as err:
        raise CorpusError(
            f"trace file is not valid JSON: {err.msg}",
            position=Position(path, err.lineno, err.colno),
        ) from None
    except BEYOND_DECODER as err:
        raise CorpusError(
            f"trace file is not valid JSON: {beyond_decoder(err)}", position=Position(path)
        ) from None
    try:
        return trace_from_json(doc, path)
    except RecursionError:  # nested values are walked recursively
        raise CorpusError(
            f"trace file is nested more than {MAX_DATA_DEPTH} levels deep", position=Position(path)
        ) from None


def trace_from_json(doc: Any, path: str) -> Trace:
    """A decoded TRACE document (see the module docstring) as a :class:`Trace`.

    ``path`` only locates messages (the pytest plugin passes an expectation's line).
    """
    if isinstance(doc, dict) and isinstance(doc.get("spans"), list):
        spans = []
        for i, s in enumerate(doc["spans"]):
            if not isinstance(s, dict) or not isinstance(s.get("data"), dict):
                raise CorpusError(
                    f"spans[{i}] must be an object with a 'data' object", position=Position(path)
                )
            data = dict(s["data"])
            for key, gotype in (s.get("go_types") or {}).items():
                if gotype == "int" and type(data.get(key)) is int:
                    data[key] = GoInt(data[key])
            spans.append(Span(data, bool(s.get("root", False))))
        trace_id = doc.get("trace_id", "")
        return Trace(trace_id if isinstance(trace_id, str) else str(trace_id), tuple(spans))
    if isinstance(doc, list):
        events = []
        ids: set[str] = set()
        for i, e in enumerate(doc):
            if not isinstance(e, dict):
                raise CorpusError(f"event {i} is not a JSON object", position=Position(path), got=e)
            data = e["data"] if isinstance(e.get("data"), dict) else e
            data = json_floats(data)
            if data.get("meta.refinery.probe") is True:
                continue  # Refinery's router drops probes before any trace exists
            tid = _trace_id(data)
            if tid is not None:
                ids.add(tid)
            events.append(Span(data, _is_root(data)))
        if len(ids) > 1:
            raise CorpusError(
                "trace file holds several trace ids",
                position=Position(path),
                got=sorted(ids)[:5],
                hint="decide takes one trace; use 'nectar replay' for a corpus",
            )
        return Trace(next(iter(ids), ""), tuple(events))
    raise CorpusError(
        "trace file must be a list of events or an object with 'spans'", position=Position(path)
    )


def jsonable(value: object) -> object:
    """A field value as JSON can hold it (non-finite floats and other types as repr)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    return repr(value)


def trace_doc(trace_id: str, spans: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The cases-file document of a trace given as ``[{"root": bool, "data": {...}}]``."""
    out = []
    for span in spans:
        data = span["data"]
        doc: dict[str, Any] = {
            "root": bool(span["root"]),
            "data": {k: jsonable(v) for k, v in data.items()},
        }
        go_ints = {k: "int" for k, v in data.items() if type(v) is GoInt}
        if go_ints:
            doc["go_types"] = go_ints
        out.append(doc)
    return {"trace_id": trace_id, "spans": out}


def write_trace_file(path: Path, trace_id: str, spans: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Write a TRACE file (atomically, creating its folder); returns the document written."""
    from pytest_nectar.fileio import write_atomic

    doc = trace_doc(trace_id, spans)
    write_atomic(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc
