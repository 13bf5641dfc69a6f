"""A compact, JSON-able summary of a corpus, for people, reports and the Claude prompt.

Bounded whatever the corpus size: at most ``MAX_FIELDS`` fields (most frequent first),
``TOP_VALUES`` top values each, ``MAX_SERVICES`` services and ``MAX_REASONS`` skip
reasons, values cut at ``MAX_VALUE_CHARS``.  Values of secret-looking fields
(authorization, cookie, token, password, api key, secret, ...) and bearer/basic
credentials anywhere are replaced by ``<redacted>``: corpus values are untrusted and
must never reach a prompt or a log in full.  With a :class:`~.privacy.Scrubber` (``nectar
propose``), every string is also scrubbed of private values *before* it is cut, and the top
values are merged after scrubbing (five addresses become one ``<ip>`` with their counts).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Final

import numpy as np

from pytest_nectar.corpus.privacy import HIGH_CARDINALITY, ID, SECRET, Redaction, Scrubber
from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_FLOAT,
    KIND_INT,
    KIND_NAMES,
    KIND_STRING,
    Column,
    Corpus,
)

__all__ = ["MAX_FIELDS", "is_secret_field", "summarize"]

MAX_FIELDS: Final = 150
TOP_VALUES: Final = 5
MAX_SERVICES: Final = 50
MAX_REASONS: Final = 20
MAX_VALUE_CHARS: Final = 80
REDACTED: Final = "<redacted>"
_SECRET_NAME: Final = re.compile(
    r"auth|cookie|token|passw|pwd|secret|api[._-]?key|apikey|credential|session|private[._-]?key"
    r"|signature|x-api|bearer",
    re.IGNORECASE,
)
_SECRET_VALUE: Final = re.compile(r"^\s*(bearer|basic|token)\s+\S", re.IGNORECASE)


def is_secret_field(name: str) -> bool:
    """Whether a field's values must never be shown (decided by its name)."""
    return bool(_SECRET_NAME.search(name))


def _show(value: object, secret: bool) -> object:
    if secret:
        return REDACTED
    if isinstance(value, str):
        if _SECRET_VALUE.match(value):
            return REDACTED
        return value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 3] + "..."
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(value, 6)


def _scrubbed_top(
    column: Column, order: np.ndarray[Any, Any], counts: np.ndarray[Any, Any], scrub: Scrubber
) -> list[list[object]]:
    """The top values after scrubbing, equal placeholders merged (counts added)."""
    total = int(counts.sum())
    many = order.size >= HIGH_CARDINALITY and 2 * order.size >= total
    fixed = scrub.field_placeholder(column.name)
    if fixed is not None or (many and scrub.level is not Redaction.OFF):
        return [[fixed or ID, total]]  # every value hidden: one placeholder, all the count
    merged: dict[str, int] = {}
    for i in order[: TOP_VALUES * 4]:
        shown = scrub.value(column.name, column.strings[int(i)], high_cardinality=many)
        merged[shown] = merged.get(shown, 0) + int(counts[i])
    top = sorted(merged.items(), key=lambda kv: -kv[1])[:TOP_VALUES]
    return [[_show(value, False), count] for value, count in top]


def _field_summary(column: Column, scrub: Scrubber | None = None) -> dict[str, Any]:
    secret = is_secret_field(column.name) or (
        scrub is not None and scrub.field_placeholder(column.name) == SECRET
    )
    out: dict[str, Any] = {"count": len(column), "types": column.kind_counts()}
    strings = column.kind == KIND_STRING
    if strings.any():
        counts = np.bincount(column.codes[strings], minlength=len(column.strings))
        present = np.flatnonzero(counts)
        out["distinct_strings"] = int(present.size)
        order = present[np.lexsort((present, -counts[present]))]
        if scrub is not None:
            out["top_strings"] = _scrubbed_top(column, order, counts, scrub)
        else:
            top = order[:TOP_VALUES]
            out["top_strings"] = [
                [_show(column.strings[int(i)], secret), int(counts[i])] for i in top
            ]
    numeric = (column.kind == KIND_INT) | (column.kind == KIND_FLOAT)
    if numeric.any():
        values = column.floats[numeric]
        values = values[~np.isnan(values)]
        out["distinct_numbers"] = int(np.unique(values).size)
        if values.size and not secret:
            out["min"] = _number(float(values.min()))
            out["max"] = _number(float(values.max()))
    bools = column.kind == KIND_BOOL
    if bools.any():
        trues = int(column.ints[bools].sum())
        out["bools"] = {"true": trues, "false": int(bools.sum()) - trues}
    if secret:
        out["redacted"] = True
    return out


