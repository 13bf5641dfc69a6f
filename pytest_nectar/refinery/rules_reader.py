"""Read a Refinery rules file (YAML, JSON or TOML, chosen by the extension as Refinery does).

A YAML file may also be Refinery's Helm chart values or a ConfigMap holding the rules
(:mod:`.rules_source`); positions stay those of the file read. Decoding follows Go: YAML as
yaml.v3 (:mod:`.yaml_loader`), JSON numbers as float64 and TOML integers as int64, so that
validation sees what Refinery's validator sees (a JSON or TOML ``RulesVersion: 2`` is not a Go
``int``). The typed model is then built leniently: a value of the wrong type is left unset,
because :mod:`.rules_validate` reports it. JSON and TOML nodes carry the file path but no line
(the standard decoders do not report positions).
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pytest_nectar.errors import NOTHING, Position, RulesError
from pytest_nectar.limits import MAX_DATA_DEPTH, line_column, nesting_position
from pytest_nectar.refinery.rules_model import (
    SAMPLER_CLASSES,
    Condition,
    ConditionValue,
    Rule,
    RulesBasedSamplerConfig,
    RulesFile,
    SamplerConfig,
    SamplerEntry,
    ValueItem,
)
from pytest_nectar.refinery.rules_source import Container, unwrap
from pytest_nectar.refinery.values import GoInt64, GoMap
from pytest_nectar.refinery.yaml_loader import Node, load_yaml

__all__ = [
    "MAX_RULES_BYTES",
    "LoadedRules",
    "build_rules_file",
    "format_for",
    "read_rules",
    "read_rules_text",
    "rules_from_data",
]

#: Larger files are refused: real rules files are kilobytes; this keeps a mistake cheap.
MAX_RULES_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadedRules:
    """A decoded rules file: the raw node tree (for validation) and the typed model."""

    path: str
    format: str
    text: str
    root: Node | None
    rules_file: RulesFile
    #: the Helm values or ConfigMap the rules were read from (None: a plain rules file)
    container: Container | None = None


def format_for(path: str) -> str | None:
    """Refinery's formatFromFilename: ``yaml``, ``toml``, ``json`` or None."""
    ext = os.path.splitext(path)[1]
    if ext in (".yaml", ".yml", ".YAML", ".YML"):
        return "yaml"
    if ext in (".toml", ".TOML"):
        return "toml"
    if ext in (".json", ".JSON"):
        return "json"
    return None


