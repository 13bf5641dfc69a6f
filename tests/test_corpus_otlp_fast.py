"""The typed OTLP/JSON fast path against the exact reader: the same rows, skips and errors.

Differential: every input is read twice, once with the fast path (msgspec structs) and once
with it switched off (``json.loads`` + husky), and the chunk tables must be equal in every
array, value, type, skipped record and error.  Inputs: the real captures, and Hypothesis
requests full of the shapes OTLP/JSON allows or that writers get wrong.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.corpus import documents, json_lines, load_corpus
from pytest_nectar.corpus.context import ReadContext
from pytest_nectar.corpus.documents import IngestOptions
from pytest_nectar.corpus.json_lines import read_lines
from pytest_nectar.corpus.otlp_fast import FastOtlp
from pytest_nectar.corpus.partial import PartialTable
from tests.realdata import files, or_absent


class _Never:
    """The fast path switched off: every record goes to the exact reader."""

    def __init__(self, ctx: ReadContext) -> None:
        del ctx

    def read(self, raw: bytes) -> bool:
        del raw
        return False


class _Counting(FastOtlp):
    taken = 0

    def read(self, raw: bytes) -> bool:
        took = super().read(raw)
        _Counting.taken += took
        return took


def _exact(read: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for module in (documents, json_lines):  # documents, and JSON Lines' records
            mp.setattr(module, "FastOtlp", _Never)
        return read(*args, **kwargs)


def _fast(read: Any, *args: Any, **kwargs: Any) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for module in (documents, json_lines):
            mp.setattr(module, "FastOtlp", _Counting)
        return read(*args, **kwargs)


def assert_same_table(a: PartialTable, b: PartialTable) -> None:
    assert (a.n_rows, a.records, a.skipped, a.error) == (b.n_rows, b.records, b.skipped, b.error)
    assert np.array_equal(a.row_time, b.row_time, equal_nan=True)
    for name in ("row_rate", "row_format", "row_record"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert list(a.columns) == list(b.columns)
    for name, col in a.columns.items():
        other = b.columns[name]
        for part in ("rows", "kind", "ints", "codes"):
            assert np.array_equal(getattr(col, part), getattr(other, part)), (name, part)
        assert np.array_equal(col.floats, other.floats, equal_nan=True), name
        assert col.strings == other.strings, name
        assert col.others == other.others, name


def content(corpus: Any) -> list[Any]:
    """Everything a corpus holds, values with their types (1, 1.0 and True differ)."""
    traces = [repr(t) for t in corpus.iter_traces()]
    arrays = [
        getattr(corpus, n).tobytes()
        for n in ("trace_offsets", "row_trace", "is_root", "root_row", "weight", "row_time")
    ]
    return [corpus.trace_ids, corpus.digest, traces, arrays, corpus.skipped, corpus.formats]


# -- the real captures -------------------------------------------------------------------

REAL = files("*.json", "otlp")


@pytest.mark.usefixtures("realdata")
@pytest.mark.parametrize("path", or_absent([pytest.param(p, id=p.name) for p in REAL]))
@pytest.mark.parametrize("skip_bad", [False, True])
def test_real_captures_read_alike(path: Path, skip_bad: bool) -> None:
    _Counting.taken = 0
    fast = _fast(load_corpus, path, cache=False, skip_bad=skip_bad)
    assert _Counting.taken > 0  # the fast path did the work
    exact = _exact(load_corpus, path, cache=False, skip_bad=skip_bad)
    assert content(fast) == content(exact)


@pytest.mark.usefixtures("realdata")
def test_real_captures_as_json_lines_read_alike(tmp_path: Path) -> None:
    """Every capture re-written as one JSON line each, all in one collector-style file."""
    lines = []
    for path in REAL:
        text = path.read_text(encoding="utf-8")
        try:
            lines.append(json.dumps(json.loads(text), separators=(",", ":")))
        except json.JSONDecodeError:  # already JSON Lines
            lines.extend(line for line in text.splitlines() if line.strip())
    data = ("\n".join(lines) + "\n").encode()
    for skip_bad in (False, True):
        opts = IngestOptions(skip_bad=skip_bad)
        _Counting.taken = 0
        fast = _fast(read_lines, data, "all", opts, 1)
        assert _Counting.taken > len(REAL)
        assert_same_table(fast, _exact(read_lines, data, "all", opts, 1))


# -- generated requests ------------------------------------------------------------------

_HEX16 = st.binary(min_size=16, max_size=16)
_HEX8 = st.binary(min_size=8, max_size=8)


def _ids(raw: st.SearchStrategy[bytes]) -> st.SearchStrategy[object]:
    return st.one_of(
        raw.map(bytes.hex),
        raw.map(lambda b: b.hex().upper()),
        raw.map(lambda b: base64.b64encode(b).decode()),
        raw.map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")),
        st.just(""),
        st.none(),
        st.just("zz-not-an-id"),
        st.integers(0, 9),
    )


_INTS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, "+7", " 7", "1_0", "0x10", 1.0, 2.5, True]),
)
_FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**70), 2**70),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1.5", "x", None, True]),
)
_KEYS = st.sampled_from(
    [
        "http.status_code",
        "name",
        "sampleRate",
        "SampleRate",
        "error",
        "a",
        "a.b",
        "",
        "trace.trace_id",
    ]
)


def _any_value(depth: int = 0) -> st.SearchStrategy[object]:
    scalar = st.one_of(
        st.builds(lambda s: {"stringValue": s}, st.text(max_size=8)),
        st.builds(lambda i: {"intValue": i}, _INTS),
        st.builds(lambda d: {"doubleValue": d}, _FLOATS),
        st.builds(lambda b: {"boolValue": b}, st.one_of(st.booleans(), st.just("true"))),
        st.builds(
            lambda b: {"bytesValue": b},
            st.one_of(
                st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode()), st.just("@@")
            ),
        ),
        st.just({}),
        st.just({"stringValue": None}),
        st.fixed_dictionaries({"stringValue": st.text(max_size=3), "intValue": _INTS}),
        st.fixed_dictionaries({"doubleValue": _FLOATS, "kvlistValue": st.just({"values": []})}),
        st.integers(0, 3),
    )
    if depth >= 3:
        return scalar
    inner = st.deferred(lambda: _any_value(depth + 1))
    return st.one_of(
        scalar,
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kvs: {"kvlistValue": {"values": kvs}},
            st.lists(st.builds(lambda k, v: {"key": k, "value": v}, _KEYS, inner), max_size=3),
        ),
        st.just({"arrayValue": {}}),
        st.just({"kvlistValue": {"values": None}}),
    )


_ATTRS = st.one_of(
    st.lists(
        st.one_of(
            st.builds(lambda k, v: {"key": k, "value": v}, _KEYS, _any_value()),
            st.builds(lambda k: {"key": k}, _KEYS),
            st.just({"key": 5, "value": {"stringValue": "x"}}),
        ),
        max_size=5,
    ),
    st.none(),
)
_NANOS = st.one_of(
    st.integers(0, 2**62),
    st.integers(0, 2**62).map(str),
    st.none(),
    st.sampled_from([1.5e18, "x", " 7", "1_0", "+7", -5, "-5", 2**64, str(2**64), "0" * 30 + "1"]),
)
_KIND = st.sampled_from(
    [0, 1, 2, 3, 5, 9, -1, 2**31, "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "server", None]
)
_CODE = st.sampled_from(
    [0, 1, 2, 7, -(2**31) - 1, 2**40, "STATUS_CODE_ERROR", "STATUS_CODE_OK", "ERROR", None]
)


def _optional(**fields: st.SearchStrategy[object]) -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries({}, optional=fields)


_EVENT = _optional(
    timeUnixNano=_NANOS, name=st.sampled_from(["exception", "log", None]), attributes=_ATTRS
)
_LINK = _optional(traceId=_ids(_HEX16), spanId=_ids(_HEX8), attributes=_ATTRS)
_SPAN = st.one_of(
    _optional(
        traceId=_ids(_HEX16),
        spanId=_ids(_HEX8),
        parentSpanId=_ids(_HEX8),
        name=st.one_of(st.text(max_size=6), st.none(), st.just(3)),
        kind=_KIND,
        startTimeUnixNano=_NANOS,
        endTimeUnixNano=_NANOS,
        traceState=st.sampled_from(["", "ot=th:8", "th=c", None]),
        attributes=_ATTRS,
        events=st.one_of(st.lists(_EVENT, max_size=2), st.none()),
        links=st.one_of(st.lists(_LINK, max_size=2), st.none()),
        status=st.one_of(
            _optional(code=_CODE, message=st.one_of(st.text(max_size=4), st.none())), st.none()
        ),
    ),
    st.just("not a span"),
)
_SCOPE = st.one_of(
    _optional(
        name=st.sampled_from(["io.opentelemetry.x", "mine", None]),
        version=st.sampled_from(["1", None]),
        attributes=_ATTRS,
    ),
    st.none(),
)
_SCOPE_SPANS = st.builds(
    lambda scope_key, scope, schema, spans: {
        **({scope_key: scope} if scope_key else {}),
        **({"schemaUrl": schema} if schema is not None else {}),
        "spans": spans,
    },
    st.sampled_from(["scope", "instrumentationLibrary", None]),
    _SCOPE,
    st.sampled_from(["https://s/1", "", None]),
    st.one_of(st.lists(_SPAN, max_size=3), st.none()),
)
_RESOURCE_SPANS = st.builds(
    lambda inner, resource, scope_spans: {inner: scope_spans, "resource": resource},
    st.sampled_from(["scopeSpans", "instrumentationLibrarySpans"]),
    st.one_of(st.builds(lambda a: {"attributes": a}, _ATTRS), st.none()),
    st.lists(_SCOPE_SPANS, max_size=2),
)
_REQUEST = st.builds(
    lambda top, rs: {top: rs},
    st.sampled_from(["resourceSpans", "batches"]),
    st.lists(_RESOURCE_SPANS, min_size=1, max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests=st.lists(_REQUEST, min_size=1, max_size=3), skip_bad=st.booleans())
def test_generated_requests_read_alike(requests: list[dict[str, Any]], skip_bad: bool) -> None:
    data = "".join(json.dumps(r) + "\n" for r in requests).encode()
    opts = IngestOptions(skip_bad=skip_bad)
    assert_same_table(_fast(read_lines, data, "g", opts, 1), _exact(read_lines, data, "g", opts, 1))


def test_common_spans_take_the_fast_path() -> None:
    span = {
        "traceId": "0" * 31 + "1",
        "spanId": "0" * 15 + "2",
        "name": "GET",
        "kind": "SPAN_KIND_SERVER",
        "startTimeUnixNano": "1730000000000000000",
        "endTimeUnixNano": "1730000000500000000",
        "attributes": [{"key": "http.status_code", "value": {"intValue": "500"}}],
        "status": {"code": 2},
    }
    line = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    _Counting.taken = 0
    table = _fast(read_lines, line + b"\n", "t", IngestOptions(), 1)
    assert _Counting.taken == 1 and table.n_rows == 1
    column = table.columns["http.status_code"]
    assert column.ints.tolist() == [500] and table.columns["error"].ints.tolist() == [1]


def test_other_signals_first_do_not_turn_the_fast_path_off() -> None:
    """A collector file may start with metrics and logs; its traces still take the fast path."""
    span = {"traceId": "0" * 31 + "1", "spanId": "0" * 15 + "2", "name": "GET"}
    trace = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    other = [json.dumps({"resourceMetrics": []}), json.dumps({"resourceLogs": [{}]})] * 10
    data = "\n".join([*other, trace, trace]).encode()
    _Counting.taken = 0
    table = _fast(read_lines, data, "t", IngestOptions(), 1)
    assert _Counting.taken == 2 and table.n_rows == 2 and len(table.skipped) == 20
