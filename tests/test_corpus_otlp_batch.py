"""Spans flattened a batch at a time against the exact reader: the same chunk tables.

``otlp_batch`` flattens the common spans of a record together, in columns, and hands the
others back one at a time.  Differential, like ``test_corpus_otlp_fast``: requests of many
spans (so batches form), most of the common case with the variations the batch path must
get right (ids in hex, upper case, base64 or with a zero upper half; timestamps as strings
or numbers, reversed or zero; attribute values of every scalar kind, mixed per key; keys in
one or several orders; optional intrinsics), mixed with any span the fast path's test
generates, and with scope and resource fields that collide with attributes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.documents import IngestOptions
from pytest_nectar.corpus.json_lines import read_lines
from tests.test_corpus_otlp_fast import _ATTRS, _SPAN, _exact, _fast, assert_same_table

_ID16 = st.binary(min_size=16, max_size=16)
_TRACE_ID = st.one_of(
    _ID16.map(bytes.hex),
    _ID16.map(lambda b: b.hex().upper()),
    st.binary(min_size=8, max_size=8).map(lambda b: "0" * 16 + b.hex()),
    _ID16.map(lambda b: base64.b64encode(b).decode()),
)
_SPAN_ID = st.one_of(
    st.binary(min_size=8, max_size=8).map(bytes.hex),
    st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper()),
)
_PARENT_ID = st.one_of(_SPAN_ID, st.just(""), st.none())
_NANOS = st.one_of(
    st.integers(0, 2**64 - 1).map(str),
    st.integers(1_700_000_000_000_000_000, 1_700_000_000_100_000_000).map(str),
    st.integers(0, 2**63),
    st.just("0"),
)
_VALUES = {
    "s": st.builds(lambda s: {"stringValue": s}, st.text(max_size=4)),
    "i": st.builds(lambda i: {"intValue": str(i)}, st.integers(-(2**63), 2**63 - 1)),
    "n": st.builds(lambda i: {"intValue": i}, st.integers(0, 2**63 - 1)),
    "d": st.builds(lambda d: {"doubleValue": d}, st.floats(allow_nan=False, allow_infinity=False)),
    "b": st.builds(lambda b: {"boolValue": b}, st.booleans()),
}
_KEYS = ["http.method", "http.status_code", "k", "a.b", "service.name", "library.name"]


@st.composite
def _common_span(draw: st.DrawFn, keys: list[tuple[str, str]]) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": draw(_TRACE_ID),
        "spanId": draw(_SPAN_ID),
        "parentSpanId": draw(_PARENT_ID),
        "name": draw(st.sampled_from(["GET /", "", "q"])),
        "kind": draw(st.sampled_from([0, 1, 2, 3, 4, 5, 9, "SPAN_KIND_SERVER"])),
        "startTimeUnixNano": draw(_NANOS),
        "endTimeUnixNano": draw(_NANOS),
    }
    if draw(st.booleans()):  # this span's attributes in another order, or one kind changed
        keys = draw(st.permutations(keys))
        if keys and draw(st.booleans()):
            keys = [(keys[0][0], draw(st.sampled_from(sorted(_VALUES)))), *keys[1:]]
    span["attributes"] = [{"key": k, "value": draw(_VALUES[kind])} for k, kind in keys]
    status = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "code": st.sampled_from([0, 1, 2, 7, "STATUS_CODE_ERROR"]),
                "message": st.text(max_size=2),
            },
        )
    )
    if status or draw(st.booleans()):
        span["status"] = status
    return span


@st.composite
def _scope_spans(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(_KEYS), st.sampled_from(sorted(_VALUES))),
            max_size=4,
            unique_by=lambda kv: kv[0],
        )
    )
    spans = draw(st.lists(_common_span(keys), min_size=8, max_size=30))
    for other in draw(st.lists(_SPAN, max_size=2)):  # an uncommon span, in its place
        spans.insert(draw(st.integers(0, len(spans))), other)
    out: dict[str, Any] = {"spans": spans}
    if draw(st.booleans()):
        out["scope"] = {"name": draw(st.sampled_from(["io.opentelemetry.x", "mine"]))}
    return out


_REQUEST = st.builds(
    lambda resources: {"resourceSpans": resources},
    st.lists(
        st.builds(
            lambda attrs, scope_spans: {
                "resource": {"attributes": attrs},
                "scopeSpans": scope_spans,
            },
            st.one_of(
                st.just([{"key": "service.name", "value": {"stringValue": "cart"}}]),
                st.just([]),
                _ATTRS,
            ),
            st.lists(_scope_spans(), min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=2,
    ),
)


class _Blocks(RowBuffer):
    """Counts the rows that arrive as blocks (flattened by the batch path)."""

    rows = 0

    def add_block(self, shape: Any, rows: Any, columns: Any) -> None:
        _Blocks.rows += len(rows)
        super().add_block(shape, rows, columns)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests=st.lists(_REQUEST, min_size=1, max_size=3), skip_bad=st.booleans())
def test_batches_read_alike(requests: list[dict[str, Any]], skip_bad: bool) -> None:
    data = "".join(json.dumps(r) + "\n" for r in requests).encode()
    opts = IngestOptions(skip_bad=skip_bad)
    assert_same_table(_fast(read_lines, data, "g", opts, 1), _exact(read_lines, data, "g", opts, 1))


def _line(spans: list[dict[str, Any]]) -> bytes:
    request = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    return json.dumps(request).encode() + b"\n"


def _plain(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "traceId": f"{i // 4:032x}",
        "spanId": f"{i + 1:016x}",
        "parentSpanId": "" if i % 4 == 0 else f"{i - i % 4 + 1:016x}",
        "name": "GET",
        "startTimeUnixNano": str(1_730_000_000_000_000_000 + i),
        "endTimeUnixNano": str(1_730_000_000_000_000_500 + i),
        "attributes": [
            {"key": "http.status_code", "value": {"intValue": str(200 + i % 3)}},
            {"key": "http.route", "value": {"stringValue": f"/r{i % 5}"}},
        ],
        **extra,
    }


def test_common_spans_are_flattened_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record of common spans is one batch; an uncommon span in it keeps its place."""
    spans = [_plain(i) for i in range(20)]
    spans[10]["events"] = [{"name": "exception", "timeUnixNano": "1"}]
    spans[13]["status"] = {"code": 2, "message": "boom"}
    data = _line(spans)
    monkeypatch.setattr("pytest_nectar.corpus.json_lines.RowBuffer", _Blocks)
    _Blocks.rows = 0
    fast = _fast(read_lines, data, "t", IngestOptions(), 1)
    assert _Blocks.rows == 19  # all but the span with an event (it is two rows)
    assert fast.n_rows == 21
    exact = _exact(read_lines, data, "t", IngestOptions(), 1)
    assert_same_table(fast, exact)
    assert fast.columns["error"].rows.tolist() == [14]  # after the event row
    assert np.array_equal(fast.columns["http.status_code"].ints[:3], [200, 201, 202])


