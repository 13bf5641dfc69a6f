"""Strategies and the invariant shared by the fuzz tests (tests/test_fuzz.py).

Inputs are grammar-based where a grammar exists (match expressions, via
``hypothesis.extra.lark``), structure-based elsewhere (a valid document whose nodes are
replaced by arbitrary JSON), and then mutated byte-wise and nested deeply, because the
classes found so far came from exactly those three: wrong shapes, huge numbers, deep nesting.

The invariant: every input ends in a result or a :class:`NectarError`, within generous time
and memory caps.  The number of examples is bounded in the normal suite (deterministic, so
CI never flakes on a new find) and set by ``NECTAR_FUZZ_EXAMPLES`` for long, random rounds.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from importlib import resources
from typing import Any, Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from pytest_nectar.errors import NectarError

__all__ = [
    "LONG",
    "fuzz_settings",
    "json_values",
    "match_texts",
    "mutated",
    "replace_nodes",
    "within_bounds",
]

#: Examples per fuzz test: a long, random round when NECTAR_FUZZ_EXAMPLES is set.
LONG: Final = int(os.environ.get("NECTAR_FUZZ_EXAMPLES", "0") or 0)

#: Generous caps for one input of a few KiB: an order of magnitude above what it takes.
SECONDS_CAP: Final = 10.0
RSS_CAP_BYTES: Final = 2 * 1024**3


def fuzz_settings(default: int) -> settings:
    """``default`` examples, derandomized, in the normal suite; ``LONG`` random ones when set."""
    return settings(
        max_examples=LONG or default,
        derandomize=not LONG,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


@contextmanager
def within_bounds(what: str) -> Iterator[None]:
    """Run one fuzz input: a result or a NectarError, under the time and memory caps."""
    start = time.monotonic()
    with suppress(NectarError):
        yield
    elapsed = time.monotonic() - start
    assert elapsed < SECONDS_CAP, f"{what} took {elapsed:.1f} s"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    assert rss < RSS_CAP_BYTES, f"{what}: peak RSS {rss / 1e9:.2f} GB"


# --- text -------------------------------------------------------------------------------

_NASTY: Final = [
    "\x00", "\x01", "\x1b[2J", "\n", "\r", "\t", "\u2028", "\ufeff", "é", "`", '"', "'", "\\",
    "(", ")", "[", "]", "{", "}", ",", ":", "#", "&a", "*a", "!", "not ", "span(", "9" * 30,
    "9" * 4301, "1e400", "1e1000000s", "-", "_", ".", "/", "=", " ",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, base: str) -> str:
    """``base`` with a few insertions, deletions, repetitions and nasty fragments."""
    text = base
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["insert", "delete", "repeat", "nest"]))
        at = draw(st.integers(0, len(text)))
        if op == "insert":
            piece = draw(st.one_of(st.sampled_from(_NASTY), st.text(max_size=8)))
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 10)) :]
        elif op == "repeat":
            end = min(len(text), at + draw(st.integers(1, 6)))
            text = text[:at] + text[at:end] * draw(st.integers(2, 400)) + text[end:]
        else:
            opener = draw(st.sampled_from(["!", "not ", "span(", "(", "[", "{", "- "]))
            closer = {"span(": ")", "(": ")", "[": "]", "{": "}"}.get(opener, "")
            n = draw(st.integers(50, 1200))
            text = text[:at] + opener * n + text[at:] + closer * n
    return text


@cache
def _match_grammar() -> Lark:
    grammar = resources.files("pytest_nectar").joinpath("grammar/match.lark").read_text("utf-8")
    # The NUMBER terminal's lookahead is for the lexer; generation does not need it.
    grammar = grammar.replace("(?![A-Za-z0-9_.])", "")
    return Lark(grammar, parser="lalr", start=["match", "action"])


def match_texts() -> st.SearchStrategy[str]:
    """Match expressions from the grammar itself, then mutated."""
    grammar = from_lark(_match_grammar(), start="match")
    return grammar.flatmap(lambda text: mutated(text))


# --- structured data --------------------------------------------------------------------


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, with numbers far outside 64 bits and odd strings."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**400, -(10**400)]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.sampled_from(["", "0", "-1", "9" * 400, "NaN", "Infinity", "1e400", "\x1b]0;x\x07"]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


@st.composite
def replace_nodes(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with some of its nodes (objects, lists, values) replaced by arbitrary JSON."""

    def walk(node: Any, depth: int) -> Any:
        if depth > 0 and draw(st.integers(0, 9)) == 0:
            return draw(json_values())
        if isinstance(node, dict):
            return {k: walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    return walk(doc, 0)


def deep(value: Any, n: int, wrap: Callable[[Any], Any]) -> Any:
    """``value`` wrapped ``n`` times (iteratively: no recursion to build it)."""
    for _ in range(n):
        value = wrap(value)
    return value


def dumps(doc: Any) -> str:
    """JSON text of ``doc``, even when it is nested deeper than json.dumps recurses."""
    try:
        return json.dumps(doc)
    except (RecursionError, ValueError):
        return "[" * 2000 + "]" * 2000
