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
* the pipe ``|``, and a modifier after a dot (``a.@reverse``), which is a pipe;
* the modifiers ``@this``, ``@valid``, ``@ugly`` (the unchanged text: Go's marshalled JSON
  is compact and valid), ``@reverse``, ``@keys`` and ``@values``, at the start of a path or
  piped, without arguments;
* a key that merely contains ``#``, ``@`` or ``!`` where gjson reads it as a key.

Refused with :class:`GjsonUnsupported` (the caller turns it into a located error, never a
"no match"): the other modifiers (``@pretty``, ``@flatten``, ``@join``, ``@tostr``,
``@fromstr``, ``@group``, ``@dig``) and modifier arguments (``@reverse:{...}``), multipaths
(``[a,b]``, ``{a,b}``), static literals (``!true``), JSON lines (``..``), an unbalanced
query, and a path run on a string that holds ``[`` or ``{`` (gjson re-parses such raw text
from its first bracket).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from pytest_nectar.refinery.gjson_syntax import (
    MODIFIERS,
    ArrayPath,
    GjsonUnsupported,
    Query,
    array_path,
    match_limit,
    object_path,
    parse_uint,
    split_possible_pipe,
)
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
    rp = object_path(path)
    if rp.pipe is not None:
        ctx.pipe = rp.pipe
    for key, value in obj.items():
        pmatch = match_limit(key, rp.part) if rp.wild else key == rp.part
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
    rp = array_path(path)
    if rp.pipe is not None and not rp.more:
        ctx.pipe = rp.pipe
    if rp.query is not None:
        return _query(ctx, arr, rp, rp.query)
    if not rp.arrch:
        index = parse_uint(rp.part)
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
    split = split_possible_pipe(key)
    if split is not None:
        key, ctx.pipe = split
    raws = []
    for element in arr:
        found = _get(element, key)
        if found is not None:
            raws.append(found.raw or found.text)
    raw = "[" + ",".join(raws) + "]"
    return _Result("json", raw, raw, None), True


def _query(ctx: _Ctx, arr: list[object] | tuple[object, ...], rp: ArrayPath, q: Query) -> _Found:
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
            split = split_possible_pipe(rest)
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


def _query_matches(q: Query, value: _Result | None) -> bool:
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
            "%": lambda: match_limit(s, rpv),
            "!%": lambda: not match_limit(s, rpv),
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


#: A non-existent result: gjson's ``Get`` on an empty text.
_NONE: Final = _Result("null", "", "", None)


def _get(value: object, path: str) -> _Result | None:
    """``Get(raw JSON of value, path)``: ``value`` is a document value or a result found
    before (``Result.Get``; :data:`_NONE` for one that does not exist)."""
    check_path(path)
    modifier = _modifier(path)
    if modifier is not None:
        name, rest = modifier
        current = value if isinstance(value, _Result) else _result(value)
        out = _parse(_MODIFIERS[name](current))
        if rest and rest[0] in "|.":
            return _get(out or _NONE, rest[1:])
        return out
    if isinstance(value, _Result):
        if value.kind == "json":
            value = _value_of(value)
        elif value.kind == "string":
            value = value.value
        else:
            return None  # numbers, booleans, null and nothing hold no '[' or '{'
    ctx = _Ctx()
    if isinstance(value, (Mapping, list, tuple)):
        found, hit = _descend(ctx, value, path)
    else:
        if isinstance(value, str) and ("[" in _raw(value) or "{" in _raw(value)):
            raise GjsonUnsupported("a path into a string holding '[' or '{'")
        found, hit = None, False
    result = found if hit else ctx.soft
    if ctx.pipe is not None:
        return _get(result or _NONE, ctx.pipe)
    return result


def _modifier(path: str) -> tuple[str, str] | None:
    """``execModifier``'s split of ``@name`` and the path after it (None: not a modifier)."""
    if len(path) < 2 or path[0] != "@":
        return None
    i = 1
    while i < len(path) and path[i] not in ".|:":
        i += 1
    name = path[1:i]
    if name not in MODIFIERS:
        return None
    if i < len(path) and path[i] == ":":
        raise GjsonUnsupported(f"arguments of the modifier @{name}")
    if name not in _MODIFIERS:
        raise GjsonUnsupported(f"the modifier @{name}")
    return name, path[i:]


def _reverse(r: _Result) -> str:
    value = _value_of(r)
    if isinstance(value, list):
        return "[" + ",".join(_raw(v) for v in reversed(value)) + "]"
    if isinstance(value, Mapping):
        items = list(value.items())[::-1]
        return "{" + ",".join(f"{go_json(k)}:{_raw(v)}" for k, v in items) + "}"
    return r.raw


def _keys(r: _Result) -> str:
    if not r.raw:
        return "[]"
    value = _value_of(r)
    if isinstance(value, Mapping):
        return "[" + ",".join(go_json(k) for k in value) + "]"
    if isinstance(value, list):
        return "[" + ",".join("null" for _ in value) + "]"
    return "[null]"  # ForEach on a scalar visits it once, with no key


def _values(r: _Result) -> str:
    if not r.raw:
        return "[]"
    value = _value_of(r)
    if isinstance(value, list):
        return r.raw
    if isinstance(value, Mapping):
        return "[" + ",".join(_raw(v) for v in value.values()) + "]"
    return "[" + r.raw + "]"


#: The modifiers modelled: on the compact JSON Go's json.Marshal writes, @this, @valid and
#: @ugly give the text unchanged.
_MODIFIERS: Final[dict[str, Callable[[_Result], str]]] = {
    "this": lambda r: r.raw,
    "valid": lambda r: r.raw,
    "ugly": lambda r: r.raw,
    "reverse": _reverse,
    "keys": _keys,
    "values": _values,
}


def _value_of(r: _Result) -> object:
    return json.loads(r.raw) if r.kind == "json" and r.value is None else r.value


def _parse(raw: str) -> _Result | None:
    """gjson ``Parse`` of a modifier's (compact, valid) output."""
    if not raw:
        return None
    return _result(json.loads(raw))


def check_path(path: str) -> None:
    """Refuse what :func:`get` does not model at the start of a path (see module doc)."""
    if len(path) > 1:
        _modifier(path)
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
    op = object_path(path)
    ap = array_path(path)
    for pipe in (op.pipe, ap.pipe):
        if pipe is not None:
            _walk_syntax(pipe, depth + 1, top=True)
    if ap.alog is not None:
        split = split_possible_pipe(ap.alog)
        for part in split or (ap.alog,):
            _walk_syntax(part, depth + 1, top=True)
    if ap.query is not None:
        _walk_syntax(ap.query.path, depth + 1, top=True)
    if op.more:
        _walk_syntax(op.rest, depth + 1, top=False)
    if ap.more and ap.alog is None:
        if ap.query is not None:
            split = split_possible_pipe(ap.rest)
            for part in split or (ap.rest,):
                _walk_syntax(part, depth + 1, top=True)
        elif not op.more or ap.rest != op.rest:
            _walk_syntax(ap.rest, depth + 1, top=False)


def first_key(path: str) -> tuple[str, bool] | None:
    """The top-level key ``path`` reads and whether more components follow; None when a
    wildcard may match any key (or a pipe may read anything)."""
    try:
        if _modifier(path) is not None:
            return None  # a modifier at the start reads the whole span
        rp = object_path(path)
    except GjsonUnsupported:
        return None
    if rp.wild or rp.pipe is not None:
        return None
    return rp.part, rp.more
