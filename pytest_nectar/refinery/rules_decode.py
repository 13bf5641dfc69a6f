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
instead (:mod:`.rules_decode_json`).  TOML files are decoded by go-toml v2, whose rules are not
modelled: refused with a clear error instead of being approximated.  A null entry in
``Rules`` or ``Conditions`` becomes a nil pointer that Refinery dereferences: refused too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.rules_validate import parse_go_duration
from pytest_nectar.refinery.values import MIN_INT64, go_v
from pytest_nectar.refinery.yaml_loader import Node
from pytest_nectar.trace import GoUint64

__all__ = ["GO_TYPES", "TOP", "Schema", "go_decode"]

_TRUE: Final = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE: Final = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})

Schema = dict[str, object]  # key -> kind name, or a nested schema

_DYN: Final[Schema] = {"FieldList": "strings", "MaxKeys": "int", "UseTraceLength": "bool"}
_EMA: Final[Schema] = {
    "AdjustmentInterval": "duration",
    "Weight": "float",
    "AgeOutValue": "float",
    "BurstMultiple": "float",
    "BurstDetectionDelay": "uint",
}
_THROUGHPUT: Final[Schema] = {"GoalThroughputPerSec": "int", "UseClusterSize": "bool"}
_SAMPLERS: Final[dict[str, Schema]] = {
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
_CONDITION: Final[Schema] = {
    "Field": "string",
    "Fields": "strings",
    "Operator": "string",
    "Value": "any",
    "Datatype": "string",
}
_DOWNSTREAM: Final[Schema] = dict(_SAMPLERS)
_RULE: Final[Schema] = {
    "Name": "string",
    "SampleRate": "int",
    "Drop": "bool",
    "Scope": "string",
    "Conditions": ("list", _CONDITION),
    "Sampler": _DOWNSTREAM,
}
_RULES_BASED: Final[Schema] = {"Rules": ("list", _RULE), "CheckNestedFields": "bool"}
_CHOICE: Final[Schema] = {**_SAMPLERS, "RulesBasedSampler": _RULES_BASED}
TOP: Final[Schema] = {"RulesVersion": "int", "Samplers": ("map", _CHOICE)}

GO_TYPES: Final = {
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

    def struct(self, node: Node, schema: Schema, go_type: str) -> Node | None:
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
            self.fail(node, GO_TYPES[kind])
            return None
        converted = _SCALARS[kind](node)
        if converted is None:
            self.fail(node, GO_TYPES[kind])
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
    out = decoder.struct(root, TOP, "config.V2SamplerConfig")
    if decoder.errors:
        what, where = decoder.errors[0]
        raise RulesError(
            f"Refinery cannot decode this file even with --no-validate: {what}",
            position=where,
            hint=f"{len(decoder.errors)} decode error(s); Refinery refuses to start",
        )
    return out or Node("map", root.position)
