"""Input generators and the invariant shared by the fuzz tests and the long fuzz round.

Inputs are grammar-based where a grammar exists (match expressions, via
``hypothesis.extra.lark``), structure-based elsewhere (a valid document whose nodes are
replaced by arbitrary JSON), and then mutated byte-wise and nested deeply, because the
classes found so far came from exactly those three: wrong shapes, huge numbers, deep nesting.

Every generator takes a :class:`Chooser`, so the same code serves Hypothesis (tests/test_fuzz.py,
shrinking included) and the long round's plain seeded ``random.Random`` (tests/fuzz_round.py,
about a hundred times faster per input).

The invariant: every input ends in a result or a :class:`NectarError`, within generous time
and memory caps.  The number of examples is bounded in the normal suite (deterministic, so
CI never flakes on a new find) and set by ``NECTAR_FUZZ_EXAMPLES`` for long, random rounds.
"""

from __future__ import annotations

import json
import os
import random
import resource
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from importlib import resources
from typing import Any, Final, Protocol, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from pytest_nectar.errors import NectarError

__all__ = [
    "LONG",
    "Chooser",
    "DrawChooser",
    "RandomChooser",
    "dumps",
    "fuzz_settings",
    "json_value",
    "json_values",
    "match_soup",
    "match_texts",
    "mutate_text",
    "mutated",
    "replace_nodes",
    "within_bounds",
]

T = TypeVar("T")

#: Examples per fuzz test: a long, random round when NECTAR_FUZZ_EXAMPLES is set.
LONG: Final = int(os.environ.get("NECTAR_FUZZ_EXAMPLES", "0") or 0)

#: Generous caps for one input of a few KiB (CPU seconds, peak RSS): an order of magnitude
#: above what one takes.
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
    # CPU time, not wall time: a loaded machine (or nice -n 19) must not make a finding.
    start = time.process_time()
    with suppress(NectarError):
        yield
    elapsed = time.process_time() - start
    assert elapsed < SECONDS_CAP, f"{what} took {elapsed:.1f} s of CPU"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    assert rss < RSS_CAP_BYTES, f"{what}: peak RSS {rss / 1e9:.2f} GB"


# --- choices ----------------------------------------------------------------------------


class Chooser(Protocol):
    def integer(self, lo: int, hi: int) -> int: ...

    def pick(self, items: Sequence[T]) -> T: ...

    def text(self, max_size: int) -> str: ...


class DrawChooser:
    """Choices drawn from Hypothesis (so failures shrink)."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def pick(self, items: Sequence[T]) -> T:
        return self.draw(st.sampled_from(items))

    def text(self, max_size: int) -> str:
        return self.draw(st.text(max_size=max_size))


class RandomChooser:
    """Choices from a seeded ``random.Random`` (the long round; the seed is printed)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def text(self, max_size: int) -> str:
        n = self.rng.randint(0, max_size)
        alphabet = self.pick([_ASCII, _WIDE])
        return "".join(self.pick(alphabet) for _ in range(n))


_ASCII: Final = [chr(c) for c in range(128)]
_WIDE: Final = [*_ASCII, "é", "\u2028", "\ufeff", "\U0001f600", "\ud800", "Ω", "\x85"]


# --- text -------------------------------------------------------------------------------

_NASTY: Final = [
    "\x00", "\x01", "\x1b[2J", "\n", "\r", "\t", "\u2028", "\ufeff", "é", "`", '"', "'", "\\",
    "(", ")", "[", "]", "{", "}", ",", ":", "#", "&a", "*a", "!", "not ", "span(", "9" * 30,
    "9" * 4301, "1e400", "1e1000000s", "-", "_", ".", "/", "=", " ", "<<: *a", "? ", "|",
]  # fmt: skip
_OPENERS: Final = ["!", "not ", "span(", "(", "[", "{", "- ", "&a [", '{"a": ']
_CLOSERS: Final = {"span(": ")", "(": ")", "[": "]", "{": "}", "&a [": "]", '{"a": ': "}"}