def test_a_bad_span_in_a_batch_sends_the_record_to_the_exact_reader() -> None:
    spans = [_plain(i) for i in range(12)]
    spans[5]["startTimeUnixNano"] = "17e8"
    data = _line(spans) + _line([_plain(i) for i in range(12, 24)])
    for skip_bad in (False, True):
        opts = IngestOptions(skip_bad=skip_bad)
        fast = _fast(read_lines, data, "t", opts, 1)
        assert_same_table(fast, _exact(read_lines, data, "t", opts, 1))


_AMBIGUOUS = [
    {"doubleValue": 0, "kvlistValue": {"values": []}},
    {"doubleValue": 3, "intValue": "x"},
    {"doubleValue": 3.5, "intValue": " 7"},
]


@pytest.mark.parametrize("value", _AMBIGUOUS)
@pytest.mark.parametrize("where", ["resource", "scope", "span", "event", "link"])
def test_a_double_written_as_an_integer_beside_a_kvlist_or_int(value: object, where: str) -> None:
    """msgspec reads doubleValue 3 as 3.0, and husky takes a float doubleValue before a
    kvlistValue or an intValue but an integer one after them: such a record is the exact
    reader's, wherever the attribute is (found by test_batches_read_alike)."""
    attribute = [{"key": "http.status_code", "value": value}]
    spans = [_plain(i) for i in range(10)]
    if where == "span":
        spans[3]["attributes"] = attribute
    elif where in ("event", "link"):
        key = "events" if where == "event" else "links"
        spans[3][key] = [{"name": "e", "attributes": attribute}]
    scope_spans: dict[str, Any] = {"spans": spans}
    if where == "scope":
        scope_spans["scope"] = {"name": "s", "attributes": attribute}
    resource = {"attributes": attribute if where == "resource" else []}
    line = json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [scope_spans]}]})
    data = line.encode() + b"\n" + _line([_plain(i) for i in range(10, 20)])
    for skip_bad in (False, True):
        opts = IngestOptions(skip_bad=skip_bad)
        assert_same_table(
            _fast(read_lines, data, "t", opts, 1), _exact(read_lines, data, "t", opts, 1)
        )
