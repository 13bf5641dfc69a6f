"""A JSON rules file as Refinery decodes it when started with ``--no-validate``.

Refinery reads JSON with ``encoding/json`` into the same ``V2SamplerConfig`` structs as YAML
(:mod:`.rules_decode` describes the structs and the YAML decode).  encoding/json matches an
object key to a struct field by its ``json`` tag, exactly or ignoring case; the tags are the
YAML keys lower-cased, except ``rule`` (``Rules``) and ``condition`` (``Conditions``), so a
JSON file's ``"Rules"`` and ``"Conditions"`` fill nothing.  Ints must be written as
integers (``2.0`` is an error), strings as strings; ``null`` leaves a number, bool, string or
duration as it was and makes a pointer, list or map nil; ``Value`` numbers are float64;
unknown keys are ignored; of duplicate keys the last wins.
"""

from __future__ import annotations

import json
import math
import re
from typing import Final

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.rules_decode import GO_TYPES, TOP, Schema
from pytest_nectar.refinery.rules_validate import parse_go_duration
from pytest_nectar.refinery.yaml_loader import Node

__all__ = ["go_decode_json"]


_JSON_INT: Final = re.compile(r"-?(0|[1-9][0-9]*)")
#: Struct fields whose json tag is not the lower-cased YAML key.
_JSON_TAGS: Final = {"Rules": "rule", "Conditions": "condition"}


class _Num(str):
    """A JSON number literal, kept as written (encoding/json decides by its text)."""

    __slots__ = ()


def _json_key(key: str, schema: Schema) -> str | None:
    """The struct field (its YAML key) a JSON object key fills: the json tag exactly, else
    case-insensitively, as encoding/json matches; None for an unknown key (ignored)."""
    tags = {_JSON_TAGS.get(name, name.lower()): name for name in schema}
    if key in tags:
        return tags[key]
    if key.isascii():
        return tags.get(key.lower())
    return None  # non-ASCII case folding is not modelled: such a key fills nothing here


