"""The batch path of OTLP protobuf against the exact reading: the same rows, skips and errors.

Differential: every file of length-delimited messages is read twice, once with the batch
path (``otlp_proto.ProtoBatch``) and once with it switched off (each message walked into
its OTLP/JSON object and read by the OTLP reader span by span), and the chunk tables must
be equal in every array, value, type, dictionary, skipped record and error.  Inputs:
Hypothesis requests built with protobuf's own classes, full of what protobuf allows and the
common case does not hold (ids of any length, every AnyValue member and none, events,
links, big uint64 times, enums outside their names, duplicate keys, attributes named like
intrinsics or like scope and resource fields, sample rates, empty strings), and the real
captures.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pytest_nectar.corpus import Corpus, ingest, load_corpus, otlp_proto, proto_stream
from pytest_nectar.corpus.ingest import IngestOptions
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.corpus.proto_stream import read_proto
from pytest_nectar.errors import CorpusError
from tests.realdata import files
from tests.test_corpus_containers import _framed, _proto, _requests
from tests.test_corpus_otlp_fast import assert_same_table
from tests.test_corpus_store import _same as assert_same_corpus

# -- reading a file both ways ------------------------------------------------------------


class _Counting(otlp_proto.ProtoBatch):
    taken = 0

    def read(self, message: Any) -> bool:
        took = super().read(message)
        _Counting.taken += took
        return took


class _Never(otlp_proto.ProtoBatch):
    """The batch path switched off: every message goes to the exact reading."""

    def read(self, message: Any) -> bool:
        del message
        return False


def _read(data: bytes, batch: type[otlp_proto.ProtoBatch], skip_bad: bool) -> PartialTable | str:
    """The file's one chunk, or the error it stops with."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(proto_stream, "ProtoBatch", batch)
        try:
            [chunk] = read_proto(io.BytesIO(data), "g.pb", IngestOptions(skip_bad=skip_bad))
            return chunk
        except CorpusError as err:
            return str(err)


def assert_read_alike(data: bytes, skip_bad: bool) -> None:
    fast, exact = _read(data, _Counting, skip_bad), _read(data, _Never, skip_bad)
    if isinstance(exact, str) or isinstance(fast, str):
        assert fast == exact
    else:
        assert_same_table(fast, exact)


# -- generated requests ------------------------------------------------------------------

#: Keys the common case has, then keys husky must decide about (rates, intrinsics, scope and
#: resource fields, the empty key).
_COMMON_KEYS = ["http.method", "http.status_code", "app.user", "a.b"]
_RARE_KEYS = [
    "sampleRate",
    "SampleRate",
    "name",
    "error",
    "trace.trace_id",
    "duration_ms",
    "status_code",
    "type",
    "library.name",
    "service.name",
    "",
]
_KEYS = st.one_of(st.sampled_from(_COMMON_KEYS), st.sampled_from(_RARE_KEYS))
_TEXT = st.one_of(st.just(""), st.text(max_size=4))
_INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 2**63 - 1, -(2**63)]))
_DOUBLE = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 3.0]))
_SCALAR: st.SearchStrategy[tuple[str, Any]] = st.one_of(
    st.tuples(st.just("string_value"), _TEXT),
    st.tuples(st.just("int_value"), _INT64),
    st.tuples(st.just("double_value"), _DOUBLE),
    st.tuples(st.just("bool_value"), st.booleans()),
)
_VALUE: st.SearchStrategy[tuple[str, Any]] = st.recursive(
    st.one_of(
        _SCALAR,
        st.tuples(st.just("bytes_value"), st.binary(max_size=4)),
        st.just(("none", None)),
    ),
    lambda inner: st.one_of(
        st.tuples(st.just("array_value"), st.lists(inner, max_size=3)),
        st.tuples(st.just("kvlist_value"), st.lists(st.tuples(_KEYS, inner), max_size=3)),
    ),
    max_leaves=5,
)
_ATTRS = st.lists(st.tuples(_KEYS, _VALUE), max_size=4)
#: Ids of the sizes ids have, none, or any other length.
_TRACE_ID = st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20))
_SPAN_ID = st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10))
_PARENT_ID = st.one_of(st.just(b""), st.binary(min_size=8, max_size=8))
_ANY_ID = st.binary(max_size=20)
_NANOS = st.one_of(
    st.integers(1_700_000_000_000_000_000, 1_700_000_010_000_000_000),
    st.integers(0, 2**64 - 1),
    st.sampled_from([0, 2**63, 2**64 - 1]),
)
_INT32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def _span(draw: st.DrawFn, template: list[str], rarity: int) -> dict[str, Any]:
    """A span of the common case (the scope's usual keys, scalar values, ids of 16 and 8
    bytes or none, no events, links or tracestate) unless one in 20 < ``rarity`` draws."""

    def rare() -> bool:
        return draw(st.integers(0, 19)) < rarity

    attributes = draw(_ATTRS) if rare() else [(key, draw(_SCALAR)) for key in template]
    events = st.tuples(st.sampled_from(["exception", "log", ""]), _NANOS, _ATTRS)
    links = st.tuples(_TRACE_ID, _SPAN_ID, _ATTRS)
    return {
        "trace_id": draw(_ANY_ID if rare() else st.binary(min_size=16, max_size=16)),
        "span_id": draw(_ANY_ID if rare() else st.binary(min_size=8, max_size=8)),
        "parent_span_id": draw(_ANY_ID if rare() else _PARENT_ID),
        "name": draw(_TEXT),
        "kind": draw(st.one_of(st.integers(0, 5), _INT32)),
        "start_time_unix_nano": draw(_NANOS),
        "end_time_unix_nano": draw(_NANOS),
        "trace_state": draw(st.sampled_from(["ot=th:8", "th=c", "x=y"])) if rare() else "",
        "attributes": attributes,
        "events": draw(st.lists(events, min_size=1, max_size=2)) if rare() else [],
        "links": draw(st.lists(links, min_size=1, max_size=2)) if rare() else [],
        "status": (draw(st.one_of(st.integers(0, 2), _INT32)), draw(_TEXT)),
    }


