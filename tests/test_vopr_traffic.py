from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_nectar.trace import GoInt, Span, Trace
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.traffic import (
    TrafficModel,
    default_is_error,
    http_error_maker,
    retyped,
)
from tests.vopr_support import make_trace, make_traces


def _draft(model: TrafficModel, n: int, step: int = 0, seed: int = 1):  # type: ignore[no-untyped-def]
    times = np.linspace(0.0, 1.0, n, endpoint=False)
    return model.draft(step, 0.0, 1.0, times, RngFamily("t", seed).generator(step))


def test_resampled_traces_keep_rows_and_types_with_new_ids() -> None:
    corpus = make_traces(20)
    model = TrafficModel(corpus)
    draft = _draft(model, 200)
    ids = {t.trace_id for t in draft.traces}
    assert len(ids) == 200 and all(len(i) == 32 for i in ids)
    for trace, source in zip(draft.traces, draft.sources.tolist(), strict=True):
        original = corpus[source]
        assert len(trace.spans) == len(original.spans)
        for new, old in zip(trace.spans, original.spans, strict=True):
            assert new.is_root == old.is_root
            assert new.data["trace.trace_id"] == trace.trace_id
            for key, value in old.data.items():
                if key != "trace.trace_id":
                    assert new.data[key] == value and type(new.data[key]) is type(value)
    assert set(draft.sources.tolist()) == set(range(20))  # all shapes get used
    # The corpus itself is untouched.
    assert corpus[0] == make_trace(0)


def test_weights_choose_shapes() -> None:
    model = TrafficModel(make_traces(4), weights=[0, 0, 1, 3])
    sources = _draft(model, 4000).sources
    assert set(sources.tolist()) == {2, 3}
    assert np.mean(sources == 3) == pytest.approx(0.75, abs=0.03)
    with pytest.raises(ValueError):
        TrafficModel(make_traces(2), weights=[1.0])
    with pytest.raises(ValueError):
        TrafficModel([])


def test_shapes_without_trace_id_fields_are_shared() -> None:
    bare = Trace("x", (Span({"name": "a"}, is_root=True),))
    model = TrafficModel([bare])
    trace = _draft(model, 1).traces[0]
    assert trace.spans is model.shapes[0].spans and trace.trace_id != "x"
    assert trace.spans == bare.spans  # the same rows, frozen
    with pytest.raises(TypeError):
        trace.spans[0].data["name"] = "b"  # type: ignore[index]


def test_error_share_and_default_is_error() -> None:
    model = TrafficModel(make_traces(40))
    assert model.error_share == pytest.approx(0.1)
    assert default_is_error(make_trace(3)) and not default_is_error(make_trace(4))
    status_only = Trace("t", (Span({"http.response.status_code": "503"}, True),))
    assert default_is_error(status_only)
    assert not default_is_error(Trace("t", (Span({"http.status_code": 404, "error": 1}),)))


def test_http_error_maker_keeps_the_corpus_types() -> None:
    make = http_error_maker()
    rng = RngFamily("t", 1).generator(0)
    as_int = make(make_trace(1), rng)
    as_str = make(make_trace(14), rng)  # n % 7 == 0: Envoy-style string status
    for trace, kind in ((as_int, int), (as_str, str)):
        root = trace.root
        assert root is not None
        status = root.data["http.status_code"]
        assert type(status) is kind and 500 <= int(status) <= 599
        assert root.data["status_code"] == 2 and root.data["error"] is True
        assert default_is_error(trace)
    assert make_trace(1).root.data["http.status_code"] == 200  # type: ignore[union-attr]
    # No HTTP field at all: the fallback field and type learned from the corpus.
    model = TrafficModel([make_trace(14), make_trace(21), make_trace(1)])
    lone = model.make_error(Trace("t", (Span({"name": "x"}, True),)), rng)
    assert type(lone.spans[0].data["http.status_code"]) is str


def test_retyped() -> None:
    assert retyped(GoInt(200), 503) == 503 and type(retyped(GoInt(200), 503)) is GoInt
    assert retyped(200.0, 503) == 503.0 and type(retyped(200.0, 503)) is float
    assert retyped("200", 503) == "503"
    assert retyped(True, 2) == 2


def test_freeze_restores_arrival_order_and_marks() -> None:
    model = TrafficModel(make_traces(5))
    draft = _draft(model, 3)
    first = draft.traces[0]
    draft.times[0] = 0.9
    draft.reordered = True
    draft.put(0, first, "moved")
    batch = model.freeze(draft)
    assert batch.traces[-1] is first and batch.labels(2) == ("moved",)
    assert list(batch.times) == sorted(batch.times)
    assert [t for t, _ in batch] == batch.times.tolist()


def test_model_from_a_real_corpus(realdata: Path) -> None:
    from pytest_nectar.corpus.load import load_corpus

    path = realdata / "otlp/oteltui-test_data.json"
    corpus = load_corpus(path, cache=False)
    model = TrafficModel.from_corpus(corpus)
    assert len(model.shapes) == corpus.n_traces == 141
    draft = _draft(model, 300)
    for trace, source in zip(draft.traces, draft.sources.tolist(), strict=True):
        original = corpus.trace(source)
        for new, old in zip(trace.spans, original.spans, strict=True):
            assert {k: (type(v), v) for k, v in new.data.items() if k != "trace.trace_id"} == {
                k: (type(v), v) for k, v in old.data.items() if k != "trace.trace_id"
            }
    # Envoy sends string statuses in this corpus; a storm must keep each row's own type.
    stormed = [model.make_error(t, RngFamily("t", 1).generator(0)) for t in draft.traces[:50]]
    assert all(model.is_error(t) for t in stormed)


def test_rekey_false_shares_rows_and_still_gives_fresh_ids() -> None:
    corpus = make_traces(5)
    model = TrafficModel(corpus, rekey=False)
    draft = _draft(model, 20)
    for trace, source in zip(draft.traces, draft.sources.tolist(), strict=True):
        assert trace.spans is model.shapes[source].spans
        assert trace.spans == corpus[source].spans
        assert trace.trace_id != corpus[source].trace_id
