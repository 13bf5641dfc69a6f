"""How a policy file is written, so that ``nectar fmt`` keeps it (form and quoting).

``nectar fmt`` normalises what is ambiguous (spacing, ``==``/``&&`` spellings, row order,
quoting that TOON needs), but keeps the choices a file made where both are valid:

* the **form** of the top-level fields: keyed (``nectar_policy:`` then ``name: value``) or
  positional (``nectar_policy{version,name,...}:`` then one value per line);
* the **quotes** of each string literal in a match expression: ``'raw'`` stays ``'raw'``
  (when the value can be written raw: no ``'`` and no control characters), ``"..."`` stays
  ``"..."``;
* comments after the last line at column 0 stay at column 0.

:func:`detect_layout` reads these from the source text and the parsed policy (literals keep
their source positions); :func:`pytest_nectar.policy.printer.format_policy` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from pytest_nectar.policy.model import (
    And,
    Condition,
    Expr,
    ListLiteral,
    Literal,
    Not,
    Or,
    Policy,
    SpanScope,
)

__all__ = ["Layout", "detect_layout"]

_KEYED_HEAD: Final = re.compile(r"nectar_policy\s*:\s*(#.*)?$")


@dataclass(frozen=True, slots=True)
class Layout:
    """The choices of one file that ``nectar fmt`` keeps (the default: the canonical form)."""

    keyed: bool = False
    #: (line, column) of the string literals written in single quotes
    single_quoted: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    #: indentation of the comments after the last line (None: the rows' indentation)
    trailing_indent: str | None = None


def _literals(expr: Expr) -> Iterator[Literal]:
    if isinstance(expr, And | Or):
        for operand in expr.operands:
            yield from _literals(operand)
    elif isinstance(expr, Not):
        yield from _literals(expr.operand)
    elif isinstance(expr, SpanScope):
        yield from _literals(expr.body)
    elif isinstance(expr, Condition):
        if isinstance(expr.value, Literal):
            yield expr.value
        elif isinstance(expr.value, ListLiteral):
            yield from expr.value.items


def _expressions(policy: Policy) -> Iterator[Expr]:
    yield from (rule.match for rule in policy.rules)
    if policy.error is not None:
        yield policy.error
    yield from policy.must_keep or ()


def _char_at(lines: Sequence[str], line: int, column: int) -> str:
    if 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]):
        return lines[line - 1][column - 1]
    return ""


def detect_layout(text: str, policy: Policy) -> Layout:
    """The layout ``text`` (which parsed to ``policy``) is written in."""
    lines = text.split("\n")  # as the parser counts lines (not splitlines: \x85 is text)
    head = next((s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")), "")
    single = frozenset(
        (lit.position.line, lit.position.column)
        for expr in _expressions(policy)
        for lit in _literals(expr)
        if isinstance(lit.value, str)
        and _char_at(lines, lit.position.line, lit.position.column) == "'"
    )
    trailing = [c for c in policy.comments.trailing if not c.is_blank]
    indent = "" if trailing and trailing[0].position.column == 1 else None
    return Layout(keyed=bool(_KEYED_HEAD.match(head)), single_quoted=single, trailing_indent=indent)
