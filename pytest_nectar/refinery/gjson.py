"""gjson ``Get(json.Marshal(span), path)`` as Refinery's ``CheckNestedFields`` runs it.

Refinery pins github.com/tidwall/gjson v1.18.0 (and, through it, tidwall/match v1.1.1).
This module follows that version's ``Get``, ``parseObjectPath``/``parseObject``,
``parseArrayPath``/``parseArray``, ``parseQuery``/``queryMatches``, ``splitPossiblePipe``,
``parseUint``, ``unescape``, ``Result.String``/``Exists`` and ``match.MatchLimit``, on the
value Go's ``json.Marshal`` writes (objects with sorted keys, so "the first matching key" is
the first in sorted order).  Modelled exactly:

* dot-separated components; ``\\`` escapes the next character (``a\\.b`` is the key ``a.b``);
* ``*`` (any run of characters) and ``?`` (one character) in object keys, trying matching
  keys in order until one yields the rest of the path; ``\\*`` is a literal star;
* a number indexes an array (digits only, wrapping as gjson's ``parseUint`` does);
* ``#`` as the last component is an array's length; ``#.rest`` maps ``rest`` over the
  elements into a JSON array of the results that exist;
* queries ``#(path op value)`` (first match) and ``#(...)#`` (all matches), with ``==``,
  ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``%`` and ``!%`` (wildcard like / not like),
  the ``~true``/``~false``/``~null``/``~*`` conversions, nested queries and the old
  ``#[...]`` spelling;
* the pipe ``|`` (the rest of the path runs on the result so far);
* a key that merely contains ``#``, ``@`` or ``!`` where gjson reads it as a key.

Refused with :class:`GjsonUnsupported` (the caller turns it into a located error, never a
"no match"): modifiers (``@reverse``, ``@this``, ... where gjson runs them), multipaths
(``[a,b]``, ``{a,b}``), static literals (``!true``), JSON lines (``..``), an unbalanced query,
and a path run on a string that holds ``[`` or ``{`` (gjson re-parses such raw text from its
first bracket).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pytest_nectar.refinery.values import format_float_f, go_v, parse_bool, parse_float
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
    """A gjson ``Result``: its kind, raw JSON, ``String()`` and the decoded value."""

    kind: str  # "string", "number", "true", "false", "null", "json"
    raw: str
    text: str
    value: object = None

    @property
    def num(self) -> float:
        return _go_parse_float(self.raw) if self.kind == "number" else 0.0


def _number_string(raw: str, value: float) -> str:
    digits = raw[1:] if raw.startswith("-") else raw
    if digits and all("0" <= c <= "9" for c in digits):
        return raw
    return format_float_f(value)


def _result(value: object) -> _Result:
    raw = _raw(value)
    if isinstance(value, str):
        return _Result("string", raw, value, value)
    if value is None:
        return _Result("null", raw, "", value)
    if isinstance(value, bool):
        return _Result("true" if value else "false", raw, raw, value)
    if isinstance(value, int):
        return _Result("number", raw, raw, value)
    if isinstance(value, float):
        return _Result("number", raw, _number_string(raw, float(raw)), value)
    return _Result("json", raw, raw, value)  # objects and arrays: their raw JSON


def _raw(value: object) -> str:
    """The raw JSON of a value of the marshalled document (objects keep their key order)."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_json(str(k))}:{_raw(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_raw(v) for v in value) + "]"
    return go_json(value)


