"""Go value semantics that Refinery's rules rely on: ``%v`` text, conversions, ``compare()``.

Python types stand for Go types as in :mod:`pytest_nectar.trace`: ``int`` is int64
(``GoInt`` a Go ``int``, ``GoUint64`` a uint64), ``float`` is float64 (``GoFloat32`` a
float32), ``str``, ``bool``, ``None`` is nil, ``list``/``dict`` are JSON slices and maps.
Condition values read from YAML are Go ``int``; the difference from int64 matters only for a
scalar ``in`` Value (see :mod:`.conditions`), so rules use plain ``int`` and a TOML integer
is marked :class:`GoInt64`.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from typing import Any, Final

from pytest_nectar.trace import GoFloat32, GoInt, GoUint64

__all__ = [
    "META_BOOL_FIELDS",
    "META_INT64_FIELDS",
    "META_STRING_FIELDS",
    "MIN_INT64",
    "GoInt64",
    "GoMap",
    "compare",
    "format_float_f",
    "format_g",
    "go_type_name",
    "go_v",
    "json_floats",
    "parse_bool",
    "parse_float",
    "payload_get",
    "to_bool",
    "to_float",
    "to_int",
]

MIN_INT64: Final = -(1 << 63)
MAX_INT64: Final = (1 << 63) - 1

# Payload fields with dedicated storage: they "exist" only when set to a non-zero value of
# their Go type (types/payload.go metadataFields).
META_STRING_FIELDS: Final = frozenset(
    {
        "meta.signal_type",
        "meta.trace_id",
        "meta.annotation_type",
        "meta.refinery.incoming_user_agent",
        "meta.refinery.local_hostname",
        "meta.refinery.reason",
        "meta.refinery.send_reason",
        "meta.refinery.sample_key",
    }
)
META_BOOL_FIELDS: Final = frozenset({"meta.refinery.probe", "meta.refinery.root", "meta.stressed"})
META_INT64_FIELDS: Final = frozenset(
    {
        "meta.span_event_count",
        "meta.span_link_count",
        "meta.span_count",
        "meta.event_count",
        "meta.refinery.original_sample_rate",
        "meta.refinery.final_sample_rate",
    }
)
_MISSING: Final = object()


def json_floats(value: Any) -> Any:
    """Decoded JSON as Refinery's JSON API stores it: every integer, nested too, a float64."""
    if type(value) is int:
        return float(value)
    if isinstance(value, list):
        return [json_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: json_floats(v) for k, v in value.items()}
    return value


def payload_get(data: Mapping[str, object], key: str) -> tuple[object, bool]:
    """``(value, exists)`` as Refinery's ``Payload.Get``/``Exists`` see a flat field."""
    if key.startswith("meta."):
        if key in META_STRING_FIELDS:
            v = data.get(key)
            return (v, True) if isinstance(v, str) and v != "" else (None, False)
        if key in META_BOOL_FIELDS:
            v = data.get(key)
            return (v, True) if isinstance(v, bool) else (None, False)
        if key in META_INT64_FIELDS:
            v = data.get(key)
            ok = isinstance(v, int) and not isinstance(v, bool) and v != 0
            return (v, True) if ok else (None, False)
    v = data.get(key, _MISSING)
    if v is _MISSING:
        return None, False
    return v, True


class GoMap(tuple):  # type: ignore[type-arg]
    """A YAML map inside a condition's ``Value`` list, as sorted ``(key, value)`` pairs.

    Hashable (conditions are frozen); ``%v`` prints it as Go prints a ``map[string]any``:
    ``map[k1:v1 k2:v2]`` with the keys sorted.
    """

    __slots__ = ()


class GoInt64(int):
    """An int64 in a rules file (TOML integers): fails Refinery's ``int`` type checks."""

    __slots__ = ()


def _shortest_digits(x: float, bits: int) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite non-zero |x| and the point position."""
    if bits == 64:
        text = repr(abs(x))
    else:
        target = struct.unpack("f", struct.pack("f", abs(x)))[0]
        text = ""
        for prec in range(1, 10):
            cand = f"{target:.{prec - 1}e}"
            if struct.unpack("f", struct.pack("f", float(cand)))[0] == target:
                text = cand
                break
    mant, _, exp_s = text.lower().partition("e")
    exp = int(exp_s) if exp_s else 0
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    lead_zeros = len(whole + frac) - len((whole + frac).lstrip("0"))
    point = len(whole) + exp - lead_zeros
    digits = digits.rstrip("0") or "0"
    return digits, point


def format_g(x: float, bits: int = 64) -> str:
    """Go ``strconv.FormatFloat(x, 'g', -1, bits)``, which is what ``%v`` prints."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    digits, point = _shortest_digits(x, bits)
    exp = point - 1
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        esign = "-" if exp < 0 else "+"
        return f"{sign}{mant}e{esign}{abs(exp):02d}"
    return _fixed(sign, digits, point)


