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

Hostile input is refused as yaml.v3 refuses it: control characters, an anchor that contains
itself, and "excessive aliasing" (yaml.v3 counts every decoded node and every node decoded inside
an alias expansion; once there are over 100 of the latter and over 1,000 of the former, their ratio
may not exceed 99% up to 400,000 decodes, falling linearly to 10% at 4,000,000).  Nesting deeper
than :data:`MAX_DEPTH` is refused too (yaml.v3 allows 10,000; no real rules file comes near 100).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.limits import MAX_DATA_DEPTH, line_column
from pytest_nectar.trace import GoUint64

__all__ = ["MAX_DEPTH", "Node", "load_yaml", "resolve_plain"]

_PLAIN_TAG = "!nectar/plain"

#: The deepest nesting of sequences and mappings read (aliases expanded).
MAX_DEPTH: Final = MAX_DATA_DEPTH

_ALIAS_HINT = "Refinery's YAML decoder refuses it too; write the values out or use fewer aliases"


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


class _AliasNode(yaml.Node):
    """Where an alias stands: PyYAML hands back the anchored node itself, yaml.v3 an alias node."""

    def __init__(self, target: yaml.Node, start_mark: Any, anchor: str) -> None:
        super().__init__("alias", target, start_mark, start_mark)
        self.anchor = anchor


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        self.mark = mark


