"""TRACE JSON: what a witness file holds reads back as the trace that was decided."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.trace import GoInt, Span, Trace
from pytest_nectar.trace_json import load_trace_file, trace_from_json, write_trace_file

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**31), 2**31).map(GoInt),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_spans = st.lists(
    st.builds(
        lambda data, root: {"root": root, "data": data},
        st.dictionaries(st.text(min_size=1, max_size=6), _values, max_size=4),
        st.booleans(),
    ),
    max_size=4,
)


@given(trace_id=st.text(max_size=8), spans=_spans)
def test_written_trace_reads_back_with_its_go_types(
    trace_id: str, spans: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w" / "trace.json"  # a folder that does not exist yet
        doc = write_trace_file(path, trace_id, spans)
        got = load_trace_file(str(path))
    assert json.loads(json.dumps(doc)) == doc
    want = Trace(trace_id, tuple(Span(dict(s["data"]), bool(s["root"])) for s in spans))
    assert got == want
    for g, w in zip(got.spans, want.spans, strict=True):
        assert {k: type(v) for k, v in g.data.items()} == {k: type(v) for k, v in w.data.items()}


def test_non_finite_values_are_written_as_their_repr(tmp_path: Path) -> None:
    doc = write_trace_file(tmp_path / "t.json", "t", [{"root": True, "data": {"x": float("nan")}}])
    assert doc["spans"][0]["data"] == {"x": "nan"}
    assert trace_from_json(doc, "t.json").spans[0].data == {"x": "nan"}
