"""gjson ``Get(json.Marshal(span), path)`` as Refinery's ``CheckNestedFields`` runs it.

Refinery pins github.com/tidwall/gjson v1.18.0 (and, through it, tidwall/match v1.1.1).
This module follows that version's ``Get``, ``parseObjectPath``, ``parseObject``,
``parseArrayPath``, ``parseArray``, ``parseUint``, ``Result.String``/``Exists`` and
``match.MatchLimit`` on the value Go's ``json.Marshal`` would write (objects with sorted keys,
so "the first matching key" is the first in sorted order).  Modelled exactly:

* dot-separated components; ``\\`` escapes the next character (``a\\.b`` is the key ``a.b``);
* ``*`` (any run of characters) and ``?`` (one character) in object keys, trying matching
  keys in order until one yields the rest of the path; ``\\*`` is a literal star;
* a number indexes an array (digits only, wrapping as gjson's ``parseUint`` does);
* ``#`` as the last component is an array's length; ``#.rest`` maps ``rest`` over the
  elements into a JSON array of the results that exist;
* a key that merely contains ``#``, ``@`` or ``!`` where gjson reads it as a key.

Refused with :class:`GjsonUnsupported` (the caller turns it into a located error): a pipe
``|``, modifiers (``@reverse``, ``@this``, ... at the start or after a dot), multipaths
(``[a,b]``, ``{a,b}``), static literals (``!true``), queries (``#(...)``, ``#[...]``),
JSON lines (``..``), and ``#.rest`` over an array element that is a string holding ``[`` or
``{`` (gjson re-parses the element's raw text from its first bracket).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pytest_nectar.refinery.values import format_float_f, go_v
from pytest_nectar.trace import GoFloat32

__all__ = [
    "GjsonUnsupported",
    "check_path",
    "first_key",
    "get",
    "go_json",
    "validate_path",
]

#: gjson v1.18.0's built-in modifiers (``init``): ``@name`` is a modifier only for these.
MODIFIERS: Final = frozenset(
    {
        "pretty",
        "ugly",
        "reverse",
        "this",
        "flatten",
        "join",
        "valid",
        "keys",
        "values",
        "tostr",
        "fromstr",
        "group",
        "dig",
    }
)
_MATCH_LIMIT: Final = 10000


class GjsonUnsupported(ValueError):
    """A gjson construct Nectar does not evaluate (never answered as "no match")."""


# --- Go's json.Marshal text ------------------------------------------------------------------


def go_json(value: object) -> str:
    """Go ``json.Marshal`` text (compact, sorted keys, HTML-escaped) of a finite value."""
    import json

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, GoFloat32):
        return format_float_f(float(go_v(value)))
    if isinstance(value, float):
        a = abs(value)
        if a != 0 and (a < 1e-6 or a >= 1e21):
            text = repr(float(value))
            mant, _, exp = text.partition("e")
            sign = "-" if exp.startswith("-") else "+"
            return f"{mant}e{sign}{exp.lstrip('+-').lstrip('0') or '0'}"
        return format_float_f(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{go_json(k)}:{go_json(v)}" for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return go_json(str(value))


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Result:
    raw: str
    text: str  # Result.String()


def _number_string(raw: str, value: float) -> str:
    digits = raw[1:] if raw.startswith("-") else raw
    if digits and all("0" <= c <= "9" for c in digits):
        return raw
    return format_float_f(value)


def _result(value: object) -> _Result:
    raw = go_json(value)
    if isinstance(value, str):
        return _Result(raw, value)
    if value is None:
        return _Result(raw, "")
    if isinstance(value, bool):
        return _Result(raw, raw)
    if isinstance(value, int):
        return _Result(raw, raw)
    if isinstance(value, float):
        return _Result(raw, _number_string(raw, float(raw) if math.isfinite(value) else value))
    return _Result(raw, raw)  # objects and arrays: their raw JSON


# --- tidwall/match v1.1.1 --------------------------------------------------------------------


def _match(s: str, pat: str, slen: int, counter: list[int]) -> int:
    """``match``: 1 match, 0 no match, 2 stopped by the complexity limit."""
    if counter[0] > slen * _MATCH_LIMIT:
        return 2
    counter[0] += 1
    while pat:
        wild = False
        pc = pat[0]
        ps = 1
        has = bool(s)
        if pc == "?":
            if not has:
                return 0
        elif pc == "*":
            while len(pat) > 1 and pat[1] == "*":
                pat = pat[1:]
            if len(pat) == 1:
                return 1
            s, pat, ok = _trim_suffix(s, pat)
            if not ok:
                return 0
            if len(pat) == 1:
                return 1
            r = _match(s, pat[1:], slen, counter)
            if r != 0:
                return r
            if not s:
                return 0
            wild = True
        else:
            if not has:
                return 0
            if pc == "\\":
                pat = pat[1:]
                if not pat:
                    return 0
                pc = pat[0]
            if s[0] != pc:
                return 0
        s = s[1:]
        if not wild:
            pat = pat[ps:]
    return 1 if not s else 0


def _trim_suffix(s: str, pat: str) -> tuple[str, str, bool]:
    ok = True
    while s and len(pat) > 1:
        pc = pat[-1]
        ps = 1
        esc = False
        i = 0
        while True:
            j = len(pat) - ps - i - 1
            if j < 0 or pat[j] != "\\":
                if i & 1:
                    esc = True
                    ps += 1
                break
            i += 1
        if pc == "*" and not esc:
            ok = True
            break
        if not ((pc == "?" and not esc) or pc == s[-1]):
            ok = False
            break
        s = s[:-1]
        pat = pat[:-ps]
    return s, pat, ok


def _match_limit(key: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    return _match(key, pattern, len(key.encode("utf-8", "surrogatepass")), [0]) == 1


# --- paths -----------------------------------------------------------------------------------


def _dot_piper(rest: str) -> bool:
    """gjson's ``isDotPiperChar``: after a dot, a modifier or a multipath starts a pipe."""
    c = rest[0]
    if c == "@":
        i = 1
        while i < len(rest) and rest[i] not in ".|:":
            i += 1
        return rest[1:i] in MODIFIERS
    return c in "[{"