class _ComposeLoader(yaml.SafeLoader):
    """Composes nodes only; plain scalars are tagged so that we resolve them ourselves."""

    _depth = 0

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return _PLAIN_TAG
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Composing recurses once per level: refuse depth here, before Python's stack runs out.
        event = self.peek_event()  # type: ignore[no-untyped-call]
        mark = event.start_mark
        if self.check_event(AliasEvent):
            target = super().compose_node(parent, index)
            assert target is not None  # an alias always names a composed node
            return _AliasNode(target, mark, str(event.anchor))
        if self._depth >= MAX_DEPTH:
            raise _TooDeep(mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


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
    """Go ``strconv.ParseInt(text, 0, 64)`` after yaml.v3 removed the underscores.

    Digits that cannot fit in 64 bits give None (Go's range error) before Python converts them,
    so a 4,301-digit scalar costs nothing and never meets Python's integer-string limit.
    """
    if not _GO_INT.fullmatch(text):
        return None
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    low = body.lower()
    if low.startswith(("0x", "0b", "0o")):
        digits, base = body[2:], {"x": 16, "b": 2, "o": 8}[low[1]]
    elif len(body) > 1 and body.startswith("0"):
        digits, base = body[1:], 8
    else:
        digits, base = body, 10
    digits = digits.lstrip("0") or "0"
    if len(digits) > 64:  # more than 64 binary digits: out of range in every base
        return None
    return sign * int(digits, base)


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
            from pytest_nectar.refinery.values import parse_float

            # Go's ParseFloat: out of float64's range is an error, and yaml.v3 keeps the string.
            f = parse_float(plain)
            return f if f is not None else text
        low = plain.lower()
        for prefix, base in (("0b", 2), ("-0b", 2), ("0o", 8), ("-0o", 8)):
            if low.startswith(prefix):
                digits = plain[len(prefix) :].lstrip("0") or "0"
                if len(digits) > 64:
                    break
                try:
                    m = int(digits, base)
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


class _Decoder:
    """yaml.v3's decoder walk: node to :class:`Node`, counting decodes as yaml.v3 does."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.decode_count = 0
        self.alias_count = 0
        self.alias_depth = 0
        self.active: set[int] = set()
        self.outer_alias: yaml.Node | None = None  # the alias in the text being expanded

    def _count(self, node: yaml.Node) -> None:
        self.decode_count += 1
        if self.alias_depth > 0:
            self.alias_count += 1
        if (
            self.alias_count > 100
            and self.decode_count > 1000
            and self.alias_count / self.decode_count > _allowed_alias_ratio(self.decode_count)
        ):
            where = self.outer_alias or node
            raise RulesError(
                "document contains excessive aliasing",
                position=_pos(self.path, where),
                hint=_ALIAS_HINT,
            )

    def convert(self, node: yaml.Node, depth: int = 0) -> Node:
        self._count(node)
        if isinstance(node, _AliasNode):
            return self._alias(node, depth)
        pos = _pos(self.path, node)
        if depth >= MAX_DEPTH and not isinstance(node, ScalarNode):
            raise _too_deep(pos)
        if isinstance(node, ScalarNode):
            if node.tag == _PLAIN_TAG:
                return Node("scalar", pos, resolve_plain(node.value), text=node.value)
            if node.tag == "tag:yaml.org,2002:str" or node.style in ("'", '"', "|", ">"):
                return Node("scalar", pos, node.value, text=node.value)
            return Node("scalar", pos, resolve_plain(node.value), text=node.value)
        if isinstance(node, SequenceNode):
            return Node("seq", pos, items=[self.convert(n, depth + 1) for n in node.value])
        if isinstance(node, MappingNode):
            return self._mapping(node, pos, depth)
        raise RulesError("unsupported YAML node", position=pos)  # pragma: no cover

    def _alias(self, node: _AliasNode, depth: int) -> Node:
        target: yaml.Node = node.value
        if id(node) in self.active:
            raise RulesError(
                f"anchor '{node.anchor}' value contains itself",
                position=_pos(self.path, node),
                hint=_ALIAS_HINT,
            )
        self.active.add(id(node))
        if self.alias_depth == 0:
            self.outer_alias = node
        self.alias_depth += 1
        try:
            return self.convert(target, depth)
        finally:
            self.alias_depth -= 1
            self.active.discard(id(node))

    def _mapping(self, node: MappingNode, pos: Position, depth: int) -> Node:
        out = Node("map", pos)
        seen: dict[str, int] = {}
        merged: list[tuple[str, Node, Node]] = []
        for knode, vnode in node.value:
            if isinstance(knode, ScalarNode) and knode.tag == _PLAIN_TAG and knode.value == "<<":
                merged.extend(self._merge_entries(vnode, depth))
                continue
            self._count(knode)
            if isinstance(knode, _AliasNode):  # `*a: value`: the anchored scalar is the key
                knode = knode.value
            key = _scalar_text_key(knode, self.path)
            if key in seen:
                raise RulesError(
                    f'mapping key "{key}" already defined at line {seen[key]}',
                    position=_pos(self.path, knode),
                    hint="remove one of the two",
                )
            seen[key] = knode.start_mark.line + 1
            key_node = Node("scalar", _pos(self.path, knode), key)
            out.entries.append((key, key_node, self.convert(vnode, depth + 1)))
        for key, knode_c, vnode_c in merged:
            if key not in seen:
                seen[key] = knode_c.position.line
                out.entries.append((key, knode_c, vnode_c))
        return out

    def _merge_entries(self, vnode: yaml.Node, depth: int) -> list[tuple[str, Node, Node]]:
        target = vnode.value if isinstance(vnode, _AliasNode) else vnode
        sources = target.value if isinstance(target, SequenceNode) else [vnode]
        out: list[tuple[str, Node, Node]] = []
        for src in sources:
            real = src.value if isinstance(src, _AliasNode) else src
            if not isinstance(real, MappingNode):
                raise RulesError(
                    "map merge requires map or sequence of maps as the value",
                    position=_pos(self.path, src),
                )
            out.extend(self.convert(src, depth + 1).entries)
        return out


def _allowed_alias_ratio(decode_count: int) -> float:
    """yaml.v3's allowed share of alias-driven decodes: 99% for small documents, 10% for huge."""
    low, high = 400_000, 4_000_000
    if decode_count <= low:
        return 0.99
    if decode_count >= high:
        return 0.10
    return 0.99 - 0.89 * ((decode_count - low) / (high - low))


def _too_deep(pos: Position) -> RulesError:
    return RulesError(
        "YAML nesting is too deep",
        position=pos,
        got=MAX_DEPTH + 1,
        hint=f"Nectar reads rules files nested at most {MAX_DEPTH} levels deep",
    )


def load_yaml(text: str, path: str) -> Node | None:
    """The first YAML document of ``text`` as a :class:`Node` tree, or None when it is empty.

    Raises :class:`RulesError` with the line and column of a syntax error.
    """
    loader: _ComposeLoader | None = None
    try:
        loader = _ComposeLoader(text)
        if not loader.check_node():
            return None
        root = loader.get_node()
    except yaml.reader.ReaderError as err:
        raise RulesError(
            "control characters are not allowed",
            position=Position(path, *line_column(text, err.position)),
            got=chr(err.character) if isinstance(err.character, int) else err.character,
            hint="remove the character (Refinery's YAML decoder refuses it)",
        ) from None
    except _TooDeep as err:
        raise _too_deep(Position(path, err.mark.line + 1, err.mark.column + 1)) from None
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
        if loader is not None:
            loader.dispose()
    if root is None:
        return None
    return _Decoder(path).convert(root)
