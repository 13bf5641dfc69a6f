"""Validate a rules file: Refinery's load-time rejections (errors) and its silent traps (warnings).

Errors reproduce ``config.Metadata.ValidateRules`` (Refinery's ``config/validate.go`` over
``rulesMeta.yaml``) message for message, each located at the offending node.  Refinery reports
them in Go map order; here they are sorted by position.  Warnings cover what Refinery accepts
but mishandles silently (refinery-semantics.md section 14).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from pytest_nectar.errors import Diagnostic, Position, RulesError
from pytest_nectar.refinery.rules_reader import LoadedRules, read_rules
from pytest_nectar.refinery.values import GoInt64, go_type_name, go_v
from pytest_nectar.refinery.yaml_loader import Node

__all__ = [
    "GROUPS",
    "ValidationReport",
    "closest_names",
    "parse_go_duration",
    "validate_loaded",
    "validate_path",
]

_DURATION_UNITS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# (type, validations) per field, per group, in rulesMeta.yaml order.
_Field = tuple[str, tuple[tuple[str, object], ...]]
_REQ: Final = ("requiredInGroup", None)
_FIELD_LIST: Final[_Field] = ("stringarray", (_REQ, ("notempty", None)))
_W01: Final = (("minimum", 0), ("maximum", 1))
GROUPS: Final[dict[str, dict[str, _Field]]] = {
    "Samplers": {},
    "DeterministicSampler": {"SampleRate": ("int", (_REQ,))},
    "DynamicSampler": {
        "SampleRate": ("int", (_REQ,)),
        "ClearFrequency": ("duration", ()),
        "FieldList": _FIELD_LIST,
        "MaxKeys": ("int", ()),
        "UseTraceLength": ("bool", ()),
    },
    "EMADynamicSampler": {
        "GoalSampleRate": ("int", (_REQ,)),
        "AdjustmentInterval": ("duration", ()),
        "Weight": ("float", _W01),
        "AgeOutValue": ("float", _W01),
        "BurstMultiple": ("float", ()),
        "BurstDetectionDelay": ("int", ()),
        "FieldList": _FIELD_LIST,
        "MaxKeys": ("int", ()),
        "UseTraceLength": ("bool", ()),
    },
    "EMAThroughputSampler": {
        "GoalThroughputPerSec": ("int", (_REQ, ("minimum", 1))),
        "UseClusterSize": ("bool", ()),
        "InitialSampleRate": ("int", ()),
        "AdjustmentInterval": ("duration", ()),
        "Weight": ("float", _W01),
        "AgeOutValue": ("float", _W01),
        "BurstMultiple": ("float", ()),
        "BurstDetectionDelay": ("int", ()),
        "FieldList": _FIELD_LIST,
        "MaxKeys": ("int", ()),
        "UseTraceLength": ("bool", ()),
    },
    "WindowedThroughputSampler": {
        "GoalThroughputPerSec": ("int", (_REQ, ("minimum", 1))),
        "UseClusterSize": ("bool", ()),
        "UpdateFrequency": ("duration", ()),
        "LookbackFrequency": ("duration", ()),
        "FieldList": _FIELD_LIST,
        "MaxKeys": ("int", ()),
        "UseTraceLength": ("bool", ()),
    },
    "TotalThroughputSampler": {
        "GoalThroughputPerSec": ("int", (_REQ, ("minimum", 1))),
        "UseClusterSize": ("bool", ()),
        "ClearFrequency": ("duration", ()),
        "FieldList": _FIELD_LIST,
        "MaxKeys": ("int", ()),
        "UseTraceLength": ("bool", ()),
    },
    "RulesBasedSampler": {"Rules": ("objectarray", ()), "CheckNestedFields": ("bool", ())},
    "Rules": {
        "Name": ("string", ()),
        "Sampler": (
            "object",
            (
                (
                    "validChildren",
                    (
                        "DynamicSampler",
                        "EMADynamicSampler",
                        "EMAThroughputSampler",
                        "WindowedThroughputSampler",
                        "TotalThroughputSampler",
                    ),
                ),
            ),
        ),
        "Drop": ("bool", ()),
        "SampleRate": ("int", ()),
        "Conditions": ("objectarray", ()),
        "Scope": ("string", (("choice", ("trace", "span")),)),
    },
    "Conditions": {
        "Field": ("string", (("conflictsWith", "Fields"),)),
        "Fields": ("stringarray", (("elementType", "string"), ("conflictsWith", "Field"))),
        "Operator": (
            "string",
            (
                (
                    "choice",
                    (
                        "=", "!=", ">", "<", ">=", "<=", "starts-with", "contains",
                        "does-not-contain", "exists", "not-exists", "has-root-span", "matches",
                        "in", "not-in",
                    ),
                ),
            ),
        ),
        "Value": ("sliceorscalar", ()),
        "Datatype": ("string", (("choice", ("string", "int", "float", "bool")),)),
    },
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Errors (Refinery refuses the file) and warnings (it loads, but misbehaves)."""

    path: str
    errors: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "valid": self.ok,
            "errors": [d.to_json() for d in self.errors],
            "warnings": [d.to_json() for d in self.warnings],
        }