#: Scope and resource attributes: none, a service's, one named like a span attribute of the
#: common case, or anything (intrinsic names and sample rates make every span husky's).
_SHARED = st.one_of(
    st.just([]),
    st.builds(lambda v: [("service.name", v)], _SCALAR),
    st.builds(lambda v: [("http.method", v)], _SCALAR),
    _ATTRS,
)


@st.composite
def _scope_spans(draw: st.DrawFn) -> dict[str, Any]:
    template = draw(st.lists(st.sampled_from(_COMMON_KEYS), max_size=4, unique=True))
    rarity = draw(st.sampled_from([0, 0, 0, 1, 4, 20]))
    n = draw(st.sampled_from([0, 1, 3, 8, 9, 12, 16, 20]))
    return {
        "name": draw(st.sampled_from(["", "io.opentelemetry.http", "mine"])),
        "version": draw(st.sampled_from(["", "1.2"])),
        "attributes": draw(_SHARED),
        "schema_url": draw(st.sampled_from(["", "https://s/1"])),
        "spans": draw(st.lists(_span(template, rarity), min_size=n, max_size=n)),
    }


_REQUEST = st.lists(
    st.fixed_dictionaries(
        {
            "attributes": _SHARED,
            "schema_url": st.sampled_from(["", "https://r/1"]),
            "scope_spans": st.lists(_scope_spans(), max_size=2),
        }
    ),
    max_size=2,
)


def put_value(target: Any, value: tuple[str, Any]) -> None:
    member, payload = value
    if member == "none":
        return
    if member == "array_value":
        target.array_value.SetInParent()
        for item in payload:
            put_value(target.array_value.values.add(), item)
    elif member == "kvlist_value":
        target.kvlist_value.SetInParent()
        _put_attributes(target.kvlist_value.values, payload)
    else:
        setattr(target, member, payload)


def _put_attributes(target: Any, attributes: list[tuple[str, Any]]) -> None:
    for key, value in attributes:
        kv = target.add()
        kv.key = key
        put_value(kv.value, value)


