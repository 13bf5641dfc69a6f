from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_nectar.trace import Trace
from pytest_nectar.vopr.faults import (
    EXTREME_FLOATS,
    EXTREME_INTS,
    ClockSkew,
    DuplicateSpan,
    ExtremeValue,
    Fault,
    MissingField,
    NaNValue,
    OrphanSpan,
    TruncatedTrace,
    WrongType,
    random_faults,
)
from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.traffic import Draft, TrafficModel
from tests.vopr_support import make_traces

CORPUS = make_traces(12)
MODEL = TrafficModel(CORPUS)


def _run(fault: Fault, n: int = 200) -> Draft:
    family = RngFamily("faults", 3)
    times = np.linspace(10.0, 11.0, n, endpoint=False)
    draft = MODEL.draft(0, 10.0, 11.0, times, family.generator(0, "traffic"))
    fault.apply(draft, family.generator(0, str(fault)), MODEL)
    return draft


def _pairs(draft: Draft) -> list[tuple[Trace, Trace]]:
    """(damaged, original-with-the-same-id) for every trace a fault changed."""
    out = []
    for i in sorted(draft.marks):
        original = MODEL.trace(int(draft.sources[i]), draft.traces[i].trace_id)
        out.append((draft.traces[i], original))
    return out


def _diffs(new: Trace, old: Trace) -> list[tuple[str, object, object]]:
    assert len(new.spans) == len(old.spans)
    found = []
    for a, b in zip(new.spans, old.spans, strict=True):
        for key in sorted(set(a.data) | set(b.data)):
            va, vb = a.data.get(key, "<missing>"), b.data.get(key, "<missing>")
            if type(va) is not type(vb) or (va != vb and not (va != va and vb != vb)):
                found.append((key, va, vb))
    return found


def test_share_is_respected() -> None:
    draft = _run(MissingField(share=0.25), n=2000)
    assert len(draft.marks) == pytest.approx(500, rel=0.15)


def test_missing_field() -> None:
    pairs = _pairs(_run(MissingField(share=0.3)))
    assert pairs
    for new, old in pairs:
        (key, now, _before), *rest = _diffs(new, old)
        assert not rest and now == "<missing>" and key != "trace.trace_id"
    for new, _old in _pairs(_run(MissingField(field="service.name", share=0.3))):
        assert sum("service.name" not in s.data for s in new.spans) == 1


def test_wrong_type() -> None:
    for new, old in _pairs(_run(WrongType(share=0.3))):
        (_key, now, before), *rest = _diffs(new, old)
        assert not rest and type(now) is not type(before)


def test_nan_and_extreme_values() -> None:
    for new, old in _pairs(_run(NaNValue(share=0.3))):
        (key, now, _before), *rest = _diffs(new, old)
        assert not rest and key == "duration_ms" and math.isnan(now)  # type: ignore[arg-type]
    pairs = _pairs(_run(ExtremeValue(share=0.5)))
    assert pairs
    for new, old in pairs:
        (_key, now, before), *rest = _diffs(new, old)
        assert not rest
        if isinstance(before, int) and not isinstance(before, bool):
            assert now in EXTREME_INTS
        elif isinstance(before, str):
            assert isinstance(now, str) and len(now) == 65536
        else:
            assert now in EXTREME_FLOATS


def test_duplicate_and_orphan_spans() -> None:
    for new, old in _pairs(_run(DuplicateSpan(share=0.3))):
        assert len(new.spans) == len(old.spans) + 1
        assert any(a is b for a, b in zip(new.spans, new.spans[1:], strict=False))
    for new, old in _pairs(_run(OrphanSpan(share=0.3))):
        assert len(new.spans) == len(old.spans) + 1
        ids = {s.data.get("trace.span_id") for s in new.spans}
        orphans = [s for s in new.spans if s.data.get("trace.parent_id") not in ids | {None}]
        assert len(orphans) == 1 + sum(
            1 for s in old.spans if s.data.get("trace.parent_id") not in ids | {None}
        )
        assert not orphans[0].is_root


def test_clock_skew_moves_arrivals_inside_the_step_and_invalidates_a_duration() -> None:
    draft = _run(ClockSkew(share=0.3, seconds=5.0))
    assert draft.reordered and draft.marks
    assert np.all((draft.times >= 10.0) & (draft.times < 11.0))
    batch = MODEL.freeze(draft)
    assert list(batch.times) == sorted(batch.times)
    for new, old in _pairs(draft):
        changed = {key: now for key, now, _before in _diffs(new, old)}
        assert changed == {"duration_ms": 0.0, "meta.invalid_duration": True}


def test_truncated_traces_lose_their_tail() -> None:
    pairs = _pairs(_run(TruncatedTrace(share=0.5)))
    assert pairs
    for new, old in pairs:
        assert 1 <= len(new.spans) < len(old.spans)
        assert new.spans == old.spans[: len(new.spans)]
        assert new.root is None  # the root arrives last in these traces


def test_random_faults_are_deterministic() -> None:
    a = random_faults(RngFamily("f", 1).generator(0), 6)
    assert a == random_faults(RngFamily("f", 1).generator(0), 6)
    assert all(0 < f.share <= 0.2 for f in a)
    assert [str(f) for f in a] == sorted(str(f) for f in a)
