"""gjson v1.18.0 path syntax: how a path splits into components, queries and pipes.

The parsing half of :mod:`.gjson` (which searches a document): ``parseObjectPath``,
``parseArrayPath``, ``parseQuery``, ``splitPossiblePipe``, ``parseUint``, ``unescape`` and
tidwall/match v1.1.1's ``MatchLimit`` (wildcards), followed as the pinned versions behave.
Constructs Nectar does not evaluate raise :class:`GjsonUnsupported`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "MODIFIERS",
    "ArrayPath",
    "GjsonUnsupported",
    "ObjectPath",
    "Query",
    "array_path",
    "match_limit",
    "object_path",
    "parse_uint",
    "split_possible_pipe",
    "unescape",
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


def match_limit(key: str, pattern: str) -> bool:
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


def _dot_pipe(rest: str) -> bool:
    """Whether the component after a dot starts a pipe (a modifier); a multipath there is
    refused."""
    if not _dot_piper(rest):
        return False
    if rest[0] in "[{":
        raise GjsonUnsupported(f"a multipath after a dot {rest!r}")
    return True


@dataclass(frozen=True, slots=True)
class ObjectPath:
    part: str
    rest: str
    more: bool
    wild: bool
    pipe: str | None = None


def object_path(path: str) -> ObjectPath:
    """``parseObjectPath``."""
    wild = False
    i = 0
    while i < len(path):
        c = path[i]
        if c == "|":
            return ObjectPath(path[:i], "", False, wild, path[i + 1 :])
        if c == ".":
            if i < len(path) - 1 and _dot_pipe(path[i + 1 :]):
                return ObjectPath(path[:i], "", False, wild, path[i + 1 :])
            return ObjectPath(path[:i], path[i + 1 :], True, wild)
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
                        if i < len(path) - 1 and _dot_pipe(path[i + 1 :]):
                            return ObjectPath("".join(part), "", False, wild, path[i + 1 :])
                        return ObjectPath("".join(part), path[i + 1 :], True, wild)
                    if c == "|":
                        return ObjectPath("".join(part), "", False, wild, path[i + 1 :])
                    if c in "*?":
                        wild = True
                    part.append(c)
                    i += 1
            return ObjectPath("".join(part), "", False, wild)
        i += 1
    return ObjectPath(path, "", False, wild)


@dataclass(frozen=True, slots=True)
class Query:
    path: str
    op: str
    value: str
    all: bool


@dataclass(frozen=True, slots=True)
class ArrayPath:
    part: str
    rest: str
    more: bool
    arrch: bool
    alog: str | None
    query: Query | None = None
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


def array_path(path: str) -> ArrayPath:
    """``parseArrayPath``."""
    arrch = False
    alog: str | None = None
    query: Query | None = None
    i = 0
    while i < len(path):
        c = path[i]
        if c == "|":
            return ArrayPath(path[:i], "", False, arrch, alog, query, path[i + 1 :])
        if c == ".":
            rest = path[i + 1 :]
            if not arrch and i < len(path) - 1 and _dot_pipe(rest):
                return ArrayPath(path[:i], "", False, arrch, alog, query, rest)
            return ArrayPath(path[:i], rest, True, arrch, alog, query)
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
                            value = unescape(value)
                    i = end - 1
                    every = i + 1 < len(path) and path[i + 1] == "#"
                    query = Query(qpath, op, value, every)
        i += 1
    return ArrayPath(path, "", False, arrch, alog, query)


def unescape(s: str) -> str:
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


def split_possible_pipe(path: str) -> tuple[str, str] | None:
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


def parse_uint(s: str) -> int:
    """``int(parseUint(s))`` as gjson computes it (wrapping), -1 when not all digits."""
    if not s or not all("0" <= c <= "9" for c in s):
        return -1
    n = int(s) % (1 << 64)
    return n - (1 << 64) if n >= 1 << 63 else n
