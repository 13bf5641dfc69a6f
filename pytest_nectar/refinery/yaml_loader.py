"""A YAML loader that decodes like ``gopkg.in/yaml.v3`` into ``map[string]any``, with positions.

PyYAML's own resolvers follow YAML 1.1: they turn ``yes``/``on`` into booleans, ``1:20`` into a
sexagesimal int, and fail on a plain ``=`` (the 1.1 "value" tag).  Refinery decodes with
yaml.v3, whose rules for an ``any`` target are reproduced by :func:`resolve_plain`:

- ``~``, ``null``/``Null``/``NULL`` and the empty scalar are nil;
- ``true/True/TRUE/false/False/FALSE`` are bools (``yes/no/on/off`` stay strings);
- ``.inf``/``+.inf``/``-.inf``/``.nan`` (three spellings each) are floats;
- with underscores removed, Go ``ParseInt(s, 0, 64)`` (so ``0x1F``, ``0o17``, ``0b11``, ``0777``)
  gives an int, then ``ParseUint`` a uint64, then a YAML-style float (``1.5``, ``1e3``, ``08``);
- everything else, and every quoted scalar, is a string.

Every node keeps its 1-based line and column.  Duplicate keys are an error, as in yaml.v3.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.trace import GoUint64

__all__ = ["Node", "load_yaml", "resolve_plain"]

_PLAIN_TAG = "!nectar/plain"


@dataclass(slots=True)
class Node:
    """A decoded value with its source position.

    ``kind`` is ``"map"`` (``entries``: key text, key node, value node, in file order),
    ``"seq"`` (``items``) or ``"scalar"`` (``value``, already Go-typed).
    """

    kind: str
    position: Position
    value: object = None
    items: list[Node] = field(default_factory=list)
    entries: list[tuple[str, Node, Node]] = field(default_factory=list)
    #: a scalar's source text (yaml.v3 hands it to string fields and TextUnmarshalers)
    text: str | None = None

    def get(self, key: str) -> Node | None:
        for k, _, v in self.entries:
            if k == key:
                return v
        return None

    def to_python(self) -> Any:
        """Plain Python data, as Go's decoder would hand it to the validator."""
        if self.kind == "map":
            return {k: v.to_python() for k, _, v in self.entries}
        if self.kind == "seq":
            return [n.to_python() for n in self.items]
        return self.value


