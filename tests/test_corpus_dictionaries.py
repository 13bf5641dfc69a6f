"""Merging the chunks' string dictionaries: by sorting hashes, or a chunk at a time as the
chunks arrive, exactly as a dict merges them.

A column's dictionary over several chunks lists each string once, in order of first
appearance (chunk by chunk), and every chunk's codes are remapped into it.  Dictionaries
from worker processes arrive encoded with their strings' hashes and are merged in numpy,
one chunk at a time while later chunks are parsed; big ones of Python strings are merged
from a stable sort of the hashes; equal hashes of different strings send the merge back to
the dict.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pytest_nectar.corpus.chunks as chunks
import pytest_nectar.corpus.dictionaries as dictionaries
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.partial import HashedPool, PartialColumn
from pytest_nectar.corpus.table import KIND_STRING, StringPool

_DICTIONARIES = st.lists(
    st.lists(st.text(alphabet="abcé\U0001f600", max_size=3), unique=True, min_size=1, max_size=12),
    min_size=2,
    max_size=5,
)


def _same(a: Any, b: Any) -> None:
    strings_a, maps_a = a
    strings_b, maps_b = b
    assert list(strings_a) == list(strings_b)
    assert [m.tolist() for m in maps_a] == [m.tolist() for m in maps_b]


@given(parts=_DICTIONARIES)
def test_hash_merge_is_the_dict_merge(parts: list[list[str]]) -> None:
    by_hash = dictionaries.merge_by_hash(parts)
    assert by_hash is not None
    _same(by_hash, dictionaries.merge_by_dict(parts))


@given(parts=_DICTIONARIES)
def test_pool_merge_is_the_dict_merge(parts: list[list[str]]) -> None:
    """Dictionaries from worker processes: encoded, with hashes; merged without decoding."""
    pools = [HashedPool.of(part) for part in parts]
    by_pool = dictionaries.merge_pools(pools)
    assert by_pool is not None and isinstance(by_pool[0], StringPool)
    _same(by_pool, dictionaries.merge_by_dict(parts))


@given(parts=_DICTIONARIES)
def test_a_hash_collision_falls_back_to_the_dict(parts: list[list[str]]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dictionaries, "_hash", len)  # "a" and "b" collide
        by_hash = dictionaries.merge_by_hash(parts)
    if by_hash is not None:  # only when no two different strings share a length
        _same(by_hash, dictionaries.merge_by_dict(parts))
    strings = [s for part in parts for s in part]
    if len({len(s) for s in set(strings)}) < len(set(strings)):
        assert by_hash is None


def _grown(pools: list[HashedPool]) -> Any:
    """The growing merge of ``pools``, one at a time: (dictionary, mappings), or None."""
    growing = dictionaries.GrowingPool()
    mappings = []
    for pool in pools:
        mapping = growing.add(pool)
        if mapping is None:
            return None
        mappings.append(mapping)
    return growing.pool(), mappings


@given(parts=_DICTIONARIES)
def test_growing_merge_is_the_dict_merge_after_every_chunk(parts: list[list[str]]) -> None:
    pools = [HashedPool.of(part) for part in parts]
    for upto in range(1, len(parts) + 1):
        grown = _grown(pools[:upto])
        assert grown is not None
        _same(grown, dictionaries.merge_by_dict(parts[:upto]))
    pool = _grown(pools)[0]
    assert pool.hashes.tolist() == [hash(s) for s in pool]  # to be merged again, by hash


@given(
    parts=st.lists(
        st.lists(st.integers(0, 300).map(str), unique=True, min_size=1, max_size=60),
        min_size=10,
        max_size=40,
    )
)
def test_growing_merge_over_many_chunks(parts: list[list[str]]) -> None:
    """Dozens of chunks, new and known strings mixed: the sorted runs of hashes it keeps
    are merged as they grow, and every chunk's strings are still found."""
    grown = _grown([HashedPool.of(part) for part in parts])
    assert grown is not None
    _same(grown, dictionaries.merge_by_dict(parts))


@pytest.mark.parametrize("merge", [dictionaries.merge_pools, _grown], ids=["all", "growing"])
@given(parts=_DICTIONARIES)
def test_pool_merges_refuse_a_hash_collision(
    merge: Callable[[list[HashedPool]], Any], parts: list[list[str]]
) -> None:
    """Every string hashed as its length: a length shared by different strings (in one
    chunk or across chunks) gives None, and the dict decides; otherwise it is the dict's."""
    pools = [
        HashedPool(p.buffer, p.offsets, np.array([len(s) for s in part]))
        for p, part in zip(map(HashedPool.of, parts), parts, strict=True)
    ]
    merged = merge(pools)
    strings = {s for part in parts for s in part}
    if len({len(s) for s in strings}) < len(strings):
        assert merged is None
    else:
        assert merged is not None
        _same(merged, dictionaries.merge_by_dict(parts))


def test_a_collision_midway_merges_the_rest_at_the_end() -> None:
    """The chunks merged before a collision stay merged; the rest join them at the end:
    the column is the one a dict gives."""
    parts = [["a", "bb"], ["bb", "cc"], ["dd", "a", "e"]]
    merged = chunks.MergedColumn()
    offset = 0
    for part in parts:
        pool = HashedPool.of(part)
        if part[0] == "dd":  # "dd" claims the hash of "cc": a collision
            hashes = np.array([hash("cc"), hash("a"), hash("e")], dtype=np.int64)
            pool = HashedPool(pool.buffer, pool.offsets, hashes)
        n = len(part)
        column = PartialColumn(
            np.arange(n, dtype=np.int64),
            np.full(n, KIND_STRING, dtype=np.uint8),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.float64),
            np.arange(n, dtype=np.int32),
            pool,
            single=KIND_STRING,
        )
        merged.add(column, offset, n)
        offset += n
    assert merged.merged == 2  # the third chunk waits for the end
    merged.merge_strings()
    merged.settle(chunks.Constants())
    strings = list(merged.strings)
    assert strings == ["a", "bb", "cc", "dd", "e"]
    decoded = [strings[c] for c in merged.codes[0].tolist()]
    assert decoded == [s for part in parts for s in part]


def test_big_dictionaries_over_many_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file read in many chunks whose span ids (all different) and user ids (repeated
    across chunks) are merged a chunk at a time as they arrive: the corpus of one chunk,
    string for string."""
    lines = []
    for line in range(60):
        spans = [
            {
                "traceId": f"{line:032x}",
                "spanId": f"{line * 1000 + i + 1:016x}",
                "name": "GET",
                "attributes": [
                    {"key": "user", "value": {"stringValue": f"u{(line * 7 + i) % 900}"}}
                ],
            }
            for i in range(1000)
        ]
        request = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
        lines.append(json.dumps(request))
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n")
    one = load_corpus(path, cache=False, workers=1)
    monkeypatch.setattr("pytest_nectar.corpus.ingest.PARALLEL_BYTES", 256 * 1024)
    grown: list[int] = []
    real = dictionaries.GrowingPool.add

    def counted(self: dictionaries.GrowingPool, pool: HashedPool) -> Any:
        grown.append(len(pool))
        return real(self, pool)

    monkeypatch.setattr(dictionaries.GrowingPool, "add", counted)
    many = load_corpus(path, cache=False, workers=2)
    assert len(grown) >= 8 * 3  # every chunk's dictionaries came as hashed pools, merged
    for name, column in one.columns.items():
        other = many.columns[name]
        assert column.strings.values == other.strings.values, name
        assert np.array_equal(column.codes, other.codes), name