def _fixed(sign: str, digits: str, point: int) -> str:
    """Shortest ``digits`` with the decimal point after ``point`` of them, no exponent."""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def format_float_f(x: float) -> str:
    """Go ``strconv.FormatFloat(x, 'f', -1, 64)``: shortest digits, never an exponent."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    digits, point = _shortest_digits(x, 64)
    return _fixed(sign, digits, point)


def go_v(value: object) -> str:
    """Go ``fmt.Sprintf("%v", value)`` for the value types a span or a rule can hold."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, GoFloat32):
        return format_g(float(value), 32)
    if isinstance(value, float):
        return format_g(value)
    if isinstance(value, GoMap):
        return "map[" + " ".join(f"{k}:{go_v(v)}" for k, v in value) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "map[" + " ".join(f"{k}:{go_v(v)}" for k, v in items) + "]"
    return str(value)


def go_type_name(value: object) -> str:
    """Go ``%T`` of a value decoded into ``any`` (used in Refinery's validation messages)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (GoInt64,)):
        return "int64"
    if isinstance(value, GoUint64):
        return "uint64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, GoFloat32):
        return "float32"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, GoMap):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


_ATOI = re.compile(r"[+-]?[0-9]+", re.ASCII)


def to_int(value: object) -> int | None:
    """Refinery's ``tryConvertToInt``; None when the conversion fails."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, GoUint64):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, GoFloat32):
        return None
    if isinstance(value, float):
        # Go's int(f) truncates; NaN, Inf and out-of-range give MinInt64 on amd64.
        if math.isnan(value) or math.isinf(value) or not (-(2.0**63) <= value < 2.0**63):
            return MIN_INT64
        return int(value)
    if isinstance(value, str):
        # Over 19 significant digits is Atoi's range error (and int() would refuse 4,300+).
        digits = value.lstrip("+-").lstrip("0") or "0"
        if _ATOI.fullmatch(value) and len(digits) <= 19:
            n = -int(digits) if value.startswith("-") else int(digits)
            if MIN_INT64 <= n <= MAX_INT64:
                return n
        return None
    return None


def _underscore_ok(s: str) -> bool:
    """Go strconv's underscoreOK: underscores only between digits (or after a base prefix)."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and "a" <= c.lower() <= "f"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?", re.ASCII)
_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?[0-9_]+", re.ASCII
)
_SPECIAL = re.compile(r"[+-]?(?:inf|infinity)|nan", re.ASCII | re.IGNORECASE)


def parse_float(s: str) -> float | None:
    """Go ``strconv.ParseFloat(s, 64)``; None on a syntax or range error (no Python leniency)."""
    if _SPECIAL.fullmatch(s):
        low = s.lower()
        if low == "nan":
            return math.nan
        return -math.inf if low.startswith("-") else math.inf
    if _HEX_FLOAT.fullmatch(s):
        if "_" in s and not _underscore_ok(s):
            return None
        body = s.replace("_", "")
        try:
            out = float.fromhex(body)
        except (OverflowError, ValueError):
            return None
        return None if math.isinf(out) else out
    if _DEC_FLOAT.fullmatch(s):
        if not any(c.isdigit() for c in s.split("e")[0].split("E")[0]):
            return None
        if "_" in s and not _underscore_ok(s):
            return None
        out = float(s.replace("_", ""))
        return None if math.isinf(out) else out
    return None


def to_float(value: object) -> float | None:
    """Refinery's ``tryConvertToFloat``; None when the conversion fails."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (GoUint64, GoFloat32)):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        return parse_float(value)
    return None


_TRUE: Final = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def parse_bool(s: str) -> bool | None:
    """Go ``strconv.ParseBool``; None when the text is not one of its spellings."""
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    return None


def to_bool(value: object) -> bool:
    """Refinery's ``TryConvertToBool``: ParseBool of the ``%v`` text, false on failure."""
    return parse_bool(go_v(value)) is True


def _order(a: float | int, b: float | int) -> int:
    if a < b:
        return -1
    if a > b:
        return 1
    return 0  # equal, or NaN involved: neither < nor > holds


def compare(a: object, b: object) -> int | None:
    """Refinery's untyped ``compare(spanValue, conditionValue)``: -1/0/1, None when not ok."""
    if a is None:
        return 0 if b is None else -1
    if b is None:
        return 1
    if isinstance(a, bool):
        if isinstance(b, bool):
            return _order(int(a), int(b))
        return None
    if isinstance(a, (GoInt, GoUint64, GoFloat32)):
        return None
    if isinstance(a, int):
        if isinstance(b, (bool, GoUint64, GoFloat32)):
            return None
        if isinstance(b, int):
            return _order(int(a), int(b))
        if isinstance(b, float):
            return _order(float(a), b)
        return None
    if isinstance(a, float):
        if isinstance(b, (bool, GoUint64, GoFloat32)):
            return None
        if isinstance(b, (int, float)):
            return _order(a, float(b))
        return None
    if isinstance(a, str):
        if isinstance(b, str):
            # Code-point order equals Go's bytewise order of the UTF-8 text.
            return -1 if a < b else (1 if a > b else 0)
        return None
    return None
