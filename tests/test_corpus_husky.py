"""Husky flattening and value types: what Refinery sees, exactly (semantics section 12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_nectar.corpus import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STRING, load_corpus
from pytest_nectar.corpus.husky import go_json

TRACE = "5b8efff798038103d269b633813fc60c"


def _attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def _request(
    spans: list[dict[str, Any]],
    resource: list[dict[str, Any]] | None = None,
    scope: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": resource or [_attr("service.name", {"stringValue": "svc"})]
                },
                "scopeSpans": [
                    {"scope": scope or {"name": "lib", "version": "1.0"}, "spans": spans}
                ],
            }
        ]
    }


def _span(span_id: str, parent: str = "", **extra: Any) -> dict[str, Any]:
    span = {
        "traceId": TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": "op",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661000000000",
    }
    span.update(extra)
    return span


def _load(tmp_path: Path, doc: object, name: str = "t.json") -> Any:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return load_corpus(path, cache=False)


def test_one_field_keeps_int_float_string_bool_across_spans(tmp_path: Path) -> None:
    values = [
        {"intValue": "503"},
        {"doubleValue": 503.0},
        {"stringValue": "503"},
        {"boolValue": True},
        {"intValue": 9007199254740993},
    ]
    spans = [
        _span(f"{i + 1:016x}", attributes=[_attr("http.status_code", v)])
        for i, v in enumerate(values)
    ]
    corpus = _load(tmp_path, _request(spans))
    col = corpus.columns["http.status_code"]
    assert col.kind.tolist() == [KIND_INT, KIND_FLOAT, KIND_STRING, KIND_BOOL, KIND_INT]
    got = [s.data["http.status_code"] for s in corpus.trace(0).spans]
    assert got == [503, 503.0, "503", True, 9007199254740993]
    assert [type(v) for v in got] == [int, float, str, bool, int]
    assert col.ints[4] == 9007199254740993  # exact int64, not rounded through float
    assert col.floats[0] == 503.0 and col.codes[2] >= 0 and col.codes[0] == -1


def test_span_attribute_overrides_intrinsic_and_first_duplicate_wins(tmp_path: Path) -> None:
    attrs = [
        _attr("name", {"stringValue": "from-attribute"}),
        _attr("dup", {"intValue": 1}),
        _attr("dup", {"intValue": 2}),
        _attr("duration_ms", {"stringValue": "slow"}),
        _attr("service.name", {"stringValue": "span-level"}),
    ]
    corpus = _load(tmp_path, _request([_span("eee19b7ec3c1b174", attributes=attrs)]))
    data = corpus.trace(0).spans[0].data
    assert data["name"] == "from-attribute"
    assert data["dup"] == 1
    assert data["duration_ms"] == "slow"
    assert data["service.name"] == "span-level"  # span attributes beat resource attributes


def test_intrinsics_of_a_span(tmp_path: Path) -> None:
    span = _span(
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
        status={"code": "STATUS_CODE_ERROR", "message": "bad"},
        kind="SPAN_KIND_CLIENT",
        traceState="ot=th:8",
    )
    corpus = _load(tmp_path, _request([span], scope={"name": "io.opentelemetry.jdbc"}))
    data = corpus.trace(0).spans[0].data
    assert data == {
        "duration_ms": 1000.0,
        "error": True,
        "library.name": "io.opentelemetry.jdbc",
        "meta.signal_type": "trace",
        "name": "op",
        "service.name": "svc",
        "span.kind": "client",
        "span.num_events": 0,
        "span.num_links": 0,
        "status_code": 2,
        "status_message": "bad",
        "telemetry.instrumentation_library": True,
        "trace.parent_id": "eee19b7ec3c1b173",
        "trace.span_id": "eee19b7ec3c1b174",
        "trace.trace_id": TRACE,
        "trace.trace_state": "ot=th:8",
        "type": "client",
    }
    assert corpus.weight.tolist() == [2.0]  # th:8 rejects half: each kept trace stands for 2


def test_span_events_and_links_are_rows_before_their_span(tmp_path: Path) -> None:
    events = [
        {
            "name": "exception",
            "timeUnixNano": "1544712660500000000",
            "attributes": [
                _attr("exception.message", {"stringValue": "boom"}),
                _attr("exception.type", {"stringValue": "ValueError"}),
                _attr("exception.escaped", {"boolValue": True}),
            ],
        },
        {
            "name": "exception",
            "timeUnixNano": "1544712659000000000",
            "attributes": [_attr("exception.message", {"stringValue": "second"})],
        },
    ]
    links = [
        {
            "traceId": "00000000000000000000000000000abc",
            "spanId": "0000000000000def",
            "attributes": [_attr("name", {"stringValue": "link attr"})],
        }
    ]
    root = _span(
        "eee19b7ec3c1b174",
        events=events,
        links=links,
        status={"code": 2},
        attributes=[_attr("exception.type", {"stringValue": "mine"})],
    )
    corpus = _load(tmp_path, _request([root]))
    rows = [s.data for s in corpus.trace(0).spans]
    assert [r.get("meta.annotation_type") for r in rows] == [
        "span_event",
        "span_event",
        "link",
        None,
    ]
    first, second, link, span = rows
    assert first["trace.parent_id"] == "eee19b7ec3c1b174" and "trace.span_id" not in first
    assert first["parent_name"] == "op" and first["name"] == "exception" and first["error"] is True
    assert first["meta.time_since_span_start_ms"] == 500.0
    assert second["meta.time_since_span_start_ms"] == 0.0
    assert second["meta.invalid_time_since_span_start"] is True
    assert link["name"] == "link attr"  # links have no name intrinsic; the attribute stays
    assert link["trace.link.trace_id"] == "0000000000000abc"  # 8 zero bytes trimmed
    assert link["trace.link.span_id"] == "0000000000000def"
    assert span["exception.message"] == "boom" and span["exception.escaped"] is True
    assert span["exception.type"] == "mine"  # added only when not already present
    assert span["span.num_events"] == 2 and span["span.num_links"] == 1
    assert corpus.is_root.tolist() == [False, False, False, True]
    assert corpus.root_row.tolist() == [3]
    assert corpus.trace_offsets.tolist() == [0, 4]  # ?.NUM_DESCENDANTS == 4


def test_arrays_bytes_and_kvlists(tmp_path: Path) -> None:
    deep: dict[str, Any] = {"stringValue": "leaf"}
    for level in range(7):
        deep = {"kvlistValue": {"values": [_attr(f"k{level}", deep)]}}
    attrs = [
        _attr(
            "arr",
            {
                "arrayValue": {
                    "values": [
                        {"stringValue": "a<b>"},
                        {"intValue": "1"},
                        {"doubleValue": 1e-7},
                        {},
                        {"boolValue": False},
                    ]
                }
            },
        ),
        _attr("raw", {"bytesValue": "AQID"}),
        _attr(
            "map",
            {
                "kvlistValue": {
                    "values": [_attr("x", {"intValue": 5}), _attr("y", {"doubleValue": 2.5})]
                }
            },
        ),
        _attr("deep", deep),
        _attr("", {"stringValue": "no key"}),
        _attr("empty", {}),
    ]
    corpus = _load(tmp_path, _request([_span("eee19b7ec3c1b174", attributes=attrs)]))
    data = corpus.trace(0).spans[0].data
    assert data["arr"] == '["a<b>",1,1e-7,false]\n'
    assert data["raw"] == '"AQID"\n'
    assert data["map.x"] == 5 and data["map.y"] == 2.5
    deep_keys = [k for k in data if k.startswith("deep.")]
    assert deep_keys == ["deep.k6.k5.k4.k3.k2.k1"]
    assert data["deep.k6.k5.k4.k3.k2.k1"] == '{"k0":"leaf"}\n'
    assert "" not in data and "empty" not in data


def test_go_json_matches_go_encoder() -> None:
    assert (
        go_json([1e21, 1e20, 0.000001, 1e-7, -0.0, 100.0])
        == "[1e+21,100000000000000000000,0.000001,1e-7,-0,100]\n"
    )
    assert go_json(["\u2028", "<&>", "\x01"]) == '["\\u2028","<&>","\\u0001"]\n'
    assert go_json([float("nan")]) == ""


def test_hex_and_base64_ids_decided_per_id(tmp_path: Path) -> None:
    b64_trace = "W47/95gDgQPSabYzgT/GDA=="  # the same 16 bytes as TRACE
    spans = [
        _span("7uGbfsPBsXQ=", traceId=b64_trace),  # base64 (Tempo)
        _span("eee19b7ec3c1b175", "7uGbfsPBsXQ=", traceId=TRACE.upper()),  # hex, upper case
    ]
    corpus = _load(tmp_path, _request(spans))
    assert corpus.trace_ids == (TRACE,)
    rows = [s.data for s in corpus.trace(0).spans]
    assert rows[0]["trace.span_id"] == "eee19b7ec3c1b174"
    assert rows[1]["trace.parent_id"] == "eee19b7ec3c1b174"


def test_sample_rate_attribute_is_removed_and_weights_the_trace(tmp_path: Path) -> None:
    span = _span(
        "eee19b7ec3c1b174",
        attributes=[
            _attr("SampleRate", {"stringValue": "9.6"}),
            _attr("sampleRate", {"intValue": 4}),
        ],
    )
    path = tmp_path / "t.json"
    path.write_text(json.dumps(_request([span])))
    corpus = load_corpus(path, cache=False, scale=10)
    assert "sampleRate" not in corpus.columns and "SampleRate" not in corpus.columns
    assert corpus.weight.tolist() == [40.0]


@pytest.mark.parametrize(
    ("rate", "weight"),
    [("-inf", 1.0), ("-1e300", 1.0), ("0.4", 1.0), ("0.5", 1.0), ("2.5", 3.0), ("inf", 2**31 - 1)],
)
def test_a_sample_rate_is_clamped_to_at_least_one_and_at_most_int32(
    tmp_path: Path, rate: str, weight: float
) -> None:
    """Husky rounds half away from zero, then clamps to 1 .. MaxInt32; an infinite or huge
    negative rate (a protobuf double may hold one) is 1, never a crash."""
    span = _span("eee19b7ec3c1b174", attributes=[_attr("sampleRate", {"stringValue": rate})])
    assert _load(tmp_path, _request([span])).weight.tolist() == [weight]


def test_zipkin_tags_stay_strings_and_jaeger_tags_keep_their_types(tmp_path: Path) -> None:
    zipkin = [
        {
            "traceId": "000000000000000a",
            "id": "000000000000000b",
            "name": "get",
            "kind": "SERVER",
            "timestamp": 1,
            "duration": 2000,
            "localEndpoint": {"serviceName": "api", "port": 8080},
            "tags": {"http.status_code": "503", "error": "timeout"},
        }
    ]
    z = _load(tmp_path, zipkin, "z.json").trace(0).spans[0].data
    assert z["http.status_code"] == "503" and z["status_message"] == "timeout"
    assert z["error"] is True and z["net.host.port"] == 8080 and z["service.name"] == "api"
    assert z["trace.trace_id"] == "000000000000000a" and z["duration_ms"] == 2.0
    jaeger = {
        "data": [
            {
                "traceID": "abc",
                "processes": {
                    "p1": {
                        "serviceName": "db",
                        "tags": [{"key": "hostname", "type": "string", "value": "h1"}],
                    }
                },
                "spans": [
                    {
                        "traceID": "abc",
                        "spanID": "1",
                        "operationName": "q",
                        "processID": "p1",
                        "references": [],
                        "startTime": 10,
                        "duration": 5,
                        "logs": [
                            {
                                "timestamp": 12,
                                "fields": [{"key": "event", "type": "string", "value": "retry"}],
                            }
                        ],
                        "tags": [
                            {"key": "http.status_code", "type": "int64", "value": 500},
                            {"key": "ratio", "type": "float64", "value": 0.5},
                            {"key": "cached", "type": "bool", "value": False},
                            {"key": "span.kind", "type": "string", "value": "server"},
                        ],
                    }
                ],
            }
        ]
    }
    event, span = (s.data for s in _load(tmp_path, jaeger, "j.json").trace(0).spans)
    assert span["http.status_code"] == 500 and type(span["http.status_code"]) is int
    assert span["ratio"] == 0.5 and span["cached"] is False and span["span.kind"] == "server"
    assert span["error"] is True and span["status_code"] == 2  # 5xx on a server span
    assert span["host.name"] == "h1" and span["trace.trace_id"] == "0000000000000abc"
    assert event["name"] == "retry" and event["meta.annotation_type"] == "span_event"
    assert event["meta.time_since_span_start_ms"] == 0.002  # log timestamps are microseconds
