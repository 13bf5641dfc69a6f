"""``TraceIds``: a partitioned corpus's ids packed in one buffer equal the strings they pack,
in the order asked, and are found by ``index`` exactly (never inside another id)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.corpus.table import TraceIds

HEX = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
ANY = st.text(max_size=12)


@given(st.lists(st.lists(HEX | ANY, max_size=6), max_size=5), st.randoms())
def test_gathered_ids_are_the_strings_in_order(pieces: list[list[str]], rnd: object) -> None:
    flat = [s for piece in pieces for s in piece]
    order = list(range(len(flat)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    ids = TraceIds.gather([TraceIds.pack(p) for p in pieces], np.array(order, dtype=np.int64))
    expected = [flat[i] for i in order]
    assert list(ids) == expected and ids == expected and len(ids) == len(expected)
    assert ids[1:3] == expected[1:3]
    for value in set(expected):
        assert ids.index(value) == expected.index(value)


@given(st.lists(HEX, min_size=1, max_size=20, unique=True))
def test_fixed_width_ids_take_the_row_path(values: list[str]) -> None:
    order = np.arange(len(values), dtype=np.int64)[::-1].copy()
    ids = TraceIds.gather([TraceIds.pack(values)], order)
    assert list(ids) == values[::-1]
    assert ids[-1] == values[0]


def test_an_id_inside_others_is_not_found() -> None:
    ids = TraceIds.gather([TraceIds.pack(["abc", "bcd", "é", ""])], np.arange(4, dtype=np.int64))
    assert ids.index("bcd") == 1 and ids.index("é") == 2 and ids.index("") == 3
    with pytest.raises(ValueError, match="'bc' is not a trace id here"):
        ids.index("bc")  # inside "abc" and "bcd", never a whole id
    with pytest.raises(IndexError):
        ids[4]
