"""The row buffer's forms of a column piece, and a chunk's trip from a worker process.

Whatever form a reader gives a field's values in (Python values one row at a time, one value
repeated, a numpy array, strings known to be strings, strings already dictionary-encoded),
the buffer builds the same column: entries, kinds, values and dictionary order.  A chunk
pickled by a worker arrives with the same arrays it left with.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.corpus.buffer import Coded, Repeat, RowBuffer, Strings
from pytest_nectar.corpus.partial import PartialColumn

_VALUES = st.one_of(
    st.text(alphabet="ab", max_size=2),
    st.integers(-5, 5),
    st.integers(2**63, 2**64),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)


def _same_column(a: PartialColumn, b: PartialColumn) -> None:
    for part in ("rows", "kind", "ints", "codes"):
        assert np.array_equal(getattr(a, part), getattr(b, part)), part
        assert getattr(a, part).dtype == getattr(b, part).dtype, part
    assert np.array_equal(a.floats, b.floats, equal_nan=True)
    assert list(a.strings) == list(b.strings)
    assert a.others == b.others


def _by_rows(pieces: list[list[Any]]) -> PartialColumn:
    buffer = RowBuffer()
    for piece in pieces:
        for value in piece:
            buffer.add({"f": value}, 0.0, 1.0, 1, 1)
    return buffer.finish(1).columns["f"]


def _by_blocks(pieces: list[Any]) -> PartialColumn:
    buffer = RowBuffer()
    for piece in pieces:
        first = buffer.add_rows([0.0] * len(piece), [1.0] * len(piece), 1, 1)
        rows = np.arange(first, first + len(piece), dtype=np.int64)
        buffer.add_block(("f",), rows, [piece])
    return buffer.finish(1).columns["f"]


@given(pieces=st.lists(st.lists(_VALUES, min_size=1, max_size=6), min_size=1, max_size=4))
def test_blocks_of_python_values_are_rows_added_one_by_one(pieces: list[list[Any]]) -> None:
    _same_column(_by_blocks(pieces), _by_rows(pieces))


@given(
    pieces=st.lists(
        st.tuples(st.sampled_from(["x", "", 7, 7.5, True, 2**63]), st.integers(1, 4)),
        min_size=1,
        max_size=4,
    )
)
def test_a_repeated_value_is_that_value_in_every_row(pieces: list[tuple[Any, int]]) -> None:
    _same_column(
        _by_blocks([Repeat(v, n) for v, n in pieces]), _by_rows([[v] * n for v, n in pieces])
    )


@given(pieces=st.lists(st.lists(st.text(alphabet="abc", max_size=2), min_size=1), min_size=1))
def test_coded_and_marked_strings_are_the_strings(pieces: list[list[str]]) -> None:
    coded = []
    for piece in pieces:
        strings = list(dict.fromkeys(piece))
        codes = np.array([strings.index(s) for s in piece], dtype=np.int32)
        coded.append(Coded(codes, strings))
    expected = _by_rows(pieces)
    _same_column(_by_blocks(coded), expected)
    _same_column(_by_blocks([Strings(p) for p in pieces]), expected)
    mixed = [Strings(p) if i % 2 else c for i, (p, c) in enumerate(zip(pieces, coded, strict=True))]
    _same_column(_by_blocks(mixed), expected)


@given(
    pieces=st.lists(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1), min_size=1),
    floats=st.booleans(),
)
def test_numpy_pieces_are_their_values(pieces: list[list[int]], floats: bool) -> None:
    dtype = np.float64 if floats else np.int64
    values = [[dtype(v).item() for v in piece] for piece in pieces]
    _same_column(_by_blocks([np.array(v, dtype=dtype) for v in values]), _by_rows(values))


@given(
    rows=st.lists(st.integers(0, 40), unique=True, min_size=1).map(sorted),
    values=st.data(),
)
def test_a_column_pickled_by_a_worker_arrives_the_same(rows: list[int], values: Any) -> None:
    picked = values.draw(st.lists(_VALUES, min_size=len(rows), max_size=len(rows)))
    buffer = RowBuffer()
    for row in range(max(rows) + 1):
        buffer.add({"f": picked[rows.index(row)]} if row in rows else {}, 0.0, 1.0, 1, 1)
    column = buffer.finish(1).columns["f"]
    _same_column(pickle.loads(pickle.dumps(column)), column)