def _message(resource_spans: list[dict[str, Any]]) -> bytes:
    """The request built with protobuf's own classes (any int32 enum, any id length)."""
    request = ExportTraceServiceRequest()
    for rs_data in resource_spans:
        rs = request.resource_spans.add()
        rs.schema_url = rs_data["schema_url"]
        _put_attributes(rs.resource.attributes, rs_data["attributes"])
        for ss_data in rs_data["scope_spans"]:
            ss = rs.scope_spans.add()
            ss.schema_url = ss_data["schema_url"]
            ss.scope.name = ss_data["name"]
            ss.scope.version = ss_data["version"]
            _put_attributes(ss.scope.attributes, ss_data["attributes"])
            for data in ss_data["spans"]:
                span = ss.spans.add()
                for field in ("trace_id", "span_id", "parent_span_id", "name", "kind"):
                    setattr(span, field, data[field])
                for field in ("start_time_unix_nano", "end_time_unix_nano", "trace_state"):
                    setattr(span, field, data[field])
                _put_attributes(span.attributes, data["attributes"])
                for name, when, attributes in data["events"]:
                    event = span.events.add()
                    event.name, event.time_unix_nano = name, when
                    _put_attributes(event.attributes, attributes)
                for trace_id, span_id, attributes in data["links"]:
                    link = span.links.add()
                    link.trace_id, link.span_id = trace_id, span_id
                    _put_attributes(link.attributes, attributes)
                span.status.code, span.status.message = data["status"]
    return request.SerializeToString()  # type: ignore[no-any-return]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests=st.lists(_REQUEST, min_size=1, max_size=3), skip_bad=st.booleans())
def test_generated_requests_read_alike(
    requests: list[list[dict[str, Any]]], skip_bad: bool
) -> None:
    assert_read_alike(_framed([_message(r) for r in requests]), skip_bad)


# -- the common case takes the batch path ------------------------------------------------


def _common_request(n: int) -> bytes:
    spans = [
        {
            "trace_id": bytes(8) + (i // 3).to_bytes(8, "big"),
            "span_id": (i + 1).to_bytes(8, "big"),
            "parent_span_id": b"" if i % 3 == 0 else (i // 3 * 3 + 1).to_bytes(8, "big"),
            "name": "GET /cart",
            "kind": 2,
            "start_time_unix_nano": 1_700_000_000_000_000_000 + i,
            "end_time_unix_nano": 1_700_000_000_500_000_000 - i,
            "trace_state": "",
            "attributes": [
                ("http.status_code", ("int_value", 200 + 300 * (i % 2))),
                ("http.method", ("string_value", "GET")),
                ("app.ratio", ("double_value", i / 7)),
                ("app.cached", ("bool_value", i % 3 == 0)),
            ],
            "events": [],
            "links": [],
            "status": (2 * (i % 2), "boom" if i % 2 else ""),
        }
        for i in range(n)
    ]
    scope = {"name": "io.opentelemetry.http", "version": "1", "attributes": [], "schema_url": ""}
    service = [("service.name", ("string_value", "cart"))]
    return _message(
        [{"attributes": service, "schema_url": "", "scope_spans": [{**scope, "spans": spans}]}]
    )


def test_common_spans_take_the_batch_path() -> None:
    data = _framed([_common_request(40), _common_request(16), _common_request(9)])
    _Counting.taken = 0
    table = _read(data, _Counting, False)
    assert _Counting.taken == 2  # not the message of 9 spans: the exact reading is faster
    assert isinstance(table, PartialTable) and table.n_rows == 65
    assert table.columns["http.status_code"].ints.tolist()[:3] == [200, 500, 200]
    # A trace id whose upper half is zero is its lower half, as husky writes it.
    trace_ids = table.columns["trace.trace_id"].strings
    assert "0" * 15 + "1" in trace_ids and set(map(len, trace_ids)) == {16}
    assert_read_alike(data, False)


# -- the real captures -------------------------------------------------------------------


@pytest.mark.usefixtures("realdata")
@pytest.mark.parametrize("skip_bad", [False, True])
def test_real_captures_read_alike(skip_bad: bool) -> None:
    requests = _requests()
    assert requests and files("*.json", "otlp")
    data = _framed([_proto(r) for r in requests])
    _Counting.taken = 0
    assert_read_alike(data, skip_bad)
    assert _Counting.taken > 0  # the batch path did the work


# -- a file read by several processes ------------------------------------------------------


def _outcome(path: Path, workers: int, skip_bad: bool) -> Corpus | str:
    try:
        return load_corpus(path, cache=False, workers=workers, skip_bad=skip_bad)
    except CorpusError as err:
        return str(err)


@pytest.mark.usefixtures("realdata")
def test_chunks_read_by_workers_read_like_one(tmp_path: Path) -> None:
    path = tmp_path / "traces.pb"
    path.write_bytes(_framed([_proto(r) for r in _requests()] * 2))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "PARALLEL_BYTES", 4096)
        chunks = ingest.read_file(path, "t.pb", IngestOptions(), workers=2).chunks
        parallel = _outcome(path, 2, False)
    assert len(chunks) > 2 and sum(c.n_rows for c in chunks) > 0
    serial = _outcome(path, 1, False)
    assert isinstance(serial, Corpus) and isinstance(parallel, Corpus)
    assert_same_corpus(parallel, serial)


@pytest.mark.parametrize("skip_bad", [False, True])
@pytest.mark.parametrize("truncated", [False, True])
def test_chunks_read_by_workers_fail_and_skip_alike(
    tmp_path: Path, skip_bad: bool, truncated: bool
) -> None:
    """A message protobuf refuses in a later chunk, and a file cut inside its last message:
    the same message numbers, errors and skipped records as one process gives."""
    good = _common_request(10)
    data = _framed([good] * 6 + [b"\xff\xff"] + [good] * 3)
    path = tmp_path / "bad.pb"
    path.write_bytes(data[:-3] if truncated else data)
    serial = _outcome(path, 1, skip_bad)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "PARALLEL_BYTES", 1024)
        parallel = _outcome(path, 2, skip_bad)
    if skip_bad:
        assert isinstance(serial, Corpus) and isinstance(parallel, Corpus)
        assert [s.record for s in serial.skipped] == ([7, 10] if truncated else [7])
        assert_same_corpus(parallel, serial)
    else:
        assert serial == parallel
        assert str(serial).startswith(f"{path}: message 7: not an OTLP ExportTraceServiceRequest")