def _sorted_doc(value: object) -> object:
    """The value as ``json.Marshal`` orders it: every object's keys sorted."""
    if isinstance(value, Mapping):
        return {str(k): _sorted_doc(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_sorted_doc(v) for v in value]
    return value


_FLOAT_SYNTAX: Final = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _go_parse_float(text: str) -> float:
    """``strconv.ParseFloat(text, 64)``'s value, its error ignored (0, or +-Inf on overflow)."""
    value = parse_float(text)
    if value is not None:
        return value
    if _FLOAT_SYNTAX.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    return 0.0


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


def _no_dot_pipe(rest: str) -> None:
    if _dot_piper(rest):
        raise GjsonUnsupported(f"a modifier or multipath after a dot {rest!r}")


@dataclass(frozen=True, slots=True)
class _ObjectPath:
    part: str
    rest: str
    more: bool
    wild: bool
    pipe: str | None = None


def _object_path(path: str) -> _ObjectPath:
    """``parseObjectPath``."""
    wild = False
    i = 0
    while i < len(path):
        c = path[i]
        if c == "|":
            return _ObjectPath(path[:i], "", False, wild, path[i + 1 :])
        if c == ".":
            if i < len(path) - 1:
                _no_dot_pipe(path[i + 1 :])
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
                        if i < len(path) - 1:
                            _no_dot_pipe(path[i + 1 :])
                        return _ObjectPath("".join(part), path[i + 1 :], True, wild)
                    if c == "|":
                        return _ObjectPath("".join(part), "", False, wild, path[i + 1 :])
                    if c in "*?":
                        wild = True
                    part.append(c)
                    i += 1
            return _ObjectPath("".join(part), "", False, wild)
        i += 1
    return _ObjectPath(path, "", False, wild)


@dataclass(frozen=True, slots=True)
class _Query:
    path: str
    op: str
    value: str
    all: bool


@dataclass(frozen=True, slots=True)
class _ArrayPath:
    part: str
    rest: str
    more: bool
    arrch: bool
    alog: str | None
    query: _Query | None = None
    pipe: str | None = None


def _trim(s: str) -> str:
    """gjson's ``trim``: bytes up to and including a space off both ends."""
    i, j = 0, len(s)
    while i < j and s[i] <= " ":
        i += 1
    while j > i and s[j - 1] <= " ":
        j -= 1
    return s[i:j]


def _parse_query(query: str) -> tuple[str, str, str, int, bool] | None:
    """``parseQuery``: (path, op, value, index after the query, escapes seen), None if bad."""
    i, j, depth, vesc = 2, 0, 1, False
    while i < len(query):
        c = query[i]
        if depth == 1 and j == 0 and c in "!=<>%":
            j = i
            i += 1
            continue
        if c == "\\":
            i += 1
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
            if depth == 0:
                break
        elif c == '"':
            i += 1
            while i < len(query):
                if query[i] == "\\":
                    vesc = True
                    i += 1
                elif query[i] == '"':
                    break
                i += 1
        i += 1
    if depth > 0:
        return None
    if j == 0:
        return _trim(query[2:i]), "", "", i + 1, vesc
    path, value = _trim(query[2:j]), _trim(query[j:i])
    size = 1
    if len(value) == 1:
        size = 1
    elif value[:2] in ("!=", "!%", "<=", ">="):
        size = 2
    elif value[:2] == "==":
        value = value[1:]
    op = value[:size]
    return path, op, _trim(value[size:]), i + 1, vesc


def _array_path(path: str) -> _ArrayPath:
    """``parseArrayPath``."""
    arrch = False
    alog: str | None = None
    query: _Query | None = None
    i = 0
    while i < len(path):
        c = path[i]
        if c == "|":
            return _ArrayPath(path[:i], "", False, arrch, alog, query, path[i + 1 :])
        if c == ".":
            rest = path[i + 1 :]
            if not arrch and i < len(path) - 1:
                _no_dot_pipe(rest)
            return _ArrayPath(path[:i], rest, True, arrch, alog, query)
        if c == "#":
            arrch = True
            if i == 0 and len(path) > 1:
                if path[1] == ".":
                    alog = path[2:]
                elif path[1] in "[(":
                    parsed = _parse_query(path)
                    if parsed is None:
                        raise GjsonUnsupported(f"an unbalanced query {path!r}")
                    qpath, op, value, end, vesc = parsed
                    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                        value = value[1:-1]
                        if vesc:
                            value = _unescape(value)
                    i = end - 1
                    every = i + 1 < len(path) and path[i + 1] == "#"
                    query = _Query(qpath, op, value, every)
        i += 1
    return _ArrayPath(path, "", False, arrch, alog, query)


def _unescape(s: str) -> str:
    """gjson's ``unescape`` of a JSON string body (it stops at what it cannot read)."""
    out: list[str] = []
    i = 0
    simple = {"\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", '"': '"'}
    while i < len(s):
        c = s[i]
        if c < " ":
            break
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        if i >= len(s):
            break
        e = s[i]
        if e in simple:
            out.append(simple[e])
            i += 1
            continue
        if e != "u" or i + 5 > len(s):
            break
        code = _hex4(s[i + 1 : i + 5])
        i += 5
        if 0xD800 <= code < 0xE000 and s[i : i + 2] == "\\u" and len(s) - i >= 6:
            low = _hex4(s[i + 2 : i + 6])
            code = (
                0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                if code < 0xDC00 and 0xDC00 <= low < 0xE000
                else 0xFFFD
            )
            i += 6
        elif 0xD800 <= code < 0xE000:
            code = 0xFFFD
        out.append(chr(code))
    return "".join(out)


def _hex4(text: str) -> int:
    try:
        return int(text, 16) if len(text) == 4 else 0
    except ValueError:
        return 0


def _split_possible_pipe(path: str) -> tuple[str, str] | None:
    """``splitPossiblePipe``: the path left of a pipe outside queries, and the pipe."""
    if "|" not in path:
        return None
    if path.startswith("{"):
        raise GjsonUnsupported("a multipath")
    i = 0
    while i < len(path):
        c = path[i]
        if c == "\\":
            i += 1
        elif c == ".":
            if i == len(path) - 1:
                return None
            if path[i + 1] == "#":
                i += 2
                if i == len(path):
                    return None
                if path[i] in "[(":
                    start, end = path[i], "]" if path[i] == "[" else ")"
                    i += 1
                    depth = 1
                    while i < len(path):
                        if path[i] == "\\":
                            i += 1
                        elif path[i] == start:
                            depth += 1
                        elif path[i] == end:
                            depth -= 1
                            if depth == 0:
                                break
                        elif path[i] == '"':
                            i += 1
                            while i < len(path):
                                if path[i] == "\\":
                                    i += 1
                                elif path[i] == '"':
                                    break
                                i += 1
                        i += 1
        elif c == "|":
            return path[:i], path[i + 1 :]
        i += 1
    return None


def _parse_uint(s: str) -> int:
    """``int(parseUint(s))`` as gjson computes it (wrapping), -1 when not all digits."""
    if not s or not all("0" <= c <= "9" for c in s):
        return -1
    n = int(s) % (1 << 64)
    return n - (1 << 64) if n >= 1 << 63 else n


# --- the search ------------------------------------------------------------------------------


class _Ctx:
    """One ``Get``'s ``parseContext``: the pipe found on the way and a value set without a
    hit (a ``#(...)#`` query's array, kept unless a later hit replaces it)."""

    __slots__ = ("pipe", "soft")

    def __init__(self) -> None:
        self.pipe: str | None = None
        self.soft: _Result | None = None


_Found = tuple["_Result | None", bool]


def _in_object(ctx: _Ctx, obj: Mapping[str, object], path: str) -> _Found:
    rp = _object_path(path)
    if rp.pipe is not None:
        ctx.pipe = rp.pipe
    for key, value in obj.items():
        pmatch = _match_limit(key, rp.part) if rp.wild else key == rp.part
        if not pmatch:
            continue
        if not rp.more:
            return _result(value), True
        found, hit = _descend(ctx, value, rp.rest)
        if hit:
            return found, True
    return None, False


def _descend(ctx: _Ctx, value: object, path: str) -> _Found:
    if isinstance(value, Mapping):
        return _in_object(ctx, value, path)
    if isinstance(value, (list, tuple)):
        return _in_array(ctx, value, path)
    return None, False


def _in_array(ctx: _Ctx, arr: list[object] | tuple[object, ...], path: str) -> _Found:
    rp = _array_path(path)
    if rp.pipe is not None and not rp.more:
        ctx.pipe = rp.pipe
    if rp.query is not None:
        return _query(ctx, arr, rp, rp.query)
    if not rp.arrch:
        index = _parse_uint(rp.part)
        if not 0 <= index < len(arr):
            return None, False
        value = arr[index]
        return (_result(value), True) if not rp.more else _descend(ctx, value, rp.rest)
    if rp.part != "#":
        return None, False
    if rp.alog is None:
        count = str(len(arr))
        return _Result("number", count, count, len(arr)), True
    key = rp.alog
    split = _split_possible_pipe(key)
    if split is not None:
        key, ctx.pipe = split
    raws = []
    for element in arr:
        found = _get(element, key)
        if found is not None:
            raws.append(found.raw or found.text)
    raw = "[" + ",".join(raws) + "]"
    return _Result("json", raw, raw, None), True


def _query(ctx: _Ctx, arr: list[object] | tuple[object, ...], rp: _ArrayPath, q: _Query) -> _Found:
    rest = rp.rest
    matches: list[str] = []
    for element in arr:
        if isinstance(element, (Mapping, list, tuple)):
            probe = _get(element, q.path)
        elif q.path:
            continue
        else:
            probe = _result(element)
        if not _query_matches(q, probe):
            continue
        if rp.more:
            split = _split_possible_pipe(rest)
            if split is not None:
                rest, ctx.pipe = split
            found = _get(element, rest)
        else:
            found = _result(element)
        if not q.all:
            return found, True
        if found is not None and (found.raw or found.text):
            matches.append(found.raw or found.text)
    if ctx.soft is None and q.all:
        raw = "[" + ",".join(matches) + "]"
        ctx.soft = _Result("json", raw, raw, None)
    return None, False


def _trueish(r: _Result) -> bool:
    if r.kind == "true":
        return True
    if r.kind == "string":
        return parse_bool(r.text.lower()) is True
    return r.kind == "number" and r.num != 0


def _falseish(r: _Result) -> bool:
    if r.kind in ("null", "false"):
        return True
    if r.kind == "string":
        return parse_bool(r.text.lower()) is False
    return r.kind == "number" and r.num == 0


def _query_matches(q: _Query, value: _Result | None) -> bool:
    """``queryMatches``."""
    rpv = q.value
    if rpv.startswith("~"):
        rpv = rpv[1:]
        # a missing value is gjson's zero Result: of type Null, so null-ish and false-ish
        seen = value if value is not None else _Result("null", "", "")
        ish: bool | None = None
        if rpv == "*":
            ish = value is not None
        elif rpv == "null":
            ish = seen.kind == "null"
        elif rpv == "true":
            ish = _trueish(seen)
        elif rpv == "false":
            ish = _falseish(seen)
        if ish is None:
            return False
        rpv = "true"
        value = _Result("true", "", "true") if ish else _Result("false", "", "false")
    if value is None or (value.kind == "null" and not value.raw):
        return False
    if not q.op:
        return True
    op = q.op
    if value.kind == "string":
        s = value.text
        return {
            "=": lambda: s == rpv,
            "!=": lambda: s != rpv,
            "<": lambda: s < rpv,
            "<=": lambda: s <= rpv,
            ">": lambda: s > rpv,
            ">=": lambda: s >= rpv,
            "%": lambda: _match_limit(s, rpv),
            "!%": lambda: not _match_limit(s, rpv),
        }.get(op, lambda: False)()
    if value.kind == "number":
        a, b = value.num, _go_parse_float(rpv)
        return {
            "=": a == b,
            "!=": a != b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
        }.get(op, False)
    if value.kind == "true":
        return {"=": rpv == "true", "!=": rpv != "true", ">": rpv == "false", ">=": True}.get(
            op, False
        )
    if value.kind == "false":
        return {"=": rpv == "false", "!=": rpv != "false", "<": rpv == "true", "<=": True}.get(
            op, False
        )
    return False


def _get(value: object, path: str) -> _Result | None:
    """``Get(raw JSON of value, path)`` (a ``Result.Get`` on a value found before)."""
    check_path(path)
    ctx = _Ctx()
    if isinstance(value, (Mapping, list, tuple)):
        found, hit = _descend(ctx, value, path)
    else:
        if isinstance(value, str) and ("[" in _raw(value) or "{" in _raw(value)):
            raise GjsonUnsupported("a path into a string holding '[' or '{'")
        found, hit = None, False
    result = found if hit else ctx.soft
    if ctx.pipe is not None:
        return _get_result(result, ctx.pipe)
    return result


def _get_result(result: _Result | None, path: str) -> _Result | None:
    """``result.Get(path)``: a path on a result's raw JSON."""
    if result is None:
        check_path(path)
        return None
    if result.kind == "json":
        return (
            _get(json.loads(result.raw), path) if result.value is None else _get(result.value, path)
        )
    return _get(result.value if result.kind != "number" else result.raw, path)


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
    found = _get(_sorted_doc(doc), path)
    if found is None:
        return "", False
    return found.text, True


def validate_path(path: str) -> str | None:
    """Why ``path`` cannot be evaluated whatever the span holds (None: it can)."""
    try:
        _walk_syntax(path, 0, top=True)
    except GjsonUnsupported as err:
        return str(err)
    return None


def _walk_syntax(path: str, depth: int, *, top: bool) -> None:
    """Parse every component both as an object and as an array path (the JSON decides
    which applies at run time), so that any refusal is found before evaluation.  ``top``:
    the path is a whole ``Get`` (the start, a pipe, a query's path, a ``#.`` key)."""
    if depth > 64:
        raise GjsonUnsupported("a path nested more than 64 deep")
    if top:
        check_path(path)
    op = _object_path(path)
    ap = _array_path(path)
    for pipe in (op.pipe, ap.pipe):
        if pipe is not None:
            _walk_syntax(pipe, depth + 1, top=True)
    if ap.alog is not None:
        split = _split_possible_pipe(ap.alog)
        for part in split or (ap.alog,):
            _walk_syntax(part, depth + 1, top=True)
    if ap.query is not None:
        _walk_syntax(ap.query.path, depth + 1, top=True)
    if op.more:
        _walk_syntax(op.rest, depth + 1, top=False)
    if ap.more and ap.alog is None:
        if ap.query is not None:
            split = _split_possible_pipe(ap.rest)
            for part in split or (ap.rest,):
                _walk_syntax(part, depth + 1, top=True)
        elif not op.more or ap.rest != op.rest:
            _walk_syntax(ap.rest, depth + 1, top=False)


def first_key(path: str) -> tuple[str, bool] | None:
    """The top-level key ``path`` reads and whether more components follow; None when a
    wildcard may match any key (or a pipe may read anything)."""
    try:
        rp = _object_path(path)
    except GjsonUnsupported:
        return None
    if rp.wild or rp.pipe is not None:
        return None
    return rp.part, rp.more