class _JsonDecoder:
    def __init__(self, path: str) -> None:
        self.position = Position(path)
        self.errors: list[str] = []

    def node(self, value: object) -> Node:
        """An ``any`` value (``Value``): numbers are float64, objects maps, arrays lists."""
        pos = self.position
        if isinstance(value, _Num):
            return Node("scalar", pos, float(value), text=str(value))
        if _is_object(value):
            assert isinstance(value, list)
            return self.object_node(value)
        if isinstance(value, list):
            return Node("seq", pos, items=[self.node(v) for v in value])
        return Node("scalar", pos, value, text=value if isinstance(value, str) else None)

    def object_node(self, pairs: list[tuple[str, object]]) -> Node:
        out = Node("map", self.position)
        seen: dict[str, int] = {}
        for key, value in pairs:
            entry = (key, Node("scalar", self.position, key), self.node(value))
            if key in seen:
                out.entries[seen[key]] = entry  # the last duplicate wins
            else:
                seen[key] = len(out.entries)
                out.entries.append(entry)
        return out

    def fail(self, value: object, go_type: str) -> None:
        kind = (
            "null"
            if value is None
            else "number"
            if isinstance(value, _Num)
            else "bool"
            if isinstance(value, bool)
            else "string"
            if isinstance(value, str)
            else "object"
            if _is_object(value)
            else "array"
        )
        shown = f" {value}" if isinstance(value, _Num) else ""
        self.errors.append(f"json: cannot unmarshal {kind}{shown} into Go value of type {go_type}")

    def struct(self, value: object, schema: Schema, go_type: str) -> Node | None:
        if value is None:
            return None
        if not _is_object(value):
            self.fail(value, go_type)
            return None
        assert isinstance(value, list)
        fields: dict[str, Node] = {}
        for key, child in value:
            name = _json_key(key, schema)
            if name is None:
                continue
            kind = schema[name]
            if child is None and kind not in ("any", "strings") and isinstance(kind, str):
                continue  # null leaves a number, bool, string or duration as it was
            decoded = self.value(child, kind, name)
            if decoded is not None:
                fields[name] = decoded
            else:
                fields.pop(name, None)  # nil (a null pointer, slice or map), or a type error
        out = Node("map", self.position)
        for name, node in fields.items():
            out.entries.append((name, Node("scalar", self.position, name), node))
        return out

    def value(self, value: object, kind: object, key: str) -> Node | None:
        pos = self.position
        if isinstance(kind, dict):
            return self.struct(value, kind, key)
        if isinstance(kind, tuple):
            shape, inner = kind
            if value is None:
                return None
            if shape == "map":
                if not _is_object(value):
                    self.fail(value, "map[string]*config.V2SamplerChoice")
                    return None
                assert isinstance(value, list)
                out = Node("map", pos)
                for name, child in value:
                    decoded = self.struct(child, inner, "config.V2SamplerChoice")
                    out.entries = [e for e in out.entries if e[0] != name]
                    entry = decoded or Node("map", pos)
                    out.entries.append((name, Node("scalar", pos, name), entry))
                return out
            if not isinstance(value, list) or _is_object(value):
                self.fail(value, f"[]*config.{key}")
                return None
            items = []
            for item in value:
                if item is None:
                    raise RulesError(
                        f"a null entry in {key} is a nil pointer Refinery dereferences",
                        position=pos,
                        hint="remove the null entry",
                    )
                decoded = self.struct(item, inner, key)
                items.append(decoded or Node("map", pos))
            return Node("seq", pos, items=items)
        assert isinstance(kind, str)
        if kind == "any":
            return self.node(value)
        if value is None:
            return None  # encoding/json leaves the zero value for null
        if kind == "strings":
            if not isinstance(value, list) or _is_object(value):
                self.fail(value, "[]string")
                return None
            texts = []
            for item in value:
                if item is None:
                    texts.append(Node("scalar", pos, ""))  # null element: the zero string
                elif isinstance(item, str) and not isinstance(item, _Num):
                    texts.append(Node("scalar", pos, item))
                else:
                    self.fail(item, "string")
            return Node("seq", pos, items=texts)
        converted = self.scalar(value, kind)
        if converted is None:
            self.fail(value, GO_TYPES[kind])
            return None
        return Node("scalar", pos, converted[0])

    def scalar(self, value: object, kind: str) -> tuple[object] | None:
        if kind in ("int", "uint"):
            if not isinstance(value, _Num) or not _JSON_INT.fullmatch(value):
                return None
            n = int(value)
            lo = 0 if kind == "uint" else -(1 << 63)
            hi = (1 << 64) - 1 if kind == "uint" else (1 << 63) - 1
            return (n,) if lo <= n <= hi else None
        if kind == "float":
            if not isinstance(value, _Num):
                return None
            f = float(value)
            return (f,) if math.isfinite(f) else None
        if kind == "bool":
            return (value,) if isinstance(value, bool) else None
        if isinstance(value, _Num) or not isinstance(value, str):
            return None
        if kind == "duration":
            return (value,) if parse_go_duration(value) is not None else None
        return (value,)


def _is_object(value: object) -> bool:
    return isinstance(value, list) and getattr(value, "is_object", False)


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object's members in order (duplicates kept, as encoding/json reads them)."""

    is_object = True


def go_decode_json(text: str, path: str) -> Node | None:
    """A JSON rules file as Refinery's ``json.Unmarshal`` into ``V2SamplerConfig`` leaves it.

    encoding/json matches object keys to the structs' json tags, exactly or ignoring case,
    and those tags are the YAML keys lower-cased except ``rule`` and ``condition``: a JSON
    file's ``"Rules"`` and ``"Conditions"`` fill nothing, so its rules-based samplers have
    no rules.  Ints must be written as integers (``2.0`` is an error), strings as strings;
    ``null`` leaves the zero value; ``Value`` numbers are float64.

    Raises:
        RulesError: the decode fails (Refinery refuses to start).
    """
    try:
        data = json.loads(
            text,
            object_pairs_hook=_Pairs,
            parse_int=_Num,
            parse_float=_Num,
            parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)),
        )
    except ValueError as err:
        raise RulesError(
            f"Refinery cannot decode this file: {err}", position=Position(path)
        ) from None
    if data is None:
        return None
    decoder = _JsonDecoder(path)
    out = decoder.struct(data, TOP, "config.V2SamplerConfig")
    if decoder.errors:
        raise RulesError(
            f"Refinery cannot decode this file even with --no-validate: {decoder.errors[0]}",
            position=Position(path),
            hint=f"{len(decoder.errors)} decode error(s); Refinery refuses to start",
        )
    return out or Node("map", Position(path))
