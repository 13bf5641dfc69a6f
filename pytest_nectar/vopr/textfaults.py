"""Tool-chain faults: policy text and rules files corrupted deterministically.

A campaign feeds each corrupted text to the parser or rules loader and asserts that it is
either rejected with a :class:`~pytest_nectar.errors.NectarError` or parses to something that
compiles deterministically; never a traceback, never a silent mis-compile.  Every corruption
changes its input (a kind that finds nothing to change falls back to a byte flip) and says
what it did in ``detail``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BYTE_CORRUPTIONS",
    "TEXT_CORRUPTIONS",
    "Corruption",
    "corrupt_bytes",
    "corrupt_text",
]

TEXT_CORRUPTIONS: tuple[str, ...] = (
    "flip_bit",
    "delete_line",
    "duplicate_line",
    "swap_lines",
    "swap_operator",
    "change_number",
    "truncate",
    "insert_garbage",
    "reindent",
)
BYTE_CORRUPTIONS: tuple[str, ...] = ("flip_bit", "truncate", "delete_range", "insert_bytes")

# Operators of the policy language, of Refinery rules and of YAML, by family: a swap stays in
# its family, so the result is often still valid text that means something else.
_FAMILIES: tuple[tuple[str, ...], ...] = (
    (">=", "<=", "==", "!=", ">", "<"),
    ("&&", "||"),
    ("and", "or"),
    ("true", "false"),
    ("contains", "does-not-contain", "starts-with", "does-not-start-with", "ends-with"),
    ("exists", "not-exists"),
    ("in", "not-in"),
    ("keep", "drop", "sample"),
)
_FAMILY_OF = {op: family for family in _FAMILIES for op in family}
_OPERATOR = re.compile(
    "|".join(
        re.escape(op) if not op[0].isalpha() else rf"(?<![\w.-]){re.escape(op)}(?![\w-])"
        for op in sorted(_FAMILY_OF, key=len, reverse=True)
    )
)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_NUMBER_SWAPS = ("0", "-1", "1e400", "NaN", "0.5", "9223372036854775808", "")
_GARBAGE = ("\t", ":", "{", "]", "\x00", "- ", "'", '"', "#", "\\", "\ufeff", "&&")


@dataclass(frozen=True, slots=True)
class Corruption:
    """A corrupted text, the kind of corruption and where it happened."""

    kind: str
    text: str
    detail: str


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _at_line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _flip(text: str, rng: np.random.Generator) -> Corruption:
    if not text:
        return Corruption("insert_garbage", "\x00", "offset 0: inserted '\\x00'")
    at = int(rng.integers(len(text)))
    bit = 1 << int(rng.integers(7))  # low bits only: never makes a surrogate
    new = chr(ord(text[at]) ^ bit)
    detail = f"line {_at_line(text, at)}: {text[at]!r} -> {new!r}"
    return Corruption("flip_bit", text[:at] + new + text[at + 1 :], detail)


def _delete_line(text: str, rng: np.random.Generator) -> Corruption | None:
    lines = _lines(text)
    if not lines:
        return None
    i = int(rng.integers(len(lines)))
    return Corruption("delete_line", "".join(lines[:i] + lines[i + 1 :]), f"line {i + 1} deleted")


def _duplicate_line(text: str, rng: np.random.Generator) -> Corruption | None:
    lines = _lines(text)
    if not lines:
        return None
    i = int(rng.integers(len(lines)))
    line = lines[i] if lines[i].endswith("\n") else lines[i] + "\n"
    return Corruption(
        "duplicate_line", "".join([*lines[:i], line, *lines[i:]]), f"line {i + 1} duplicated"
    )


def _swap_lines(text: str, rng: np.random.Generator) -> Corruption | None:
    lines = [ln if ln.endswith("\n") else ln + "\n" for ln in _lines(text)]
    candidates = [i for i in range(len(lines) - 1) if lines[i] != lines[i + 1]]
    if not candidates:
        return None
    i = candidates[int(rng.integers(len(candidates)))]
    lines[i], lines[i + 1] = lines[i + 1], lines[i]
    return Corruption("swap_lines", "".join(lines), f"lines {i + 1} and {i + 2} swapped")


def _swap_operator(text: str, rng: np.random.Generator) -> Corruption | None:
    found = list(_OPERATOR.finditer(text))
    if not found:
        return None
    m = found[int(rng.integers(len(found)))]
    others = [op for op in _FAMILY_OF[m.group()] if op != m.group()]
    new = others[int(rng.integers(len(others)))]
    detail = f"line {_at_line(text, m.start())}: {m.group()!r} -> {new!r}"
    return Corruption("swap_operator", text[: m.start()] + new + text[m.end() :], detail)


def _change_number(text: str, rng: np.random.Generator) -> Corruption | None:
    found = list(_NUMBER.finditer(text))
    if not found:
        return None
    m = found[int(rng.integers(len(found)))]
    others = [n for n in _NUMBER_SWAPS if n != m.group()]
    new = others[int(rng.integers(len(others)))]
    detail = f"line {_at_line(text, m.start())}: {m.group()!r} -> {new!r}"
    return Corruption("change_number", text[: m.start()] + new + text[m.end() :], detail)


def _truncate(text: str, rng: np.random.Generator) -> Corruption | None:
    if not text:
        return None
    at = int(rng.integers(len(text)))
    return Corruption("truncate", text[:at], f"cut at line {_at_line(text, at)} (offset {at})")


def _insert_garbage(text: str, rng: np.random.Generator) -> Corruption:
    at = int(rng.integers(len(text) + 1))
    junk = _GARBAGE[int(rng.integers(len(_GARBAGE)))]
    detail = f"line {_at_line(text, at)}: inserted {junk!r}"
    return Corruption("insert_garbage", text[:at] + junk + text[at:], detail)


def _reindent(text: str, rng: np.random.Generator) -> Corruption | None:
    lines = _lines(text)
    candidates = [i for i, ln in enumerate(lines) if ln.strip()]
    if not candidates:
        return None
    i = candidates[int(rng.integers(len(candidates)))]
    if lines[i].startswith(" ") and rng.random() < 0.5:
        lines[i] = lines[i][1:]
        what = "one space less"
    else:
        lines[i] = " " + lines[i]
        what = "one space more"
    return Corruption("reindent", "".join(lines), f"line {i + 1}: {what}")


_TEXT = {
    "delete_line": _delete_line,
    "duplicate_line": _duplicate_line,
    "swap_lines": _swap_lines,
    "swap_operator": _swap_operator,
    "change_number": _change_number,
    "truncate": _truncate,
    "reindent": _reindent,
}


def corrupt_text(
    text: str,
    rng: np.random.Generator,
    kind: str | None = None,
    kinds: Sequence[str] = TEXT_CORRUPTIONS,
) -> Corruption:
    """One corruption of ``text``, of ``kind`` or of a kind drawn from ``kinds``.

    The result always differs from ``text``: a kind with nothing to act on (no operator, no
    number, nothing to truncate) falls back to a bit flip.
    """
    if kind is None:
        kind = kinds[int(rng.integers(len(kinds)))]
    if kind not in TEXT_CORRUPTIONS:
        raise ValueError(f"unknown text corruption {kind!r}; known: {', '.join(TEXT_CORRUPTIONS)}")
    if kind == "insert_garbage":
        return _insert_garbage(text, rng)
    done = _flip(text, rng) if kind == "flip_bit" else _TEXT[kind](text, rng)
    if done is None or done.text == text:
        return _flip(text, rng) if text else _insert_garbage(text, rng)
    return done


def corrupt_bytes(data: bytes, rng: np.random.Generator, kind: str | None = None) -> bytes:
    """``data`` with one byte-level corruption; may leave invalid UTF-8 on purpose."""
    if kind is None:
        kind = BYTE_CORRUPTIONS[int(rng.integers(len(BYTE_CORRUPTIONS)))]
    if kind not in BYTE_CORRUPTIONS:
        raise ValueError(f"unknown byte corruption {kind!r}; known: {', '.join(BYTE_CORRUPTIONS)}")
    if not data or kind == "insert_bytes":
        at = int(rng.integers(len(data) + 1))
        junk = (b"\xff\xfe", b"\x00", b"\xc3", b"\xed\xa0\x80")[int(rng.integers(4))]
        return data[:at] + junk + data[at:]
    at = int(rng.integers(len(data)))
    if kind == "flip_bit":
        return data[:at] + bytes([data[at] ^ (1 << int(rng.integers(8)))]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    stop = min(len(data), at + 1 + int(rng.integers(16)))
    return data[:at] + data[stop:]