def parse_go_duration(text: str) -> float | None:
    """Go ``time.ParseDuration`` in seconds; None when Go would reject the text."""
    s = text
    if s in ("0", "+0", "-0"):
        return 0.0
    if not s:
        return None
    sign = -1.0 if s[0] == "-" else 1.0
    if s[0] in "+-":
        s = s[1:]
    if not s:
        return None
    total = 0.0
    while s:
        i = 0
        while i < len(s) and ((s[i].isdigit() and s[i].isascii()) or s[i] == "."):
            i += 1
        num = s[:i]
        if not num or num == "." or num.count(".") > 1:
            return None
        s = s[i:]
        j = 0
        while j < len(s) and not (s[j].isdigit() and s[j].isascii()) and s[j] != ".":
            j += 1
        unit = s[:j]
        s = s[j:]
        if unit not in _DURATION_UNITS:
            return None
        total += float(num) * _DURATION_UNITS[unit]
    return sign * total


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


#: Longer keys get no suggestion: the edit distance is quadratic in the key's length (a
#: 32,000-character key took 16 s), and no known name is near one anyway.
SUGGEST_LIMIT: Final = 128


def closest_names(word: str) -> list[str]:
    """Refinery's ``ClosestNamesTo`` over rulesMeta (duplicates kept as Go keeps them);
    nothing for a word over :data:`SUGGEST_LIMIT` characters."""
    word = word.split(".")[-1]
    if len(word) > SUGGEST_LIMIT:
        return []
    words: list[tuple[int, str]] = []
    for group, fields in GROUPS.items():
        words.append((_levenshtein(group, word), group))
        words.extend((_levenshtein(f, word), f) for f in fields)
    words.sort()
    out = [words[0][1]]
    for dist, name in words[1:]:
        if dist != words[0][0]:
            break
        if name == words[0][1]:
            continue
        out.append(name)
    return out


def _unknown(key: str) -> str:
    """An unknown key and Refinery's suggestion; a key too long to suggest for is cut."""
    close = closest_names(key)
    if close:
        return f"{key}; did you mean {' or '.join(close)}?"
    return key if len(key) <= SUGGEST_LIMIT else key[: SUGGEST_LIMIT - 3] + "..."


