"""OTLP/JSON reader: an ``ExportTraceServiceRequest`` (or ``TracesData``) object.

Accepts the spec's lowerCamelCase keys, the legacy ``instrumentationLibrarySpans`` /
``instrumentationLibrary`` names, and Tempo's ``batches``.  Ids are hex or base64,
decided per id by shape (see :func:`~pytest_nectar.corpus.husky.otlp_id`); ``intValue``
and timestamps may be numbers or decimal strings; ``kind`` and ``status.code`` may be
integers or enum names.  Every span is one unit: a bad span is skipped whole (with
``skip_bad``) or stops the load.
"""

from __future__ import annotations

from typing import Any, Final

from pytest_nectar.corpus.context import FMT_OTLP, ReadContext
from pytest_nectar.corpus.husky import BadRecord, flatten_span, scope_and_resource_fields

__all__ = ["NON_TRACE_KEYS", "TRACE_KEYS", "read_otlp"]

TRACE_KEYS: Final = ("resourceSpans", "batches")
#: Top-level keys of the other OTLP signals a collector file may interleave with traces.
NON_TRACE_KEYS: Final = {
    "resourceMetrics": "metrics",
    "resourceLogs": "logs",
    "resourceProfiles": "profiles",
}


def _list(container: dict[str, Any], *keys: str) -> tuple[str, list[Any]]:
    for key in keys:
        if key in container:
            value = container[key]
            if value is None:
                return key, []
            if not isinstance(value, list):
                raise BadRecord(f"{key} must be a list", value)
            return key, value
    return keys[0], []


def read_otlp(doc: object, ctx: ReadContext) -> None:
    """Emit the rows of every span in one OTLP trace request."""
    ctx.fmt = FMT_OTLP
    if not isinstance(doc, dict):
        raise BadRecord("OTLP request must be a JSON object", doc)
    top, resource_spans = _list(doc, *TRACE_KEYS)
    for r_index, rs in enumerate(resource_spans):
        where_rs = f"{top}[{r_index}]"
        if not isinstance(rs, dict):
            ctx.guard(where_rs, _raise(BadRecord("must be an object", rs)))
            continue
        inner, scope_spans = _list(rs, "scopeSpans", "instrumentationLibrarySpans")
        for s_index, ss in enumerate(scope_spans):
            where_ss = f"{where_rs}.{inner}[{s_index}]"
            if not isinstance(ss, dict):
                ctx.guard(where_ss, _raise(BadRecord("must be an object", ss)))
                continue
            scope = ss.get("scope", ss.get("instrumentationLibrary"))
            try:
                shared, scope_rate, resource_rate = scope_and_resource_fields(
                    scope, ss.get("schemaUrl"), rs.get("resource"), rs.get("schemaUrl")
                )
                _, spans = _list(ss, "spans")
            except BadRecord as err:
                ctx.guard(where_ss, _raise(err))
                continue
            for p_index, span in enumerate(spans):
                ctx.guard(
                    f"{where_ss}.spans[{p_index}]",
                    flatten_span,
                    span,
                    shared,
                    scope_rate,
                    resource_rate,
                    ctx.emit,
                )


def _raise(err: BadRecord) -> Any:
    def fail() -> None:
        raise err

    return fail