def read_rules(path: str | os.PathLike[str]) -> LoadedRules:
    """Read and decode a rules file.  Raises :class:`RulesError` (located) on unreadable input."""
    p = Path(path)
    name = str(path)
    fmt = format_for(name)
    if fmt is None:
        raise RulesError(
            "unable to determine data format",
            position=Position(name),
            got=p.suffix,
            hint="Refinery picks the format from the extension: use .yaml, .yml, .toml or .json",
        )
    try:
        size = p.stat().st_size
        if size > MAX_RULES_BYTES:
            raise RulesError(
                "rules file is too large",
                position=Position(name),
                got=size,
                hint=f"the limit is {MAX_RULES_BYTES} bytes; a rules file is normally a few KiB",
            )
        data = p.read_bytes()
    except OSError as err:
        raise RulesError(
            "cannot read rules file", position=Position(name), got=err.strerror or str(err)
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise RulesError(
            "rules file is not valid UTF-8", position=Position(name, line), hint="save it as UTF-8"
        ) from None
    return read_rules_text(text, name, fmt)


def read_rules_text(text: str, path: str = "<rules>", fmt: str = "yaml") -> LoadedRules:
    """Decode rules text in format ``fmt`` (``yaml``, ``json`` or ``toml``)."""
    if len(text) > MAX_RULES_BYTES:
        raise RulesError("rules file is too large", position=Position(path), got=len(text))
    container = None
    if fmt == "yaml":
        root, fmt, container = unwrap(load_yaml(text, path), text, path, _embedded_root)
    elif fmt == "json":
        root = _load_json(text, path)
    elif fmt == "toml":
        root = _load_toml(text, path)
    else:
        raise RulesError("unable to determine data format", position=Position(path), got=fmt)
    if root is not None and root.kind != "map":
        raise RulesError(
            "the rules file must be a map at the top level",
            position=root.position,
            got=root.to_python() if root.kind == "scalar" else root.kind,
            hint="start with 'RulesVersion: 2' and 'Samplers:'",
        )
    return LoadedRules(path, fmt, text, root, build_rules_file(root, path), container)


def _embedded_root(text: str, path: str, fmt: str) -> Node | None:
    """The root of a rules file held inside another file (a ConfigMap's data)."""
    return read_rules_text(text, path, fmt).root


def rules_from_data(data: Any, path: str = "<rules>") -> LoadedRules:
    """Rules given as decoded data (as Go's decoder would produce them), e.g. from a test case."""
    root = _from_python(data, Position(path), "")
    return LoadedRules(path, "data", "", root, build_rules_file(root, path))


def _too_deep(path: str, text: str) -> RulesError:
    where = nesting_position(text, MAX_DATA_DEPTH)
    return RulesError(
        "nesting is too deep",
        position=Position(path, *where) if where else Position(path),
        got=MAX_DATA_DEPTH + 1,
        hint=f"Nectar reads rules files nested at most {MAX_DATA_DEPTH} levels deep",
    )


def _from_python(value: Any, pos: Position, text: str, depth: int = 0) -> Node:
    if isinstance(value, (dict, list)) and depth >= MAX_DATA_DEPTH:
        raise _too_deep(pos.path, text)
    if isinstance(value, dict):
        node = Node("map", pos)
        for k, v in value.items():
            child = _from_python(v, pos, text, depth + 1)
            node.entries.append((str(k), Node("scalar", pos, str(k)), child))
        return node
    if isinstance(value, list):
        return Node("seq", pos, items=[_from_python(v, pos, text, depth + 1) for v in value])
    return Node("scalar", pos, value)


def _load_json(text: str, path: str) -> Node | None:
    def number(s: str) -> float:
        f = float(s)
        if math.isinf(f):
            raise ValueError(f"cannot unmarshal number {s} into Go value of type float64")
        return f

    try:
        data = json.loads(text, parse_int=number, parse_float=number, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        lines = text.splitlines()
        raise RulesError(
            f"JSON syntax error: {err.msg}",
            position=Position(path, err.lineno, err.colno),
            source_line=lines[err.lineno - 1] if 0 < err.lineno <= len(lines) else None,
        ) from None
    except ValueError as err:
        raise RulesError(f"JSON error: {err}", position=Position(path)) from None
    except RecursionError:
        raise _too_deep(path, text) from None
    if data is None:
        return None
    return _from_python(data, Position(path), text)


def _no_constant(name: str) -> float:
    raise ValueError(f"invalid character {name!r} looking for beginning of value")


_LONG_DIGITS = re.compile(r"[0-9_]{4000,}")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _toml_values(value: Any, path: str, text: str, depth: int = 0) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):  # Go's TOML decoders refuse it
            raise RulesError(
                "TOML integer out of range for int64",
                position=Position(path),
                got=value,
                hint="Refinery reads TOML integers as int64",
            )
        return GoInt64(value)
    if isinstance(value, (dict, list)) and depth >= MAX_DATA_DEPTH:
        raise _too_deep(path, text)
    if isinstance(value, dict):
        return {k: _toml_values(v, path, text, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_toml_values(v, path, text, depth + 1) for v in value]
    if isinstance(value, (str, float)):
        return value
    return str(value)  # dates and times: never valid in a rules file


def _load_toml(text: str, path: str) -> Node | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = _TOML_AT.search(msg)
        pos = Position(path, int(m.group(1)), int(m.group(2))) if m else Position(path)
        raise RulesError(
            f"TOML syntax error: {_TOML_AT.sub('', msg).strip()}", position=pos
        ) from None
    except RecursionError:
        raise _too_deep(path, text) from None
    except ValueError:
        # tomllib converts integers with int(): beyond Python's 4,300-digit limit it raises.
        m = _LONG_DIGITS.search(text)
        raise RulesError(
            "TOML integer out of range for int64",
            position=Position(path, *line_column(text, m.start())) if m else Position(path),
            got=f"{m.group()[:20]}... ({len(m.group())} digits)" if m else NOTHING,
            hint="Refinery reads TOML integers as int64",
        ) from None
    return _from_python(_toml_values(data, path, text), Position(path), text)


# --- the typed model, built leniently ------------------------------------------------------


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _typed(kind: str, node: Node) -> object:
    """The node's value if it fits the model type ``kind``, else None (validation reports it)."""
    v = node.value
    if kind == "int":
        return int(v) if node.kind == "scalar" and _is_int(v) else None  # type: ignore[call-overload]
    if kind == "float":
        if (
            node.kind == "scalar"
            and (_is_int(v) or isinstance(v, float))
            and not isinstance(v, bool)
        ):
            return float(v)  # type: ignore[arg-type]
        return None
    if kind == "bool":
        return v if node.kind == "scalar" and isinstance(v, bool) else None
    if kind == "str":
        return v if node.kind == "scalar" and isinstance(v, str) else None
    if kind == "strs":
        if node.kind == "seq" and all(
            i.kind == "scalar" and isinstance(i.value, str) for i in node.items
        ):
            return tuple(str(i.value) for i in node.items)
        return None
    raise AssertionError(kind)


def _field_kind(annotation: str) -> str:
    if "tuple" in annotation:
        return "strs"
    for kind in ("bool", "int", "float", "str"):
        if annotation.startswith(kind):
            return kind
    raise AssertionError(annotation)


def _build_sampler(kind: str, node: Node) -> SamplerConfig:
    cls = SAMPLER_CLASSES[kind]
    if cls is RulesBasedSamplerConfig:
        return _build_rules_based(node)
    kwargs: dict[str, object] = {"position": node.position}
    if node.kind == "map":
        import dataclasses

        for f in dataclasses.fields(cls):
            key = f.metadata.get("key")
            child = node.get(key) if key else None
            if child is not None:
                kwargs[f.name] = _typed(_field_kind(str(f.type)), child)
    return cls(**kwargs)


def _build_entry(node: Node) -> SamplerEntry:
    samplers = []
    if node.kind == "map":
        for key, _, child in node.entries:
            if key in SAMPLER_CLASSES:
                samplers.append(_build_sampler(key, child))
    return SamplerEntry(tuple(samplers), position=node.position)


def _build_rules_based(node: Node) -> RulesBasedSamplerConfig:
    rules: tuple[Rule, ...] | None = None
    nested: object = None
    if node.kind == "map":
        rules_node = node.get("Rules")
        if rules_node is not None and rules_node.kind == "seq":
            rules = tuple(_build_rule(r) for r in rules_node.items if r.kind == "map")
        nested_node = node.get("CheckNestedFields")
        if nested_node is not None:
            nested = _typed("bool", nested_node)
    return RulesBasedSamplerConfig(rules=rules, check_nested_fields=nested, position=node.position)  # type: ignore[arg-type]


def _build_rule(node: Node) -> Rule:
    def opt(key: str, kind: str) -> Any:
        child = node.get(key)
        return _typed(kind, child) if child is not None else None

    conditions: tuple[Condition, ...] | None = None
    cnode = node.get("Conditions")
    if cnode is not None and cnode.kind == "seq":
        conditions = tuple(_build_condition(c) for c in cnode.items if c.kind == "map")
    snode = node.get("Sampler")
    sampler = _build_entry(snode) if snode is not None and snode.kind == "map" else None
    return Rule(
        name=opt("Name", "str") or "",
        drop=opt("Drop", "bool"),
        sample_rate=opt("SampleRate", "int"),
        sampler=sampler,
        scope=opt("Scope", "str"),
        conditions=conditions,
        position=node.position,
    )


def _value_item(node: Node) -> ValueItem:
    """An element of a Value list as Go decodes it into ``any`` (null, lists and maps too)."""
    if node.kind == "seq":
        return tuple(_value_item(i) for i in node.items)
    if node.kind == "map":
        return GoMap(sorted((k, _value_item(v)) for k, _, v in node.entries))
    return node.value  # type: ignore[return-value]


def _condition_value(node: Node) -> ConditionValue:
    if node.kind == "seq":
        # Refinery keeps every element, whatever its type, and compares its %v text.
        return tuple(_value_item(i) for i in node.items)
    if node.kind == "scalar":
        return node.value  # type: ignore[return-value]
    # A map is invalid (validation refuses it) but loads under --no-validate: Go's any.
    return GoMap(sorted((k, _value_item(v)) for k, _, v in node.entries))


def _build_condition(node: Node) -> Condition:
    def opt(key: str, kind: str) -> Any:
        child = node.get(key)
        return _typed(kind, child) if child is not None else None

    vnode = node.get("Value")
    return Condition(
        field=opt("Field", "str"),
        fields=opt("Fields", "strs"),
        operator=opt("Operator", "str"),
        value=_condition_value(vnode) if vnode is not None else None,
        datatype=opt("Datatype", "str"),
        position=node.position,
    )


def build_rules_file(root: Node | None, path: str = "<rules>") -> RulesFile:
    """The typed model of a decoded rules tree (never raises; see module docstring)."""
    if root is None or root.kind != "map":
        return RulesFile(rules_version=None, samplers={}, position=Position(path, 1, 1))
    version_node = root.get("RulesVersion")
    version = _typed("int", version_node) if version_node is not None else None
    samplers: dict[str, SamplerEntry] = {}
    snode = root.get("Samplers")
    if snode is not None and snode.kind == "map":
        for name, _, entry in snode.entries:
            samplers[name] = _build_entry(entry)
    return RulesFile(rules_version=version, samplers=samplers, position=root.position)  # type: ignore[arg-type]