class _Validator:
    def __init__(self, loaded: LoadedRules) -> None:
        self.loaded = loaded
        self.lines = loaded.text.splitlines()
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def _src(self, pos: Position | None) -> str | None:
        if pos is None or pos.line <= 0 or pos.line > len(self.lines):
            return None
        return self.lines[pos.line - 1]

    def error(self, message: str, pos: Position | None) -> None:
        self.errors.append(
            Diagnostic(
                "error",
                "rules.invalid",
                message,
                position=pos,
                hint="Refinery refuses to load this file",
                source_line=self._src(pos),
            )
        )

    def warn(
        self, code: str, what: str, pos: Position | None, hint: str = "", got: object = None
    ) -> None:
        from pytest_nectar.errors import NOTHING

        self.warnings.append(
            Diagnostic(
                "warning",
                f"rules.{code}",
                what,
                position=pos,
                got=NOTHING if got is None else got,
                hint=hint,
                source_line=self._src(pos),
            )
        )

    # --- Refinery's ValidateRules -------------------------------------------------------

    def validate_rules(self) -> None:
        root = self.loaded.root
        pos0 = (
            Position(self.loaded.path, 1, 1)
            if self.loaded.format == "yaml"
            else Position(self.loaded.path)
        )
        entries = root.entries if root is not None else []
        has_version = has_samplers = False
        for key, knode, vnode in entries:
            if key == "RulesVersion":
                has_version = True
                v = vnode.to_python()
                if not _go_int(v):
                    self.error(
                        f"RulesVersion must be an int, but {go_v(v)} is {go_type_name(v)}",
                        vnode.position,
                    )
                elif v != 2:
                    self.error(f"RulesVersion must be 2, but it is {v}", vnode.position)
            elif key == "Samplers":
                has_samplers = True
                if vnode.kind != "map":
                    v = vnode.to_python()
                    self.error(
                        "Samplers must be a collection of samplers, "
                        f"but {go_v(v)} is {go_type_name(v)}",
                        vnode.position,
                    )
                else:
                    found = False
                    for name, _, entry in vnode.entries:
                        if entry.kind != "map":
                            v = entry.to_python()
                            self.error(
                                f"Sampler {name} must be a map, but {go_v(v)} is {go_type_name(v)}",
                                entry.position,
                            )
                        found = found or name == "__default__"
                    if not found:
                        self.error("Samplers must include a __default__ sampler", vnode.position)
            else:
                self.error(f"unknown top-level key {key}", knode.position)
        if not has_version:
            self.error("RulesVersion is required", root.position if root else pos0)
        if not has_samplers:
            self.error("Samplers is required", root.position if root else pos0)
        if self.errors or root is None:
            return
        samplers = root.get("Samplers")
        assert samplers is not None
        for name, _, entry in samplers.entries:
            for msg, pos in self._validate(entry):
                self.error(f"Within sampler {name}: {msg}", pos)

    def _validate(self, data: Node) -> list[tuple[str, Position]]:
        """``Metadata.Validate`` of one map node: (message, position) pairs."""
        out: list[tuple[str, Position]] = []
        for key, knode, _ in data.entries:
            if key not in GROUPS:
                out.append(
                    (
                        f"unknown group {_unknown(key)}",
                        knode.position,
                    )
                )
        flat: dict[str, tuple[Node, Node]] = {}
        for key, knode, vnode in data.entries:
            if vnode.kind == "map":
                for kk, kkn, vv in vnode.entries:
                    flat[f"{key}.{kk}"] = (kkn, vv)
            else:
                flat[key] = (knode, vnode)
        for k, (knode, vnode) in flat.items():
            parts = k.split(".")
            spec = GROUPS.get(parts[0], {}).get(parts[1]) if len(parts) == 2 else None
            if spec is None:
                if k in GROUPS:
                    continue
                out.append(
                    (
                        f"unknown field {_unknown(k)}",
                        knode.position,
                    )
                )
                continue
            typ, validations = spec
            v = vnode.to_python()
            problem = _datatype_problem(k, v, typ)
            if problem:
                out.append((problem, vnode.position))
                continue
            if typ == "object":
                out.extend((f"Within field {k}: {m}", p) for m, p in self._validate(vnode))
            elif typ == "objectarray":
                sub = parts[1]
                for i, item in enumerate(vnode.items):
                    wrapper = Node(
                        "map",
                        item.position,
                        entries=[(sub, Node("scalar", item.position, sub), item)],
                    )
                    out.extend(
                        (f"Within field {k}[{i}]: {m}", p) for m, p in self._validate(wrapper)
                    )
            for vtype, arg in validations:
                out.extend(_check_validation(k, v, vnode, vtype, arg))
        for group, fields in GROUPS.items():
            for fname, (_, validations) in fields.items():
                for vtype, arg in validations:
                    if vtype == "requiredInGroup":
                        gnode = data.get(group)
                        if gnode is not None and f"{group}.{fname}" not in flat:
                            out.append(
                                (
                                    f"the group {group} is missing its required field {fname}",
                                    gnode.position,
                                )
                            )
                    elif (
                        vtype == "conflictsWith"
                        and f"{group}.{arg}" in flat
                        and f"{group}.{fname}" in flat
                    ):
                        message = f"the group {group} includes {arg}, which conflicts with {fname}"
                        out.append((message, flat[f"{group}.{fname}"][0].position))
        return out


def _go_int(v: object) -> bool:
    return (
        isinstance(v, int) and not isinstance(v, (bool, GoInt64)) and type(v).__name__ in ("int",)
    )


