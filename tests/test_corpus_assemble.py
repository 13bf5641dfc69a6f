"""Merging the chunks' string dictionaries: by sorting hashes, exactly as a dict merges them.

A column's dictionary over several chunks lists each string once, in order of first
appearance (chunk by chunk), and every chunk's codes are remapped into it.  Dictionaries
from worker processes arrive encoded with their strings' hashes and are merged in numpy; big
ones of Python strings are merged from a stable sort of the hashes; equal hashes of
different strings send the merge back to the dict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pytest_nectar.corpus.assemble as assemble
from pytest_nectar.corpus import load_corpus
from pytest_nectar.corpus.buffer import HashedPool
from pytest_nectar.corpus.table import StringPool

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
    by_hash = assemble._merge_by_hash(parts)
    assert by_hash is not None
    _same(by_hash, assemble._merge_by_dict(parts))


@given(parts=_DICTIONARIES)
def test_pool_merge_is_the_dict_merge(parts: list[list[str]]) -> None:
    """Dictionaries from worker processes: encoded, with hashes; merged without decoding."""
    pools = [HashedPool.of(part) for part in parts]
    by_pool = assemble._merge_pools(pools)
    assert by_pool is not None and isinstance(by_pool[0], StringPool)
    _same(by_pool, assemble._merge_by_dict(parts))


@given(parts=_DICTIONARIES)
def test_pool_merge_refuses_a_hash_collision(parts: list[list[str]]) -> None:
    """Every string hashed as its length: different strings of one length collide."""
    pools = [
        HashedPool(p.buffer, p.offsets, np.array([len(s) for s in part]))
        for p, part in zip(map(HashedPool.of, parts), parts, strict=True)
    ]
    by_pool = assemble._merge_pools(pools)
    strings = {s for part in parts for s in part}
    if len({len(s) for s in strings}) < len(strings):
        assert by_pool is None
    else:
        assert by_pool is not None
        _same(by_pool, assemble._merge_by_dict(parts))


@given(parts=_DICTIONARIES)
def test_a_hash_collision_falls_back_to_the_dict(parts: list[list[str]]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(assemble, "_hash", len)  # "a" and "b" collide
        by_hash = assemble._merge_by_hash(parts)
    if by_hash is not None:  # only when no two different strings share a length
        _same(by_hash, assemble._merge_by_dict(parts))
    strings = [s for part in parts for s in part]
    if len({len(s) for s in set(strings)}) < len(set(strings)):
        assert by_hash is None


def test_big_dictionaries_over_many_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file read in many chunks whose span ids (all different) and user ids (repeated
    across chunks) are merged by hash: the corpus of one chunk, string for string."""
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
    merged: list[int] = []
    real = assemble._merge_pools

    def counted(parts: Any) -> Any:
        merged.append(len(parts))
        return real(parts)

    monkeypatch.setattr(assemble, "_merge_pools", counted)
    many = load_corpus(path, cache=False, workers=2)
    assert merged and max(merged) >= 8  # every chunk's dictionary came as a hashed pool
    for name, column in one.columns.items():
        other = many.columns[name]
        assert column.strings.values == other.strings.values, name
        assert np.array_equal(column.codes, other.codes), name
