"""A rules file as Refinery decodes it when started with ``--no-validate``.

Refinery's ``newFileConfig`` skips ``validateRules`` under ``--no-validate`` and goes straight
to ``applyConfigInto(&rulesconf, rulesData, nil)``: the file is decoded into the typed
``V2SamplerConfig`` structs (``config/sampler_config.go``).  A file validation would refuse
then loads, as long as that decode succeeds.  For YAML (``gopkg.in/yaml.v3`` v3.0.1,
``decoder.scalar``/``sequence``/``mappingStruct``) that means:

* keys are matched exactly to the structs' ``yaml`` tags; **unknown keys are ignored**, and
  ``RulesVersion`` is no longer checked (nor are required fields, ranges, choices, the
  Value list's element types, or a ``DeterministicSampler`` downstream of a rule);
* a null leaves the zero value (a nil sampler, rule list or string list);
* ``int`` fields take ints, and floats **truncated** toward zero (``1.9`` is 1); ``uint``
  takes non-negative ones; ``float`` fields take ints and floats; ``bool`` fields take
  bools and the YAML 1.1 words ``y/yes/on`` and ``n/no/off`` (quoted or not);
  ``string`` fields take **any scalar's text** (``Name: 123`` is ``"123"``); durations
  pass the scalar's text to Go's ``time.ParseDuration``; string lists take each scalar's
  text and drop null elements; ``Value`` keeps whatever was written;
* anything else (a map where a list is expected, ``Drop: 1``, ``SampleRate: "5"``, a bad
  duration) is a decode error: Refinery still refuses to start.

:func:`go_decode` returns the node tree normalised to what the structs hold (values
converted, unknown keys gone), so that :func:`~.rules_reader.build_rules_file` builds
exactly Refinery's configuration from it.  JSON rules files go through ``encoding/json``
instead (:func:`go_decode_json`).  TOML files are decoded by go-toml v2, whose rules are not
modelled: refused with a clear error instead of being approximated.  A null entry in
``Rules`` or ``Conditions`` becomes a nil pointer that Refinery dereferences: refused too.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Final

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.rules_validate import parse_go_duration
from pytest_nectar.refinery.values import MIN_INT64, go_v
from pytest_nectar.refinery.yaml_loader import Node
from pytest_nectar.trace import GoUint64

__all__ = ["go_decode", "go_decode_json"]

_TRUE: Final = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE: Final = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})

_Schema = dict[str, object]  # key -> kind name, or a nested schema

_DYN: Final[_Schema] = {"FieldList": "strings", "MaxKeys": "int", "UseTraceLength": "bool"}
_EMA: Final[_Schema] = {
    "AdjustmentInterval": "duration",
    "Weight": "float",
    "AgeOutValue": "float",
    "BurstMultiple": "float",
    "BurstDetectionDelay": "uint",
}
_THROUGHPUT: Final[_Schema] = {"GoalThroughputPerSec": "int", "UseClusterSize": "bool"}
_SAMPLERS: Final[dict[str, _Schema]] = {
    "DeterministicSampler": {"SampleRate": "int"},
    "DynamicSampler": {"SampleRate": "int", "ClearFrequency": "duration", **_DYN},
    "EMADynamicSampler": {"GoalSampleRate": "int", **_EMA, **_DYN},
    "EMAThroughputSampler": {**_THROUGHPUT, "InitialSampleRate": "int", **_EMA, **_DYN},
    "WindowedThroughputSampler": {
        "UpdateFrequency": "duration",
        "LookbackFrequency": "duration",
        **_THROUGHPUT,
        **_DYN,
    },
    "TotalThroughputSampler": {**_THROUGHPUT, "ClearFrequency": "duration", **_DYN},
}
_CONDITION: Final[_Schema] = {
    "Field": "string",
    "Fields": "strings",
    "Operator": "string",
    "Value": "any",
    "Datatype": "string",
}
_DOWNSTREAM: Final[_Schema] = dict(_SAMPLERS)
_RULE: Final[_Schema] = {
    "Name": "string",
    "SampleRate": "int",
    "Drop": "bool",
    "Scope": "string",
    "Conditions": ("list", _CONDITION),
    "Sampler": _DOWNSTREAM,
}
_RULES_BASED: Final[_Schema] = {"Rules": ("list", _RULE), "CheckNestedFields": "bool"}
_CHOICE: Final[_Schema] = {**_SAMPLERS, "RulesBasedSampler": _RULES_BASED}
_TOP: Final[_Schema] = {"RulesVersion": "int", "Samplers": ("map", _CHOICE)}

_GO_TYPES: Final = {
    "int": "int",
    "uint": "uint",
    "float": "float64",
    "bool": "bool",
    "string": "string",
    "duration": "config.Duration",
    "strings": "[]string",
}


def _tag(node: Node) -> str:
    if node.kind == "map":
        return "!!map"
    if node.kind == "seq":
        return "!!seq"
    v = node.value
    if isinstance(v, bool):
        return "!!bool"
    if isinstance(v, int):
        return "!!int"
    if isinstance(v, float):
        return "!!float"
    return "!!str"


class _Decoder:
    def __init__(self) -> None:
        self.errors: list[tuple[str, Position]] = []

    def fail(self, node: Node, go_type: str) -> None:
        text = node.text if node.kind == "scalar" and node.text is not None else go_v(node.value)
        shown = f" `{text}`" if node.kind == "scalar" else ""
        self.errors.append((f"cannot unmarshal {_tag(node)}{shown} into {go_type}", node.position))

    def struct(self, node: Node, schema: _Schema, go_type: str) -> Node | None:
        if node.kind == "scalar" and node.value is None:
            return None
        if node.kind != "map":
            self.fail(node, go_type)
            return None
        out = Node("map", node.position)
        for key, knode, child in node.entries:
            kind = schema.get(key)
            if kind is None:
                continue  # yaml.v3 ignores unknown keys
            value = self.value(child, kind, key)
            if value is not None:
                out.entries.append((key, knode, value))
        return out

    def value(self, node: Node, kind: object, key: str) -> Node | None:
        if isinstance(kind, dict):
            return self.struct(node, kind, key)
        if isinstance(kind, tuple):
            shape, inner = kind
            if node.kind == "scalar" and node.value is None:
                return None
            if shape == "map":
                if node.kind != "map":
                    self.fail(node, "map[string]*config.V2SamplerChoice")
                    return None
                out = Node("map", node.position)
                for name, knode, child in node.entries:
                    decoded = self.struct(child, inner, "config.V2SamplerChoice")
                    out.entries.append((name, knode, decoded or Node("map", child.position)))
                return out
            if node.kind != "seq":
                self.fail(node, f"[]*config.{key}")
                return None
            items = []
            for item in node.items:
                if item.kind == "scalar" and item.value is None:
                    raise RulesError(
                        f"a null entry in {key} is a nil pointer Refinery dereferences",
                        position=item.position,
                        hint="remove the empty '-' entry",
                    )
                decoded = self.struct(item, inner, key)
                if decoded is not None:
                    items.append(decoded)
            return Node("seq", node.position, items=items)
        assert isinstance(kind, str)
        if kind == "any":
            return node
        if node.kind == "scalar" and node.value is None:
            return None  # a null leaves the zero value
        if kind == "strings":
            if node.kind != "seq":
                self.fail(node, "[]string")
                return None
            texts = []
            for item in node.items:
                if item.kind == "scalar" and item.value is None:
                    continue  # dropped by yaml.v3's sequence()
                if item.kind != "scalar":
                    self.fail(item, "string")
                    continue
                texts.append(Node("scalar", item.position, _text(item)))
            return Node("seq", node.position, items=texts)
        if node.kind != "scalar":
            self.fail(node, _GO_TYPES[kind])
            return None
        converted = _SCALARS[kind](node)
        if converted is None:
            self.fail(node, _GO_TYPES[kind])
            return None
        return Node("scalar", node.position, converted[0], text=node.text)


def _text(node: Node) -> str:
    return node.text if node.text is not None else go_v(node.value)


def _int(node: Node) -> tuple[object] | None:
    v = node.value
    if isinstance(v, bool):
        return None
    if isinstance(v, GoUint64):
        return (int(v),) if v < 1 << 63 else None
    if isinstance(v, int):
        return (int(v),)
    if isinstance(v, float):
        if math.isnan(v) or v > 2.0**63:
            return None
        return (int(v) if -(2.0**63) <= v < 2.0**63 else MIN_INT64,)
    return None


def _uint(node: Node) -> tuple[object] | None:
    v = node.value
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return (int(v),) if v >= 0 else None
    if isinstance(v, float):
        if math.isnan(v) or v < 0 or v >= 2.0**64:
            return None
        return (int(v),)
    return None


def _float(node: Node) -> tuple[object] | None:
    v = node.value
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return (float(v),)


def _bool(node: Node) -> tuple[object] | None:
    v = node.value
    if isinstance(v, bool):
        return (v,)
    if isinstance(v, str) and v in _TRUE:
        return (True,)
    if isinstance(v, str) and v in _FALSE:
        return (False,)
    return None


def _string(node: Node) -> tuple[object] | None:
    return (_text(node),)


def _duration(node: Node) -> tuple[object] | None:
    text = _text(node)
    return (text,) if parse_go_duration(text) is not None else None


_SCALARS: Final[dict[str, Callable[[Node], tuple[object] | None]]] = {
    "int": _int,
    "uint": _uint,
    "float": _float,
    "bool": _bool,
    "string": _string,
    "duration": _duration,
}


def go_decode(root: Node | None, path: str, fmt: str) -> Node | None:
    """The rules tree as Refinery's typed decode leaves it (see the module docstring).

    Raises:
        RulesError: the decode fails (Refinery refuses to start even with --no-validate),
            or the file is not YAML.
    """
    if fmt not in ("yaml", "data"):
        raise RulesError(
            "--no-validate is modelled for YAML and JSON rules files only",
            position=Position(path),
            got=fmt,
            hint="Refinery decodes TOML with go-toml, whose rules Nectar does not model; "
            "convert the file to YAML",
        )
    if root is None:
        return None
    decoder = _Decoder()
    out = decoder.struct(root, _TOP, "config.V2SamplerConfig")
    if decoder.errors:
        what, where = decoder.errors[0]
        raise RulesError(
            f"Refinery cannot decode this file even with --no-validate: {what}",
            position=where,
            hint=f"{len(decoder.errors)} decode error(s); Refinery refuses to start",
        )
    return out or Node("map", root.position)


# --- JSON: encoding/json into the same structs ------------------------------------------------

_JSON_INT: Final = re.compile(r"-?(0|[1-9][0-9]*)")
#: Struct fields whose json tag is not the lower-cased YAML key.
_JSON_TAGS: Final = {"Rules": "rule", "Conditions": "condition"}


class _Num(str):
    """A JSON number literal, kept as written (encoding/json decides by its text)."""

    __slots__ = ()


def _json_key(key: str, schema: _Schema) -> str | None:
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

    def struct(self, value: object, schema: _Schema, go_type: str) -> Node | None:
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
            self.fail(value, _GO_TYPES[kind])
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
    out = decoder.struct(data, _TOP, "config.V2SamplerConfig")
    if decoder.errors:
        raise RulesError(
            f"Refinery cannot decode this file even with --no-validate: {decoder.errors[0]}",
            position=Position(path),
            hint=f"{len(decoder.errors)} decode error(s); Refinery refuses to start",
        )
    return out or Node("map", Position(path))
