"""Compressed files, the file exporter's protobuf and rotated folders, against OTLP JSON.

Every real OTLP capture (read in place) is written, inside the test's tmp_path, as OTLP
JSON Lines (the reference), as length-delimited protobuf, gzip and zstd compressed, in the
exporter's older per-message zstd framing, and as a folder of rotated files; each must load
to the same traces, rows and values, and ``nectar replay`` must decide alike.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from google.protobuf.json_format import MessageToDict, ParseDict
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pytest_nectar.cli import main
from pytest_nectar.corpus import Corpus, load_corpus
from pytest_nectar.corpus.buffer import RowBuffer
from pytest_nectar.corpus.containers import request_from_proto
from pytest_nectar.corpus.context import ReadContext
from pytest_nectar.corpus.otlp import read_otlp
from pytest_nectar.corpus.partial import PartialTable
from pytest_nectar.errors import CorpusError
from tests.realdata import REALDATA, files
from tests.test_corpus_otlp_fast import assert_same_table

pytestmark = pytest.mark.usefixtures("realdata")

#: Real rules whose decisions on these traces differ: by chance, by a status rule, by duration.
RULES = [
    REALDATA / "refinery-rules" / name
    for name in (
        "devreldemo-rules.yaml",
        "hpsf-translator-httpstatuscondition_all.yaml",
        "hpsf-translator-longdurationcondition_all.yaml",
    )
]


def _requests() -> list[dict[str, Any]]:
    """The trace requests of every real OTLP capture, in file order."""
    out: list[dict[str, Any]] = []
    for path in files("*.json", "otlp"):
        text = path.read_text(encoding="utf-8")
        try:
            docs = [json.loads(text)]
        except json.JSONDecodeError:  # JSON Lines
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        out.extend(d for d in docs if "resourceSpans" in d)
    return out


def _hex_ids_to_base64(node: Any) -> Any:
    # OTLP JSON writes ids in hex; protobuf's JSON mapping (and so ParseDict) wants base64.
    if isinstance(node, list):
        return [_hex_ids_to_base64(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
            value = base64.b64encode(bytes.fromhex(value)).decode() if value else value
        out[key] = _hex_ids_to_base64(value)
    return out


def _proto(request: dict[str, Any]) -> bytes:
    message = ParseDict(_hex_ids_to_base64(request), ExportTraceServiceRequest())
    return message.SerializeToString()  # type: ignore[no-any-return]


def _framed(payloads: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in payloads)


def _lines(requests: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in requests)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


WRITERS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "proto": lambda rs: _framed([_proto(r) for r in rs]),
    "jsonl.gz": lambda rs: gzip.compress(_lines(rs)),
    "jsonl.zst": lambda rs: _zstd(_lines(rs)),
    "proto.zst": lambda rs: _zstd(_framed([_proto(r) for r in rs])),
    "proto-frames-zstd": lambda rs: _framed([_zstd(_proto(r)) for r in rs]),
    "json-frames-zstd": lambda rs: _framed([_zstd(json.dumps(r).encode()) for r in rs]),
    "document.gz": lambda rs: gzip.compress(json.dumps(rs[0]).encode()),
}


def _content(corpus: Corpus) -> list[Any]:
    return [
        corpus.trace_ids,
        [repr(t) for t in corpus.iter_traces()],
        corpus.row_time.tobytes(),
        corpus.weight.tobytes(),
        [s.reason for s in corpus.skipped],
        dict(corpus.formats),
    ]


def _decisions(corpus_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    """``nectar replay --json`` under each rules file, the corpus digest left out (it covers
    the file's bytes, which differ per format)."""
    outs = []
    for rules in RULES:
        capsys.readouterr()
        code = main(["replay", str(rules), "--corpus", str(corpus_path), "--json"])
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out["decisions"]
        del out["corpus"]["digest"]
        outs.append(out)
    return outs


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Path]:
    requests = _requests()
    assert len(requests) >= 4
    path = tmp_path_factory.mktemp("reference") / "traces.jsonl"
    path.write_bytes(_lines(requests))
    return requests, path


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_each_format_loads_and_decides_like_otlp_json(
    fmt: str,
    reference: tuple[list[dict[str, Any]], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    requests, ref_path = reference
    if fmt == "document.gz":  # one request as a single document, not lines
        ref_path = tmp_path / "one.json"
        ref_path.write_text(json.dumps(requests[0]))
    path = tmp_path / f"traces.{fmt}"
    path.write_bytes(WRITERS[fmt](requests))
    expected = load_corpus(ref_path, cache=False)
    got = load_corpus(path, cache=False)
    assert got.n_rows == expected.n_rows > 0
    assert _content(got) == _content(expected)
    ref_out, out = _decisions(ref_path, capsys), _decisions(path, capsys)
    assert out == ref_out


def test_rotated_folder_reads_like_the_whole_file(
    reference: tuple[list[dict[str, Any]], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The exporter's rotation: timestamped backups beside the current file, some compressed."""
    requests, ref_path = reference
    folder = tmp_path / "exporter"
    folder.mkdir()
    third = max(1, len(requests) // 3)
    parts = [requests[:third], requests[third : 2 * third], requests[2 * third :]]
    (folder / "traces-2024-05-01T10-00-00.000.json").write_bytes(_lines(parts[0]))
    (folder / "traces-2024-05-01T11-00-00.000.json.zst").write_bytes(_zstd(_lines(parts[1])))
    (folder / "traces.json").write_bytes(_lines(parts[2]))
    assert _content(load_corpus(folder, cache=False)) == _content(
        load_corpus(ref_path, cache=False)
    )
    assert _decisions(folder, capsys) == _decisions(ref_path, capsys)


def test_truncated_protobuf_is_located(
    reference: tuple[list[dict[str, Any]], Path], tmp_path: Path
) -> None:
    requests, _ = reference
    data = _framed([_proto(r) for r in requests[:2]])
    path = tmp_path / "cut.pb"
    path.write_bytes(data[:-3])
    with pytest.raises(CorpusError) as err:
        load_corpus(path, cache=False)
    assert str(err.value).startswith(f"{path}: message 2: truncated message: ")
    skipped = load_corpus(path, cache=False, skip_bad=True)
    assert [s.record for s in skipped.skipped] == [2]
    whole = tmp_path / "one.pb"
    whole.write_bytes(_framed([_proto(requests[0])]))
    assert skipped.n_rows == load_corpus(whole, cache=False).n_rows > 0


# -- the protobuf walk against protobuf's own JSON mapping --------------------------------

_TEXT = st.text(max_size=5)
_SCALAR = st.one_of(
    st.builds(lambda s: {"stringValue": s}, _TEXT),
    st.builds(lambda i: {"intValue": str(i)}, st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda d: {"doubleValue": d}, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(lambda b: {"boolValue": b}, st.booleans()),
    st.builds(lambda b: {"bytesValue": base64.b64encode(b).decode()}, st.binary(max_size=4)),
    st.just({}),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.builds(lambda vs: {"arrayValue": {"values": vs}}, st.lists(inner, max_size=3)),
        st.builds(
            lambda kvs: {"kvlistValue": {"values": kvs}},
            st.lists(st.builds(lambda k, v: {"key": k, "value": v}, _TEXT, inner), max_size=3),
        ),
    ),
    max_leaves=6,
)
_ATTRS = st.lists(
    st.builds(
        lambda k, v: {"key": k, "value": v},
        st.sampled_from(["a", "name", "sampleRate", "error", "x.y", ""]),
        _VALUE,
    ),
    max_size=4,
)
_NANOS = st.integers(0, 2**64 - 1).map(str)
_PROTO_SPAN = st.fixed_dictionaries(
    {
        "traceId": st.binary(min_size=16, max_size=16).map(lambda b: base64.b64encode(b).decode()),
        "spanId": st.binary(min_size=8, max_size=8).map(lambda b: base64.b64encode(b).decode()),
    },
    optional={
        "parentSpanId": st.binary(min_size=8, max_size=8).map(
            lambda b: base64.b64encode(b).decode()
        ),
        "name": _TEXT,
        "kind": st.integers(0, 5),
        "traceState": st.sampled_from(["", "ot=th:8"]),
        "startTimeUnixNano": _NANOS,
        "endTimeUnixNano": _NANOS,
        "attributes": _ATTRS,
        "events": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["exception", "log", ""]),
                    "timeUnixNano": _NANOS,
                    "attributes": _ATTRS,
                },
            ),
            max_size=2,
        ),
        "links": st.lists(
            st.fixed_dictionaries(
                {"traceId": st.just(base64.b64encode(b"\1" * 16).decode())},
                optional={"attributes": _ATTRS},
            ),
            max_size=2,
        ),
        "status": st.fixed_dictionaries({}, optional={"code": st.integers(0, 2), "message": _TEXT}),
    },
)
_PROTO_REQUEST = st.builds(
    lambda resource, scope, spans: {
        "resourceSpans": [
            {"resource": {"attributes": resource}, "scopeSpans": [{"scope": scope, "spans": spans}]}
        ]
    },
    _ATTRS,
    st.fixed_dictionaries({}, optional={"name": _TEXT, "version": _TEXT, "attributes": _ATTRS}),
    st.lists(_PROTO_SPAN, max_size=3),
)


def _rows(doc: dict[str, Any]) -> PartialTable:
    buffer = RowBuffer()
    ctx = ReadContext(buffer, skip_bad=True, json_ints=False)
    read_otlp(doc, ctx)
    return buffer.finish(1)


@settings(max_examples=150, deadline=None)
@given(request=_PROTO_REQUEST)
def test_protobuf_walk_reads_like_protobufs_json_mapping(request: dict[str, Any]) -> None:
    payload = ParseDict(request, ExportTraceServiceRequest()).SerializeToString()
    mapped = MessageToDict(ExportTraceServiceRequest.FromString(payload))
    assert_same_table(_rows(request_from_proto(payload, 1)), _rows(mapped))
