from __future__ import annotations

import numpy as np
import pytest

from pytest_nectar.trace import Span, Trace
from pytest_nectar.vopr.evolutions import (
    ErrorStorm,
    Evolution,
    GiantTraces,
    LatencyRegression,
    NewRoute,
    NewService,
    RenameAttribute,
    RetypeAttribute,
    RootlessTraces,
    random_evolutions,
)
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.traffic import Draft, TrafficModel
from tests.vopr_support import make_trace, make_traces


def _run(model: TrafficModel, evolution: Evolution, n: int = 400, seed: int = 5) -> Draft:
    family = RngFamily("evo", seed)
    times = np.linspace(0.0, 100.0, n, endpoint=False)
    draft = model.draft(0, 0.0, 100.0, times, family.generator(0, "traffic"))
    evolution.apply(draft, family.generator(0, str(evolution)), model)
    return draft


def _share(model: TrafficModel, draft: Draft) -> float:
    return sum(model.is_error(t) for t in draft.traces) / len(draft.traces)


@pytest.mark.parametrize("factor", [10.0, 100.0])
def test_error_storm_multiplies_the_error_share(factor: float) -> None:
    model = TrafficModel(make_traces(200, error_every=200))  # 1 error shape in 200: 0.5 %
    assert model.error_share == pytest.approx(0.005)
    calm = _share(model, _run(model, Evolution(share=0.0), n=8000))
    storm = _share(model, _run(model, ErrorStorm(factor=factor), n=8000))
    expected = min(1.0, factor * 0.005)
    assert storm == pytest.approx(expected, rel=0.15)
    assert storm / max(calm, 1e-9) == pytest.approx(min(factor, 1 / calm), rel=0.5)


def test_error_storm_respects_its_window_and_labels_traces() -> None:
    model = TrafficModel(make_traces(100, error_every=100))
    storm = ErrorStorm(factor=100, start=50.0, end=75.0)
    draft = _run(model, storm, n=1000)
    changed = sorted(draft.marks)
    assert changed and all(50.0 <= draft.times[i] < 75.0 for i in changed)
    assert all(draft.marks[i] == [str(storm)] for i in changed)
    assert str(storm) == "error_storm(start=50.0, end=75.0, factor=100, floor=0.001)"


def test_latency_regression_scales_durations_keeping_types() -> None:
    traces = [*make_traces(4), Trace("i", (Span({"duration_ms": 7}, True),))]
    model = TrafficModel(traces)
    draft = _run(model, LatencyRegression(factor=3.0), n=50)
    for trace, source in zip(draft.traces, draft.sources.tolist(), strict=True):
        for new, old in zip(trace.spans, traces[source].spans, strict=True):
            assert new.data["duration_ms"] == old.data["duration_ms"] * 3
            assert type(new.data["duration_ms"]) is type(old.data["duration_ms"])
    only = _run(model, LatencyRegression(factor=2.0, service="cart"), n=50)
    for trace, source in zip(only.traces, only.sources.tolist(), strict=True):
        for new, old in zip(trace.spans, traces[source].spans, strict=True):
            factor = 2 if old.data.get("service.name") == "cart" else 1
            assert new.data["duration_ms"] == old.data["duration_ms"] * factor


def test_new_service_and_route() -> None:
    model = TrafficModel(make_traces(8))
    draft = _run(model, NewService(service="payments", route="/pay", share=0.5))
    changed = set(draft.marks)
    assert 150 < len(changed) < 250
    for i, trace in enumerate(draft.traces):
        services = {s.data["service.name"] for s in trace.spans}
        assert (services == {"payments"}) == (i in changed)
        if i in changed:
            assert trace.root is not None and trace.root.data["http.route"] == "/pay"
    routed = _run(model, NewRoute(route="/v2"))
    assert all(t.root is not None and t.root.data["http.route"] == "/v2" for t in routed.traces)


def test_rename_and_retype_attribute() -> None:
    model = TrafficModel(make_traces(8))
    renamed = _run(model, RenameAttribute(old="http.status_code", new="http.response.status_code"))
    for trace in renamed.traces:
        assert all("http.status_code" not in s.data for s in trace.spans)
        assert trace.root is not None and "http.response.status_code" in trace.root.data
    retyped = _run(model, RetypeAttribute(field="http.status_code", to="str"))
    statuses = {t.root.data["http.status_code"] for t in retyped.traces}  # type: ignore[union-attr]
    assert statuses == {"200", "500"}
    back = _run(model, RetypeAttribute(field="http.status_code", to="int"))
    assert {type(t.root.data["http.status_code"]) for t in back.traces} == {int}  # type: ignore[union-attr]


def test_giant_and_rootless_traces() -> None:
    model = TrafficModel(make_traces(8))
    giant = _run(model, GiantTraces(spans=300), n=20)
    for trace in giant.traces:
        assert len(trace.spans) == 300 and trace.spans[-1].is_root
        assert sum(s.is_root for s in trace.spans) == 1
        ids = [s.data["trace.span_id"] for s in trace.spans]
        assert len(set(ids)) == 300
    rootless = _run(model, RootlessTraces(), n=50)
    for trace in rootless.traces:
        assert trace.root is None and trace.spans
        lone = [s for s in trace.spans if "trace.parent_id" not in s.data]
        assert not lone
    assert len(_run(model, RootlessTraces(), n=50).traces[0].spans) >= 1
    single = TrafficModel([make_trace(0)])  # root only: becomes a child of a missing parent
    only = _run(single, RootlessTraces(), n=3).traces[0]
    assert only.root is None and only.spans[0].data["trace.parent_id"]


def test_random_evolutions_are_deterministic_and_valid() -> None:
    model = TrafficModel(make_traces(20))
    a = random_evolutions(RngFamily("e", 1).generator(0), model, 365 * 86400.0, 12)
    b = random_evolutions(RngFamily("e", 1).generator(0), model, 365 * 86400.0, 12)
    c = random_evolutions(RngFamily("e", 2).generator(0), model, 365 * 86400.0, 12)
    assert a == b and a != c and len(a) == 12
    assert [e.start for e in a] == sorted(e.start for e in a)
    for e in a:
        assert e.end is not None and 0 <= e.start < e.end <= 365 * 86400.0
        if isinstance(e, RenameAttribute):
            assert e.old == "http.status_code"


@pytest.mark.parametrize(
    "evolution",
    [
        LatencyRegression(factor=3.0),
        NewService(service="svc", route="/v2"),
        NewRoute(route="/n"),
        RenameAttribute(old="http.status_code", new="http.response.status_code"),
        RetypeAttribute(field="http.status_code", to="str"),
    ],
)
def test_row_rewrites_are_shared_per_shape_and_equal_direct_ones(evolution: Evolution) -> None:
    model = TrafficModel(make_traces(6), rekey=False)
    draft = _run(model, evolution, n=60)
    assert draft.marks
    rng = np.random.Generator(np.random.PCG64(0))
    by_shape: dict[int, Trace] = {}
    for i, trace in enumerate(draft.traces):
        source = int(draft.sources[i])
        untouched = model.trace(source, trace.trace_id)
        assert trace == evolution.rewrite(untouched, rng, model)  # the same rows and types
        if i in draft.marks:
            first = by_shape.setdefault(source, trace)
            assert trace.spans is first.spans  # computed once per shape
            with pytest.raises(TypeError):
                trace.spans[0].data["x"] = 1  # type: ignore[index]
