"""The usual slips in policy files, recognised where the grammar fails, each with its fix.

The parsers call these only once a parse has failed (or, for ``sample(N%)``, before parsing
an action), so the grammar stays exact and every message names the concrete correction:

* ``=>``, ``=<``, ``=!``: did you mean ``>=``, ``<=``, ``!=``;
* ``sample(1%)``: accepted when the percentage is exactly 1 in N (``1%`` is ``1/100``,
  ``0.5%`` is ``1/200``), else the nearest ``1/N`` rates are named;
* ``5sec``, ``5 s``, ``5secs``, ``2mins``: Go duration units, no space (``5s``, ``2m``);
* a positional row whose match cell holds ``,`` or ``"`` unquoted: the row with the cell
  quoted (strings in single quotes, so nothing needs escaping);
* a row one cell short whose match cell is missing: the row with ``true`` in it;
* a regex using what Go's RE2 lacks (lookaround, backreferences, atomic groups, possessive
  quantifiers, ``(?P=name)``): what to write instead;
* (``a or b and c`` without parentheses is a warning of :mod:`.check`, which prints it.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ["Slip", "match_slip", "percent_sample", "regex_hint", "row_slip"]


@dataclass(frozen=True, slots=True)
class Slip:
    """A recognised slip: what is wrong, where (an offset in the text), the text, the fix."""

    what: str
    offset: int
    got: str
    hint: str


_OPERATORS: Final = {"=>": ">=", "=<": "<=", "=!": "!="}
_UNITS: Final = {
    "nanosecond": "ns", "nanoseconds": "ns", "nsec": "ns", "nsecs": "ns",
    "microsecond": "us", "microseconds": "us", "usec": "us", "usecs": "us", "µs": "us",
    "millisecond": "ms", "milliseconds": "ms", "msec": "ms", "msecs": "ms", "millis": "ms",
    "ms": "ms", "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h", "ns": "ns", "us": "us",
}  # fmt: skip
_DURATION: Final = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(\s*)([A-Za-zµ]+)\b")
_PERCENT: Final = re.compile(r"(\s*sample\s*\(\s*)([0-9]*\.?[0-9]+)\s*%\s*\)\s*")
_ACTION_START: Final = re.compile(r"\s*(keep|drop|sample|throughput|dynamic)\b")
_HEADER: Final = re.compile(r"rules\[\d+\]\{([^}]*)\}:")


def match_slip(text: str, offset: int) -> Slip | None:
    """A slip in a match expression whose parse failed at ``offset``, or None."""
    for start in (offset - 1, offset):
        pair = text[start : start + 2] if start >= 0 else ""
        if pair in _OPERATORS:
            right = _OPERATORS[pair]
            return Slip(f"'{pair}' is not an operator", start, pair, f"did you mean '{right}'?")
    for found in _DURATION.finditer(text):
        if not found.start() <= offset <= found.end():
            continue
        amount, space, unit = found.groups()
        go_unit = _UNITS.get(unit) or _UNITS.get(unit.lower())
        if go_unit is None or (not space and unit == go_unit):
            continue
        return Slip(
            "not a duration",
            found.start(),
            found.group(0),
            f"write {amount}{go_unit} (Go units ns, us, ms, s, m, h; no space between)",
        )
    return None


def percent_sample(text: str) -> str | Slip | None:
    """``sample(N%)``: the ``sample(1/M)`` it means when exact, else the slip; None if not one."""
    found = _PERCENT.fullmatch(text)
    if found is None:
        return None
    written = found.group(2)
    try:
        percent = Decimal(written)
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        return None
    offset = found.start(2)
    if not 0 < percent <= 100:
        return Slip(
            "a sample percentage is above 0 and at most 100",
            offset,
            f"{written}%",
            "write keep for 100%, drop for 0%",
        )
    ratio = Decimal(100) / percent
    if ratio == ratio.to_integral_value():
        return f"{found.group(1)}1/{int(ratio)})"
    low, high = int(ratio), int(ratio) + 1
    near = " or ".join(
        f"sample(1/{n}) keeps {Decimal(100) / n:.3g}%" for n in (low, high) if n >= 1
    )
    return Slip(
        "Refinery samples 1 trace in N; this percentage is not 1 in a whole N",
        offset,
        f"{written}%",
        f"the nearest rates: {near}",
    )


def _header_columns(lines: Sequence[str], row_index: int) -> list[str] | None:
    for line in reversed(lines[:row_index]):
        found = _HEADER.search(line)
        if found:
            return [c.strip() for c in found.group(1).split(",")]
    return None


def _quoted(cell: str) -> str:
    body = cell.strip()
    if "'" not in body and "\\" not in body:
        body = re.sub(r'"([^"\\]*)"', r"'\1'", body)  # strings in single quotes: no escapes
    return '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row_slip(lines: Sequence[str], row_index: int) -> Slip | None:
    """A positional rules row (``lines[row_index]``) whose cells went wrong, with the fix.

    The offset is a column (0-based) in the row.
    """
    row = lines[row_index] if 0 <= row_index < len(lines) else ""
    columns = _header_columns(lines, row_index)
    if not columns or "match" not in columns or row.lstrip().startswith("#"):
        return None
    indent = row[: len(row) - len(row.lstrip())]
    pieces = row.strip().split(",")
    at = columns.index("match")
    extra = len(pieces) - len(columns)
    if extra > 0 or (extra == 0 and '"' in pieces[at] and not pieces[at].startswith('"')):
        cell = ",".join(pieces[at : at + extra + 1])
        fixed = [*pieces[:at], _quoted(cell), *pieces[at + extra + 1 :]]
        offset = len(indent) + len(",".join(pieces[:at])) + (1 if at else 0)
        return Slip(
            "a match cell with ',' or '\"' must be quoted",
            offset,
            cell,
            "quote the cell: " + ",".join(fixed),
        )
    if extra == -1 and at < len(pieces) and _ACTION_START.match(pieces[at]):
        fixed = [*pieces[:at], "true", *pieces[at:]]
        offset = len(indent) + len(",".join(pieces[:at])) + (1 if at else 0)
        return Slip(
            "the match cell is missing",
            offset,
            row.strip(),
            "a catch-all matches everything with true: " + ",".join(fixed),
        )
    return None


_REGEX_FIXES: Final = (
    (re.compile(r"\(\?<?[=!]"), "Go regexps have no lookaround: match the text itself, or add "
     "a second condition (does-not-contain, not matches) to the rule"),
    (re.compile(r"\\[1-9]|\(\?P=|\\k<"), "Go regexps have no backreferences: spell the "
     "repeated text out, or compare two fields with two conditions"),
    (re.compile(r"\(\?>"), "Go regexps have no atomic groups: write a plain group (...)"),
    (re.compile(r"[*+?}]\+"), "Go regexps have no possessive quantifiers: drop the extra +"),
)  # fmt: skip


def regex_hint(pattern: str) -> str | None:
    """What to write instead, for a pattern using syntax Go's regexp (RE2) does not have."""
    for construct, hint in _REGEX_FIXES:
        if construct.search(pattern):
            return hint + "; Refinery never matches an invalid pattern"
    return None