class _ComposeLoader(yaml.SafeLoader):
    """Composes nodes only; plain scalars are tagged so that we resolve them ourselves."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


_ComposeLoader.yaml_implicit_resolvers = {}


_MAP_VALUES: dict[str, object] = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    ".nan": math.nan,
    ".NaN": math.nan,
    ".NAN": math.nan,
    ".inf": math.inf,
    ".Inf": math.inf,
    ".INF": math.inf,
    "+.inf": math.inf,
    "+.Inf": math.inf,
    "+.INF": math.inf,
    "-.inf": -math.inf,
    "-.Inf": -math.inf,
    "-.INF": -math.inf,
}

_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", re.ASCII)
_GO_INT = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)", re.ASCII
)
_MIN_INT64 = -(1 << 63)
_MAX_INT64 = (1 << 63) - 1


def _go_parse_int(text: str) -> int | None:
    """Go ``strconv.ParseInt(text, 0, 64)`` after yaml.v3 removed the underscores."""
    if not _GO_INT.fullmatch(text):
        return None
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    low = body.lower()
    if low.startswith("0x"):
        n = int(body[2:], 16)
    elif low.startswith("0b"):
        n = int(body[2:], 2)
    elif low.startswith("0o"):
        n = int(body[2:], 8)
    elif len(body) > 1 and body.startswith("0"):
        n = int(body[1:], 8)
    else:
        n = int(body)
    return sign * n


def resolve_plain(text: str) -> object:
    """The Go value yaml.v3 gives a plain (unquoted, untagged) scalar decoded into ``any``."""
    first = text[:1]
    if first and not (
        first in "+-.~" or (first.isascii() and (first.isdigit() or first in "yYnNtTfFoO"))
    ):
        return text
    if text in _MAP_VALUES:
        return _MAP_VALUES[text]
    if first == ".":
        from pytest_nectar.refinery.values import parse_float

        f = parse_float(text)
        return f if f is not None else text
    if first and (first.isdigit() or first in "+-"):
        plain = text.replace("_", "")
        n = _go_parse_int(plain)
        if n is not None:
            if _MIN_INT64 <= n <= _MAX_INT64:
                return n
            if 0 <= n < (1 << 64):
                return GoUint64(n)
        if _YAML_STYLE_FLOAT.fullmatch(plain):
            try:
                return float(plain)
            except ValueError:  # pragma: no cover - the pattern only admits floats
                return text
        low = plain.lower()
        for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
            if low.startswith(prefix):
                try:
                    m = int(plain[len(prefix) :], base)
                except ValueError:
                    break
                m = -m if prefix.startswith("-") else m
                if _MIN_INT64 <= m <= _MAX_INT64:
                    return m
                break
    return text


def _pos(path: str, node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(path, mark.line + 1, mark.column + 1)


def _scalar_text_key(node: yaml.Node, path: str) -> str:
    if not isinstance(node, ScalarNode):
        raise RulesError(
            "a mapping key must be a scalar", position=_pos(path, node), hint="quote the key"
        )
    if node.tag == _PLAIN_TAG and resolve_plain(node.value) is None:
        return ""
    return str(node.value)


def _convert(node: yaml.Node, path: str, depth: int = 0) -> Node:
    if depth > 200:
        raise RulesError("YAML nesting is too deep", position=_pos(path, node))
    pos = _pos(path, node)
    if isinstance(node, ScalarNode):
        if node.tag == _PLAIN_TAG:
            return Node("scalar", pos, resolve_plain(node.value), text=node.value)
        if node.tag == "tag:yaml.org,2002:str" or node.style in ("'", '"', "|", ">"):
            return Node("scalar", pos, node.value, text=node.value)
        return Node("scalar", pos, resolve_plain(node.value), text=node.value)
    if isinstance(node, SequenceNode):
        return Node("seq", pos, items=[_convert(n, path, depth + 1) for n in node.value])
    if isinstance(node, MappingNode):
        out = Node("map", pos)
        seen: dict[str, int] = {}
        merged: list[tuple[str, Node, Node]] = []
        for knode, vnode in node.value:
            if isinstance(knode, ScalarNode) and knode.tag == _PLAIN_TAG and knode.value == "<<":
                merged.extend(_merge_entries(vnode, path, depth))
                continue
            key = _scalar_text_key(knode, path)
            if key in seen:
                raise RulesError(
                    f'mapping key "{key}" already defined at line {seen[key]}',
                    position=_pos(path, knode),
                    hint="remove one of the two",
                )
            seen[key] = knode.start_mark.line + 1
            out.entries.append(
                (key, Node("scalar", _pos(path, knode), key), _convert(vnode, path, depth + 1))
            )
        for key, knode_c, vnode_c in merged:
            if key not in seen:
                seen[key] = knode_c.position.line
                out.entries.append((key, knode_c, vnode_c))
        return out
    raise RulesError("unsupported YAML node", position=pos)  # pragma: no cover


def _merge_entries(vnode: yaml.Node, path: str, depth: int) -> list[tuple[str, Node, Node]]:
    sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
    out: list[tuple[str, Node, Node]] = []
    for src in sources:
        if not isinstance(src, MappingNode):
            raise RulesError(
                "map merge requires map or sequence of maps as the value", position=_pos(path, src)
            )
        out.extend(_convert(src, path, depth + 1).entries)
    return out


def load_yaml(text: str, path: str) -> Node | None:
    """The first YAML document of ``text`` as a :class:`Node` tree, or None when it is empty.

    Raises :class:`RulesError` with the line and column of a syntax error.
    """
    loader = _ComposeLoader(text)
    try:
        if not loader.check_node():
            return None
        root = loader.get_node()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        position = Position(path, mark.line + 1, mark.column + 1) if mark else Position(path)
        what = err.problem or err.context or "invalid YAML"
        lines = text.splitlines()
        src = lines[mark.line] if mark and 0 <= mark.line < len(lines) else None
        raise RulesError(
            f"YAML syntax error: {what}",
            position=position,
            hint="fix the YAML syntax (quote values that start with special characters)",
            source_line=src,
        ) from None
    except yaml.YAMLError as err:
        raise RulesError(f"YAML syntax error: {err}", position=Position(path)) from None
    finally:
        loader.dispose()
    if root is None:
        return None
    return _convert(root, path)
