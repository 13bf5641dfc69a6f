"""Go ``time.ParseDuration``, exactly: the only duration syntax Refinery's rules accept.

``"1m30s"``, ``"500ms"``, ``"1.5h"``, ``".5s"`` and ``"10µs"`` parse; a bare ``"10"``, ``"1d"`` or
``""`` do not (only ``"0"`` may go without a unit).  The result is int64 nanoseconds, with
Go's overflow checks and its float64 rounding of fractions.  Error texts are Go's.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NANOSECONDS_PER_SECOND", "DurationError", "go_quote", "parse_duration"]

NANOSECONDS_PER_SECOND: Final = 1_000_000_000

_UNITS: Final[dict[bytes, int]] = {
    b"ns": 1,
    b"us": 1_000,
    "µs".encode(): 1_000,  # U+00B5 micro sign
    "μs".encode(): 1_000,  # U+03BC Greek mu
    b"ms": 1_000_000,
    b"s": NANOSECONDS_PER_SECOND,
    b"m": 60 * NANOSECONDS_PER_SECOND,
    b"h": 3600 * NANOSECONDS_PER_SECOND,
}
_LIMIT: Final = 1 << 63
_DIGITS: Final = frozenset(b"0123456789")


class DurationError(ValueError):
    """A string Go's ``time.ParseDuration`` rejects; the message is Go's."""


def go_quote(text: str | bytes) -> str:
    """Go ``time``'s private ``quote``: non-ASCII and control bytes become ``\\xNN``."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    out = ['"']
    for byte in raw:
        if byte >= 0x80 or byte < 0x20:
            out.append(f"\\x{byte:02x}")
        elif byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        else:
            out.append(chr(byte))
    out.append('"')
    return "".join(out)


def _leading_int(s: bytes) -> tuple[int, bytes] | None:
    x = 0
    i = 0
    while i < len(s) and s[i] in _DIGITS:
        if x > _LIMIT // 10:
            return None
        x = x * 10 + (s[i] - 0x30)
        if x > _LIMIT:
            return None
        i += 1
    return x, s[i:]


def _leading_fraction(s: bytes) -> tuple[int, float, bytes]:
    """Digits after the point; past int64 range the extra digits add no precision."""
    x = 0
    scale = 1.0
    overflow = False
    i = 0
    while i < len(s) and s[i] in _DIGITS:
        if not overflow:
            if x > (_LIMIT - 1) // 10:
                overflow = True
            else:
                y = x * 10 + (s[i] - 0x30)
                if y > _LIMIT:
                    overflow = True
                else:
                    x = y
                    scale *= 10
        i += 1
    return x, scale, s[i:]


def parse_duration(text: str) -> int:
    """Go ``time.ParseDuration(text)`` in nanoseconds; :class:`DurationError` if Go errs."""
    orig = text.encode("utf-8", "surrogatepass")
    s = orig
    invalid = DurationError("time: invalid duration " + go_quote(orig))
    neg = False
    if s and s[:1] in (b"-", b"+"):
        neg = s[:1] == b"-"
        s = s[1:]
    if s == b"0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        if not (s[0] == 0x2E or s[0] in _DIGITS):
            raise invalid
        before = len(s)
        lead = _leading_int(s)
        if lead is None:
            raise invalid
        whole, s = lead
        pre = before != len(s)
        frac, scale, post = 0, 1.0, False
        if s[:1] == b".":
            s = s[1:]
            before = len(s)
            frac, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(s) and not (s[i] == 0x2E or s[i] in _DIGITS):
            i += 1
        if i == 0:
            raise DurationError("time: missing unit in duration " + go_quote(orig))
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise DurationError(
                f"time: unknown unit {go_quote(unit_text)} in duration {go_quote(orig)}"
            )
        if whole > _LIMIT // unit:
            raise invalid
        value = whole * unit
        if frac > 0:
            # Go adds uint64(float64(f) * (float64(unit) / scale)): float64 rounding included.
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                raise invalid
        total += value
        if total > _LIMIT:
            raise invalid
    if neg:
        return -total
    if total > _LIMIT - 1:
        raise invalid
    return total