@pytest.mark.usefixtures("realdata")
def test_a_protobuf_file_is_built_into_partitions_a_run_of_messages_at_a_time(
    tmp_path: Path,
) -> None:
    """The partition build reads a protobuf file about chunk_bytes of whole messages at a
    time (bounded memory): the corpus it builds is the one read whole, and a bad message
    fails it with the same error."""
    from pytest_nectar.corpus.parts import build_parted
    from tests.test_corpus_parts import assert_same_corpus

    path = tmp_path / "traces.pb"
    path.write_bytes(_framed([_proto(r) for r in _requests()] * 3))
    few = 4096
    chunks = list(ingest.iter_chunks(path, "t.pb", IngestOptions(), chunk_bytes=few))
    assert len(chunks) > 3
    parted = build_parted(path, tmp_path / "p", part_rows=300, chunk_bytes=few, workers=1)
    assert parted.n_parts > 1
    assert_same_corpus(parted.to_corpus(), load_corpus(path, cache=False))
    bad = tmp_path / "bad.pb"
    good = _common_request(10)
    bad.write_bytes(_framed([good] * 6 + [b"\xff\xff"] + [good] * 3))
    with pytest.raises(CorpusError) as whole:
        load_corpus(bad, cache=False)
    with pytest.raises(CorpusError) as built:
        build_parted(bad, tmp_path / "bad-p", part_rows=30, chunk_bytes=1024, workers=1)
    assert str(built.value) == str(whole.value)


@pytest.mark.parametrize("skip_bad", [False, True])
@pytest.mark.parametrize("truncated", [False, True])
def test_compressed_protobuf_is_read_a_run_of_messages_at_a_time(
    tmp_path: Path, skip_bad: bool, truncated: bool
) -> None:
    """A gzip file of length-delimited messages is read as it is decompressed, a chunk about
    every chunk_bytes of messages: the corpus, message numbers, errors and skipped records
    of one chunk."""
    import gzip

    good = _common_request(10)
    data = _framed([good] * 6 + [b"\xff\xff"] + [good] * 5)
    path = tmp_path / "traces.pb.gz"
    path.write_bytes(gzip.compress(data[:-3] if truncated else data))
    whole = _outcome(path, 1, skip_bad)
    opts = IngestOptions(skip_bad=skip_bad)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest, "PARALLEL_BYTES", 2 * len(good))  # a chunk every two messages
        chunked = _outcome(path, 1, skip_bad)
        if skip_bad:
            assert len(ingest.read_file(path, "t", opts).chunks) > 3
    if skip_bad:
        assert isinstance(whole, Corpus) and isinstance(chunked, Corpus)
        assert [s.record for s in whole.skipped] == ([7, 12] if truncated else [7])
        assert_same_corpus(chunked, whole)
    else:
        assert chunked == whole
        assert str(whole).startswith(f"{path}: message 7: not an OTLP ExportTraceServiceRequest")