def _datatype_problem(k: str, v: object, typ: str) -> str:
    if v is None:
        return f"field {k} must not be nil"
    if typ == "object":
        return "" if isinstance(v, dict) else f"field {k} must be an object"
    if typ == "objectarray":
        return "" if isinstance(v, list) else f"field {k} must be an array of objects"
    if typ == "sliceorscalar":
        if _scalar_ok(v):
            return ""
        if isinstance(v, list):
            if len(v) > 1:
                first = go_type_name(v[0])
                for i, a in enumerate(v):
                    if go_type_name(a) != first:
                        return (
                            f"field {k} must be a slice of all the same type, "
                            f"but element {i} is {go_type_name(a)}"
                        )
            return ""
        return f"field {k} must be a list of string, int, float, or bool"
    if typ == "string":
        return (
            ""
            if isinstance(v, str)
            else f"field {k} must be a string but {go_v(v)} is {go_type_name(v)}"
        )
    if typ == "int":
        return "" if _go_int(v) else f"field {k} must be an int"
    if typ == "bool":
        return "" if isinstance(v, bool) else f"field {k} must be a bool"
    if typ == "float":
        if _go_int(v) or (isinstance(v, float) and type(v) is float):
            return ""
        return f"field {k} must be a float but {go_v(v)} is {go_type_name(v)}"
    if typ == "stringarray":
        if isinstance(v, list):
            for a in v:
                if not isinstance(a, str):
                    return (
                        f"field {k} must be a string array but contains non-string {_go_sharp_v(a)}"
                    )
            return ""
        return f"field {k} must be a string array but {go_v(v)} is {go_type_name(v)}"
    if typ == "duration":
        if not isinstance(v, str) or parse_go_duration(v) is None:
            return f"field {k} ({go_v(v)}) must be a valid duration like '3m30s' or '100ms'"
        return ""
    raise AssertionError(typ)


def _scalar_ok(v: object) -> bool:
    return isinstance(v, (str, bool)) or _go_int(v) or isinstance(v, GoInt64) or type(v) is float


def _go_sharp_v(v: object) -> str:
    """Go ``%#v`` for the scalars a YAML list can hold."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if isinstance(v, int):
        return str(int(v)) if _go_int(v) else f"{go_type_name(v)}({int(v)})"
    if isinstance(v, float):
        return go_v(v)
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(_go_sharp_v(a) for a in v) + "}"
    if isinstance(v, dict):
        inner = ", ".join(f'"{k}":{_go_sharp_v(x)}' for k, x in sorted(v.items()))
        return "map[string]interface {}{" + inner + "}"
    return '"' + str(v) + '"'


def _as_float(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        d = parse_go_duration(v)
        if d is not None:
            return d * 1000.0
    return None


def _check_validation(
    k: str, v: object, node: Node, vtype: str, arg: object
) -> Iterable[tuple[str, Position]]:
    if vtype == "choice":
        assert isinstance(arg, tuple)
        if not (isinstance(v, str) and v in arg):
            yield f"field {k} ({go_v(v)}) must be one of [{' '.join(arg)}]", node.position
    elif vtype in ("minimum", "maximum"):
        fv = _as_float(v)
        if fv is None:
            yield (
                f"{_go_sharp_v(v)} ({go_type_name(v)}) cannot be interpreted as a quantity",
                node.position,
            )
        elif vtype == "minimum" and fv < float(arg):  # type: ignore[arg-type]
            yield f"field {k} ({go_v(v)}) must be at least {arg}", node.position
        elif vtype == "maximum" and fv > float(arg):  # type: ignore[arg-type]
            yield f"field {k} ({go_v(v)}) must be at most {arg}", node.position
    elif vtype == "notempty":
        if isinstance(v, str) and v == "":
            yield f"field {k} must not be empty", node.position
    elif vtype == "validChildren":
        assert isinstance(arg, tuple)
        if node.kind == "map":
            for kk, knode, _ in node.entries:
                if kk not in arg:
                    yield f"field {k} contains unknown key {kk}", knode.position
    elif vtype == "elementType" and isinstance(v, list):
        for i, item in enumerate(node.items):
            problem = _datatype_problem(f"{k}[{i}]", item.to_python(), str(arg))
            if problem:
                yield problem, item.position


def validate_loaded(loaded: LoadedRules) -> ValidationReport:
    """Validate a decoded rules file: Refinery's errors, then Nectar's warnings."""
    from pytest_nectar.refinery.rules_warnings import collect_warnings

    v = _Validator(loaded)
    v.validate_rules()
    collect_warnings(loaded, v.warn)
    key = _sort_key
    return ValidationReport(
        loaded.path, tuple(sorted(v.errors, key=key)), tuple(sorted(v.warnings, key=key))
    )


def _sort_key(d: Diagnostic) -> tuple[int, int, str]:
    p = d.position
    return (p.line if p else 0, p.column if p else 0, d.what)


def validate_path(path: str | os.PathLike[str]) -> ValidationReport:
    """Read and validate a rules file; an unreadable file gives a report with one error."""
    try:
        loaded = read_rules(path)
    except RulesError as err:
        return ValidationReport(str(path), (err.diagnostic,), ())
    return validate_loaded(loaded)