@dataclass(frozen=True, slots=True)
class _ObjectPath:
    part: str
    rest: str
    more: bool
    wild: bool


def _object_path(path: str) -> _ObjectPath:
    """``parseObjectPath`` (a pipe is refused)."""
    wild = False
    i = 0
    while i < len(path):
        c = path[i]
        if c == "|":
            raise GjsonUnsupported("a '|' pipe")
        if c == ".":
            if i < len(path) - 1 and _dot_piper(path[i + 1 :]):
                raise GjsonUnsupported(f"a modifier or multipath after a dot {path[i + 1 :]!r}")
            return _ObjectPath(path[:i], path[i + 1 :], True, wild)
        if c in "*?":
            wild = True
        elif c == "\\":
            part = list(path[:i])
            i += 1
            if i < len(path):
                part.append(path[i])
                i += 1
                while i < len(path):
                    c = path[i]
                    if c == "\\":
                        i += 1
                        if i < len(path):
                            part.append(path[i])
                        i += 1
                        continue
                    if c == ".":
                        rest = path[i + 1 :]
                        if i < len(path) - 1 and _dot_piper(rest):
                            raise GjsonUnsupported(f"a modifier or multipath after a dot {rest!r}")
                        return _ObjectPath("".join(part), rest, True, wild)
                    if c == "|":
                        raise GjsonUnsupported("a '|' pipe")
                    if c in "*?":
                        wild = True
                    part.append(c)
                    i += 1
            return _ObjectPath("".join(part), "", False, wild)
        i += 1
    return _ObjectPath(path, "", False, wild)


@dataclass(frozen=True, slots=True)
class _ArrayPath:
    part: str
    rest: str
    more: bool
    arrch: bool
    alog: str | None


def _array_path(path: str) -> _ArrayPath:
    """``parseArrayPath`` (pipes and queries are refused)."""
    arrch = False
    alog: str | None = None
    for i, c in enumerate(path):
        if c == "|":
            raise GjsonUnsupported("a '|' pipe")
        if c == ".":
            rest = path[i + 1 :]
            if not arrch and i < len(path) - 1 and _dot_piper(rest):
                raise GjsonUnsupported(f"a modifier or multipath after a dot {rest!r}")
            return _ArrayPath(path[:i], rest, True, arrch, alog)
        if c == "#":
            arrch = True
            if i == 0 and len(path) > 1:
                if path[1] == ".":
                    alog = path[2:]
                elif path[1] in "[(":
                    raise GjsonUnsupported(f"a query ({path!r})")
    return _ArrayPath(path, "", False, arrch, alog)