def mutate_text(text: str, c: Chooser) -> str:
    """``text`` with a few insertions, deletions, repetitions and deep nestings."""
    for _ in range(c.integer(0, 4)):
        op = c.pick(["insert", "delete", "repeat", "nest"])
        at = c.integer(0, len(text))
        if op == "insert":
            piece = c.pick(_NASTY) if c.integer(0, 1) else c.text(8)
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + c.integer(1, 10) :]
        elif op == "repeat":
            end = min(len(text), at + c.integer(1, 6))
            text = text[:at] + text[at:end] * c.integer(2, 400) + text[end:]
        else:
            opener = c.pick(_OPENERS)
            n = c.integer(50, 1200)
            text = text[:at] + opener * n + text[at:] + _CLOSERS.get(opener, "") * n
    return text


@st.composite
def mutated(draw: st.DrawFn, base: str) -> str:
    return mutate_text(base, DrawChooser(draw))


@cache
def _match_grammar() -> Lark:
    grammar = (
        resources.files("pytest_nectar.policy").joinpath("grammar/match.lark").read_text("utf-8")
    )
    # The NUMBER terminal's lookahead is for the lexer; generation does not need it.
    grammar = grammar.replace("(?![A-Za-z0-9_.])", "")
    return Lark(grammar, parser="lalr", start=["match", "action"])


def match_texts() -> st.SearchStrategy[str]:
    """Match expressions from the grammar itself, then mutated."""
    return from_lark(_match_grammar(), start="match").flatmap(mutated)


MATCH_TOKENS: Final = [
    "a", "http.status", "root.x", "`q\\n`", "=", "==", "!=", ">", "<=", "contains", "in",
    "not", "!", "exists", "and", "or", "&&", "||", "(", ")", "[", "]", ",", "1", "-2.5e3",
    "5s", "1e400s", '"s\\u00e9"', "'r'", "true", "false", "span(", "has_root", "first(",
    "as", "int", "untyped", "descendants", "9" * 25, "starts-with", "matches", "not-in",
]  # fmt: skip


def match_soup(c: Chooser) -> str:
    """A match expression as a random sequence of the language's tokens, then mutated."""
    words = [c.pick(MATCH_TOKENS) for _ in range(c.integer(1, 14))]
    return mutate_text(" ".join(words), c)


# --- structured data --------------------------------------------------------------------

_SCALARS: Final[list[Any]] = [
    None, True, False, 0, -1, 1, 500, 2**31, 2**63, 2**64, -(2**63) - 1, 10**400, -(10**400),
    0.5, -0.0, 1e308, 5e-324, "", "0", "-1", "503", "9" * 400, "NaN", "Infinity", "1e400",
    "\x1b]0;x\x07", "é", "a.b", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", "0" * 32, "AAAA",
]  # fmt: skip


def json_value(c: Chooser, budget: int = 8) -> Any:
    """Arbitrary JSON of at most ``budget`` leaves, with numbers far outside 64 bits."""
    kind = c.integer(0, 5) if budget > 1 else 0
    if kind <= 2:
        return c.pick(_SCALARS) if kind < 2 else c.text(12)
    if kind == 3:
        return [json_value(c, budget // 2) for _ in range(c.integer(0, 3))]
    return {c.text(6): json_value(c, budget // 2) for _ in range(c.integer(0, 3))}


def replace_nodes(doc: Any, c: Chooser, rate: int = 10) -> Any:
    """``doc`` with about one node in ``rate`` replaced by arbitrary JSON."""

    def walk(node: Any, depth: int) -> Any:
        if depth > 0 and c.integer(1, rate) == 1:
            return json_value(c)
        if isinstance(node, dict):
            return {k: walk(v, depth + 1) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        return node

    return walk(doc, 0)


@st.composite
def json_values(draw: st.DrawFn) -> Any:
    return json_value(DrawChooser(draw))


def dumps(doc: Any) -> str:
    """JSON text of ``doc``, even when it is nested deeper than json.dumps recurses."""
    try:
        return json.dumps(doc)
    except (RecursionError, ValueError):
        return "[" * 2000 + "]" * 2000
