"""Refinery's trace key: examples from the spec and from sample/trace_key_test.go."""

from __future__ import annotations

from collections.abc import Mapping

from pytest_nectar.refinery.samplers.trace_key import TraceKey, field_value, trace_key
from pytest_nectar.trace import GoFloat32, Span, Trace


def _trace(*spans: Mapping[str, object], root: int | None = None) -> Trace:
    return Trace("t", tuple(Span(d, is_root=(i == root)) for i, d in enumerate(spans)))


FIELDS = ["http.status_code", "request.path", "app.team.id", "important_field"]


def test_all_fields_in_one_span() -> None:
    t = _trace(
        {
            "http.status_code": 200,
            "request.path": "/{slug}/home",
            "app.team.id": 2.0,
            "important_field": True,
        }
    )
    assert TraceKey.from_field_list(FIELDS, True).build(t) == ("2•,200•,true•,/{slug}/home•,1", 5)


def test_fields_spread_across_spans() -> None:
    t = _trace(
        {"http.status_code": 200},
        {"request.path": "/{slug}/home"},
        {"app.team.id": 2.0},
        {"important_field": True},
    )
    assert trace_key(t, FIELDS, True) == "2•,200•,true•,/{slug}/home•,4"


def test_distinct_values_sorted() -> None:
    t = _trace(*({"http.status_code": c} for c in (200, 200, 404, 404)))
    assert TraceKey.from_field_list(["http.status_code"], True).build(t) == ("200•404•,4", 3)


def test_root_prefixed_fields() -> None:
    t = _trace(
        {"http.status_code": 404},
        {"http.status_code": 200, "service_name": "another"},
        {"service_name": "test"},
        root=2,
    )
    key = TraceKey.from_field_list(
        ["http.status_code", "root.service_name", "root.another_field"], True
    )
    assert key.build(t) == ("200•404•,test,3", 4)


def test_no_values_found() -> None:
    t = _trace({"app.team.id": 2}, {"important_field": True}, root=1)
    assert TraceKey.from_field_list(["http.status_code", "request.path"], True).build(t) == ("2", 1)
    assert trace_key(t, ["http.status_code"], False) == ""


def test_dynamic_sampler_key_from_refinery_test() -> None:
    # sample/dynamic_test.go: non-root "200", root service_name "test" (root has no url).
    spans = [{"http.status_code": "200", "url": "/test"} for _ in range(4)]
    t = _trace(*spans, {"http.status_code": "200", "service_name": "test"}, root=4)
    assert (
        trace_key(t, ["http.status_code", "root.service_name", "root.url"], False) == "200•,test,"
    )


def test_value_stringification() -> None:
    # sample/trace_key_test.go TestDistinctValue_AddAsString, as whole keys.
    cases: list[tuple[list[object], str]] = [
        ([1, "1", 1.0, "café ñoño 🚀"], "1•café ñoño 🚀•,"),
        ([True, "true", 1], "1•true•,"),
        ([False, "false", 0], "0•false•,"),
        ([3.14, "3.14", 3], "3•3.14•,"),
        ([0, "0", 0.0, None], "0•<nil>•,"),
        ([-42, "-42", -42.0], "-42•,"),
        (
            [{"inner": "value"}, {"inner": "value"}, '{"inner":"value"}'],
            'map[inner:value]•{"inner":"value"}•,',
        ),
        ([[1, 2, 3], [1, 2, 3], [4, 5, 6]], "[1 2 3]•[4 5 6]•,"),
        ([1e21, 1e-7, 2.5e6], "0.0000001•1000000000000000000000•2500000•,"),
        ([GoFloat32(1e6), GoFloat32(0.1)], "0.1•1e+06•,"),
    ]
    for values, expected in cases:
        assert trace_key(_trace(*({"f": v} for v in values)), ["f"], False) == expected


def test_root_values_use_percent_v() -> None:
    t = _trace({"x": 1e6}, {"x": 1e6, "big": 1e21, "n": None}, root=1)
    assert (
        trace_key(t, ["x", "root.x", "root.big", "root.n"], False) == "1000000•,1e+21,<nil>,1e+06,"
    )


def test_key_limit_counts_all_fields() -> None:
    # sample/trace_key_test.go TestKeyLimits: 160 spans with distinct fieldA and fieldB.
    spans = [{"fieldA": f"value{i}", "fieldB": i} for i in range(160)]
    t = _trace({"service_name": "test"}, *spans, root=0)
    key, n = TraceKey.from_field_list(["fieldA", "fieldB"], True).build(t)
    assert n == 100  # 99 kept values + the length
    assert key.count("•") == 99
    assert "fieldB" not in key and key.endswith(",161")
    assert "value98•" in key and "value99•" not in key


def test_limit_is_shared_between_fields() -> None:
    spans = [{"a": f"x{i:02d}"} for i in range(60)] + [{"b": f"y{i:02d}"} for i in range(60)]
    key, n = TraceKey.from_field_list(["a", "b"], False).build(_trace(*spans))
    assert (key.count("x"), key.count("y"), n) == (60, 39, 99)


def test_meta_fields_exist_only_when_set() -> None:
    assert field_value("t", Span({"meta.signal_type": ""}), "meta.signal_type") == (False, None)
    assert field_value("t", Span({"meta.span_count": 0}), "meta.span_count") == (False, None)
    assert field_value("t", Span({"plain": ""}), "plain") == (True, "")
    assert field_value("t", Span({"plain": None}), "plain") == (True, None)


def test_router_metadata_in_keys() -> None:
    # meta.refinery.root is the span's root status (a literal in the data is not read),
    # absent on logs; meta.trace_id is the trace's id.
    root = Span({"meta.refinery.root": False}, True)
    assert field_value("t", root, "meta.refinery.root") == (True, True)
    assert field_value("t", Span({}, False), "meta.refinery.root") == (True, False)
    log = Span({"meta.signal_type": "log"}, False)
    assert field_value("t", log, "meta.refinery.root") == (False, None)
    assert field_value("abc", Span({}), "meta.trace_id") == (True, "abc")
    t = Trace("abc", (Span({}, False), Span({}, True)))
    assert trace_key(t, ["meta.refinery.root", "root.meta.trace_id"], False) == "false•true•,abc,"
    t = _trace({"meta.signal_type": ""}, {"meta.signal_type": "trace"})
    assert trace_key(t, ["meta.signal_type"], False) == "trace•,"