def _parse_uint(s: str) -> int:
    """``int(parseUint(s))`` as gjson computes it (wrapping), -1 when not all digits."""
    if not s or not all("0" <= c <= "9" for c in s):
        return -1
    n = int(s) % (1 << 64)
    return n - (1 << 64) if n >= 1 << 63 else n


def _in_object(obj: Mapping[str, object], path: str) -> _Result | None:
    rp = _object_path(path)
    for key in sorted(obj):
        pmatch = _match_limit(key, rp.part) if rp.wild else key == rp.part
        if not pmatch:
            continue
        value = obj[key]
        if not rp.more:
            return _result(value)
        found = _descend(value, rp.rest)
        if found is not None:
            return found
    return None


def _descend(value: object, path: str) -> _Result | None:
    if isinstance(value, Mapping):
        return _in_object(value, path)
    if isinstance(value, (list, tuple)):
        return _in_array(value, path)
    return None


def _in_array(arr: list[object] | tuple[object, ...], path: str) -> _Result | None:
    rp = _array_path(path)
    if not rp.arrch:
        index = _parse_uint(rp.part)
        if not 0 <= index < len(arr):
            return None
        value = arr[index]
        return _result(value) if not rp.more else _descend(value, rp.rest)
    if rp.part != "#":
        return None
    if rp.alog is None:
        return _Result(str(len(arr)), str(len(arr)))
    raws = []
    for element in arr:
        found = _get_raw(element, rp.alog)
        if found is not None:
            raws.append(found.raw or found.text)
    raw = "[" + ",".join(raws) + "]"
    return _Result(raw, raw)


def _get_raw(value: object, path: str) -> _Result | None:
    """``Get(raw JSON of value, path)``: the document starts at its first bracket."""
    check_path(path)
    if isinstance(value, str) and ("[" in go_json(value) or "{" in go_json(value)):
        raise GjsonUnsupported("'#.' over a string element holding '[' or '{'")
    return _descend(value, path)


def check_path(path: str) -> None:
    """Refuse what :func:`get` does not model at the start of a path (see module doc)."""
    if len(path) > 1:
        if path[0] == "@":
            i = 1
            while i < len(path) and path[i] not in ".|:":
                i += 1
            if path[1:i] in MODIFIERS:
                raise GjsonUnsupported(f"the modifier @{path[1:i]}")
        if path[0] == "!":
            raise GjsonUnsupported("a static literal or '!' path")
        if path[0] in "[{":
            raise GjsonUnsupported("a multipath")
        if path.startswith(".."):
            raise GjsonUnsupported("JSON lines ('..')")


def get(doc: Mapping[str, object], path: str) -> tuple[str, bool]:
    """``(Result.String(), Result.Exists())`` of ``gjson.Get(json.Marshal(doc), path)``."""
    check_path(path)
    found = _in_object(doc, path)
    if found is None:
        return "", False
    return found.text, True


def validate_path(path: str) -> str | None:
    """Why ``path`` cannot be evaluated whatever the span holds (None: it can)."""
    try:
        check_path(path)
        _walk_syntax(path)
    except GjsonUnsupported as err:
        return str(err)
    return None


def _walk_syntax(path: str, depth: int = 0) -> None:
    """Parse every component both as an object and as an array path (the JSON decides
    which applies at run time), so that any refusal is found before evaluation."""
    if depth > 64:
        raise GjsonUnsupported("a path with more than 64 components")
    op = _object_path(path)
    ap = _array_path(path)
    if ap.alog is not None:
        check_path(ap.alog)
        _walk_syntax(ap.alog, depth + 1)
    if op.more:
        _walk_syntax(op.rest, depth + 1)
    if ap.more and ap.alog is None and (not op.more or ap.rest != op.rest):
        _walk_syntax(ap.rest, depth + 1)


def first_key(path: str) -> tuple[str, bool] | None:
    """The top-level key ``path`` reads and whether more components follow; None when a
    wildcard may match any key."""
    try:
        rp = _object_path(path)
    except GjsonUnsupported:
        return None
    if rp.wild:
        return None
    return rp.part, rp.more
