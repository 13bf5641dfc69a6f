"""Explicit input limits shared by every reader, and locating where input crosses one.

Python's decoders and Nectar's tree walks recurse once per level, so deep input would end in a
``RecursionError`` somewhere arbitrary; instead every reader refuses nesting deeper than a
documented limit with a located error.  Standard library only (layer 1).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BEYOND_DECODER",
    "MAX_DATA_DEPTH",
    "beyond_decoder",
    "line_column",
    "nesting_position",
]

#: Arrays and objects in a rules file or a corpus record (real ones stay under 20).
MAX_DATA_DEPTH: Final = 100

_OPEN: Final = frozenset("[{")
_CLOSE: Final = frozenset("]}")


#: What Python's ``json`` and ``tomllib`` raise beyond their own limits (besides their syntax
#: errors, which are ValueErrors too): deep nesting, and integers of over 4,300 digits.
BEYOND_DECODER: Final = (RecursionError, ValueError)


def beyond_decoder(err: BaseException) -> str:
    """A message for a decoder's RecursionError or integer-limit ValueError."""
    if isinstance(err, RecursionError):
        return "nested deeper than Python's decoder reads"
    return "a number has too many digits (Python reads at most 4,300)"


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    line = before.count("\n") + 1
    return line, offset - (before.rfind("\n") + 1) + 1


def nesting_position(text: str, limit: int) -> tuple[int, int] | None:
    """Line and column of the bracket that opens level ``limit + 1`` of JSON- or TOML-like text.

    Brackets inside double- or single-quoted strings do not count.  None when the text never
    nests that deep.  Linear in the text; used on error paths only.
    """
    depth = 0
    quote = ""
    escaped = False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote or ch == "\n":
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
        elif ch in _OPEN:
            depth += 1
            if depth > limit:
                return line_column(text, i)
        elif ch in _CLOSE:
            depth -= 1
    return None