def _string_values(corpus: Corpus, name: str) -> tuple[np.ndarray[Any, Any], list[str]]:
    column = corpus.columns.get(name)
    if column is None:
        return np.zeros(0, np.int64), []
    mask = column.kind == KIND_STRING
    return column.rows[mask], [column.strings[int(c)] for c in column.codes[mask]]


def _error_rows(corpus: Corpus) -> np.ndarray[Any, Any]:
    rows = np.zeros(corpus.n_rows, dtype=bool)
    error = corpus.columns.get("error")
    if error is not None:
        mask = (error.kind == KIND_BOOL) & (error.ints != 0)
        rows[error.rows[mask]] = True
    status = corpus.columns.get("status_code")
    if status is not None:
        numeric = (status.kind == KIND_INT) | (status.kind == KIND_FLOAT)
        rows[status.rows[numeric & (status.floats == 2)]] = True
    return rows


def _span_rows(corpus: Corpus) -> np.ndarray[Any, Any]:
    spans = np.ones(corpus.n_rows, dtype=bool)
    rows, values = _string_values(corpus, "meta.annotation_type")
    for row, value in zip(rows.tolist(), values, strict=True):
        if value in ("span_event", "link"):
            spans[row] = False
    return spans


def _percentiles(values: np.ndarray[Any, Any]) -> dict[str, float | None]:
    if values.size == 0:
        return {}
    qs = np.percentile(values, [50, 90, 99])
    return {
        "p50": _number(float(qs[0])),
        "p90": _number(float(qs[1])),
        "p99": _number(float(qs[2])),
        "max": _number(float(values.max())),
    }


def summarize(corpus: Corpus, scrub: Scrubber | None = None) -> dict[str, Any]:
    """The corpus summary (JSON-able, bounded size, secrets redacted).

    ``scrub`` also replaces private values (host names, addresses, paths, identifiers) by
    typed placeholders, in field values, service names and skipped-record examples.
    """
    spans = _span_rows(corpus)
    _, annotation_values = _string_values(corpus, "meta.annotation_type")
    kinds = Counter(annotation_values)
    errors = _error_rows(corpus)
    error_traces = np.unique(corpus.row_trace[errors]).size if corpus.n_rows else 0
    service_rows, service_values = _string_values(corpus, "service.name")
    service_counts = Counter(
        v for r, v in zip(service_rows.tolist(), service_values, strict=True) if spans[r]
    )
    if scrub is not None:
        scrubbed: Counter[str] = Counter()
        for name, count in service_counts.items():
            scrubbed[scrub.text(name)] += count
        service_counts = scrubbed
    services = sorted(service_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    duration = corpus.duration_s
    durations = np.zeros(0)
    dcol = corpus.columns.get("duration_ms")
    if dcol is not None:
        numeric = ((dcol.kind == KIND_INT) | (dcol.kind == KIND_FLOAT)) & spans[dcol.rows]
        durations = dcol.floats[numeric]
    rate_ok = math.isfinite(duration) and duration > 0
    fields = sorted(corpus.columns.values(), key=lambda c: (-len(c), c.name))
    reasons = Counter(s.reason for s in corpus.skipped)
    span_count = int(spans.sum())
    return {
        "spans": span_count,
        "events": corpus.n_rows,
        "span_events": kinds.get("span_event", 0),
        "links": kinds.get("link", 0),
        "traces": corpus.n_traces,
        "services": [name for name, _ in services[:MAX_SERVICES]],
        "service_spans": {name: count for name, count in services[:MAX_SERVICES]},
        "services_omitted": max(0, len(services) - MAX_SERVICES),
        "error_spans": int((errors & spans).sum()),
        "error_traces": int(error_traces),
        "roots_missing": int((corpus.root_row < 0).sum()),
        "traces_with_several_roots": int(
            (np.bincount(corpus.row_trace[corpus.is_root], minlength=corpus.n_traces) > 1).sum()
        )
        if corpus.n_traces
        else 0,
        "duration_s": _number(duration),
        "traces_per_s": _number(corpus.n_traces / duration) if rate_ok else None,
        "events_per_s": _number(corpus.n_rows / duration) if rate_ok else None,
        "weighted_traces": _number(float(corpus.weight.sum())),
        "span_duration_ms": _percentiles(durations),
        "must_keep": int(corpus.must_keep.sum()),
        "must_keep_unmatched": len(corpus.must_keep_unmatched),
        "formats": dict(corpus.formats),
        "fields": {c.name: _field_summary(c, scrub) for c in fields[:MAX_FIELDS]},
        "fields_omitted": max(0, len(fields) - MAX_FIELDS),
        "kinds": {name: code for code, name in KIND_NAMES.items()},
        "skipped": {
            "count": len(corpus.skipped),
            "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_REASONS]),
            "examples": [
                str(s) if scrub is None else scrub.location(str(s)) for s in corpus.skipped[:10]
            ],
        },
        "digest": corpus.digest,
    }
