"""Refinery 1.x rules files -> the ``RulesVersion: 2`` rules Refinery's own converter writes.

Refinery 2 refuses 1.x files (top-level ``Sampler``/``SampleRate`` and one table per dataset);
its ``convert rules`` tool (``tools/convert/ruleconvert.go``, refinery v3.2.2) rewrites them.
This module does what that tool does, step by step, so that an import of a 1.x file decides
as the converted file would:

1. every map key is lower-cased (also inside lists); ``ClearFrequencySec`` becomes
   ``ClearFrequency`` and an integer ``ClearFrequencySec``/``AdjustmentInterval`` is a number
   of seconds (``transformSamplerMap``);
2. ``__default__`` is the top-level map read as the sampler its ``Sampler`` names
   (``DeterministicSampler`` when it names none), and every top-level map with a **string**
   ``Sampler`` or a **string** ``SampleRate`` is a destination of its own: the tool's
   ``getValueForCaseInsensitiveKey`` only finds values of the default's type (a string), so a
   dataset with a numeric ``SampleRate`` and no ``Sampler`` is skipped;
3. only Deterministic, Dynamic, EMADynamic, RulesBased and TotalThroughput samplers convert
   ("no sampler found" otherwise);
4. each map goes through JSON into the v2 struct (``readV1RulesIntoV2Sampler``): keys match
   the structs' ``json`` tags (``rule``, ``condition``, ``sampler``...), unknown keys are
   dropped, a value of the wrong Go type stops the tool; condition ``Value``\\ s pass through
   ``any``, so every number becomes a float64;
5. ``defaults.Set`` gives a DeterministicSampler ``SampleRate`` 0 the value 1;
6. the YAML encoder omits zero values except a condition's ``Field``, ``Operator`` and
   ``Value`` (``Value: null`` when there is none, which Refinery 2 then refuses), and writes a
   float64 with ``%g``: a whole number below 1e6 reads back as an int, anything else as a float.

What changed meaning is reported: the tool's own warning (v2 dynamic and throughput samplers
count spans where 1.x counted traces), skipped datasets, dropped keys (``DryRun``,
``AddSampleRateKeyToTrace``... which Refinery 2 sets in its main configuration, if at all),
numbers that became floats and conditions left with ``Value: null``.  Where Go's map order
makes the tool's first error depend on the run, the first in file order is named.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.rules_reader import LoadedRules, rules_from_data
from pytest_nectar.refinery.rules_validate import parse_go_duration
from pytest_nectar.refinery.yaml_loader import Node

__all__ = ["Conversion", "convert_v1", "is_v1"]

# json tag -> (v2 key, Go type) per struct; the order is the v2 struct's (the YAML order).
_INT, _UINT, _FLOAT, _BOOL, _STR, _DUR, _STRS, _ANY = (
    "int",
    "uint",
    "float64",
    "bool",
    "string",
    "Duration",
    "[]string",
    "any",
)
_COMMON: Final = {
    "fieldlist": ("FieldList", _STRS),
    "maxkeys": ("MaxKeys", _INT),
    "usetracelength": ("UseTraceLength", _BOOL),
}
_EMA: Final = {
    "adjustmentinterval": ("AdjustmentInterval", _DUR),
    "weight": ("Weight", _FLOAT),
    "ageoutvalue": ("AgeOutValue", _FLOAT),
    "burstmultiple": ("BurstMultiple", _FLOAT),
    "burstdetectiondelay": ("BurstDetectionDelay", _UINT),
}
_STRUCTS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "DeterministicSampler": {"samplerate": ("SampleRate", _INT)},
    "DynamicSampler": {
        "samplerate": ("SampleRate", _INT),
        "clearfrequency": ("ClearFrequency", _DUR),
        **_COMMON,
    },
    "EMADynamicSampler": {"goalsamplerate": ("GoalSampleRate", _INT), **_EMA, **_COMMON},
    "EMAThroughputSampler": {
        "goalthroughputpersec": ("GoalThroughputPerSec", _INT),
        "useclustersize": ("UseClusterSize", _BOOL),
        "initialsamplerate": ("InitialSampleRate", _INT),
        **_EMA,
        **_COMMON,
    },
    "WindowedThroughputSampler": {
        "updatefrequency": ("UpdateFrequency", _DUR),
        "lookbackfrequency": ("LookbackFrequency", _DUR),
        "goalthroughputpersec": ("GoalThroughputPerSec", _INT),
        "useclustersize": ("UseClusterSize", _BOOL),
        **_COMMON,
    },
    "TotalThroughputSampler": {
        "goalthroughputpersec": ("GoalThroughputPerSec", _INT),
        "useclustersize": ("UseClusterSize", _BOOL),
        "clearfrequency": ("ClearFrequency", _DUR),
        **_COMMON,
    },
}
_CONVERTIBLE: Final = (
    "DeterministicSampler",
    "DynamicSampler",
    "EMADynamicSampler",
    "RulesBasedSampler",
    "TotalThroughputSampler",
)
_DOWNSTREAM: Final = (
    "DynamicSampler",
    "EMADynamicSampler",
    "EMAThroughputSampler",
    "WindowedThroughputSampler",
    "TotalThroughputSampler",
    "DeterministicSampler",
)
#: Samplers whose rates the tool warns about (``NameMeaningfulSamplers``); it also lists
#: DeterministicSampler, whose trace-id hash counts nothing, so that one is not reported.
_SPAN_COUNTING: Final = (
    "DynamicSampler",
    "EMADynamicSampler",
    "EMAThroughputSampler",
    "WindowedThroughputSampler",
    "TotalThroughputSampler",
)


@dataclass(frozen=True, slots=True)
class Conversion:
    """The converted rules (as Refinery 2 reads the tool's output) and what changed meaning."""

    loaded: LoadedRules
    changes: tuple[str, ...]


class _Refused(Exception):
    pass


def _keys(node: Node | None) -> set[str]:
    return {k for k, _, _ in node.entries} if node is not None and node.kind == "map" else set()


def is_v1(loaded: LoadedRules) -> bool:
    """A 1.x rules file: no ``RulesVersion``/``Samplers``, and a ``Sampler`` or ``SampleRate``
    at the top or in a dataset table (a TOML file without them is Refinery 1's ``rules.toml``).
    """
    root = loaded.root
    if loaded.container is not None or (root is not None and root.kind != "map"):
        return False
    keys = _keys(root)
    if keys & {"RulesVersion", "Samplers"}:
        return False
    if loaded.format == "toml":
        return True
    if {k.lower() for k in keys} & {"sampler", "samplerate"}:
        return True
    tables = [v for _, _, v in root.entries] if root is not None else []
    return any("sampler" in {k.lower() for k in _keys(v)} for v in tables)


# --- step 1: transformSamplerMap -----------------------------------------------------------


def _seconds(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return _go_duration(value * 1_000_000_000)  # "0s" reads back as 0 and is omitted
    return value


def _transform(m: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in m.items():
        if isinstance(value, Mapping):
            value = _transform(value)
        elif isinstance(value, list):
            value = [_transform(x) if isinstance(x, Mapping) else x for x in value]
        k = key.lower()
        if k == "clearfrequencysec":
            k, value = "clearfrequency", _seconds(value)
        elif k == "adjustmentinterval":
            value = _seconds(value)
        out[k] = value  # Go: a later key that lower-cases the same replaces the earlier
    return out


def _go_duration(nanos: int) -> str:
    """Go's ``time.Duration.String()`` (what the tool's YAML encoder writes)."""
    if nanos == 0:
        return "0s"
    sign, n = ("-", -nanos) if nanos < 0 else ("", nanos)
    if n < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if n >= size:
                whole, frac = divmod(n, size)
                digits = f"{frac:0{len(str(size)) - 1}d}".rstrip("0") if size > 1 else ""
                return f"{sign}{whole}{'.' + digits if digits else ''}{unit}"
    hours, rest = divmod(n, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs, frac = divmod(rest, 1_000_000_000)
    digits = f"{frac:09d}".rstrip("0")
    text = f"{secs}{'.' + digits if digits else ''}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


# --- step 4: through JSON into the v2 structs ----------------------------------------------


def _json(value: Any) -> Any:
    """A value after json.Marshal then json.Unmarshal into ``any`` (numbers are float64)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    return str(value)


def _typed(value: Any, gotype: str, where: str) -> Any:
    """``value`` unmarshalled into a Go field of ``gotype``, or the tool's error."""
    if value is None:
        return None  # JSON null leaves the zero value
    if gotype == _ANY:
        return _json(value)
    if gotype in (_INT, _UINT):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and float(value).is_integer() and (gotype == _INT or value >= 0)
        if ok:
            return int(value)
    elif gotype == _FLOAT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif gotype == _BOOL:
        if isinstance(value, bool):
            return value
    elif gotype == _STR:
        if isinstance(value, str):
            return value
    elif gotype == _STRS:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif gotype == _DUR and isinstance(value, str):
        seconds = parse_go_duration(value)
        if seconds is not None:
            nanos = round(seconds * 1e9)
            return _go_duration(nanos) if nanos else None  # omitempty: 0 is not written
    raise _Refused(
        f"json: cannot unmarshal {value!r} into Go struct field {where} of type {gotype}"
    )


def _zero(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, bool | int | float) and not value)
    )


def _struct(
    m: Mapping[str, Any], fields: Mapping[str, tuple[str, str]], where: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag, (key, gotype) in fields.items():
        if tag in m:
            value = _typed(m[tag], gotype, f"{where}.{key}")
            if not _zero(value):
                out[key] = value  # omitempty: zero values are not written
    return out


def _sampler(kind: str, m: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    if kind == "RulesBasedSampler":
        return _rules_based(m, where, changes)
    body = _struct(m, _STRUCTS[kind], f"{kind}Config")
    if kind == "DeterministicSampler" and "SampleRate" not in body:
        body["SampleRate"] = 1  # defaults.Set: `default:"1"`
    return body


def _rules_based(m: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rules = m.get("rule")
    if rules is not None:
        if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
            raise _Refused(
                "json: cannot unmarshal object into Go struct field "
                "RulesBasedSamplerConfig.rule of type []*config.RulesBasedSamplerRule"
            )
        out["Rules"] = [_rule(r, f"{where} rule {i + 1}", changes) for i, r in enumerate(rules)]
    if _typed(m.get("checknestedfields"), _BOOL, "RulesBasedSamplerConfig.CheckNestedFields"):
        out["CheckNestedFields"] = True
    return out


def _rule(r: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    fields = {
        "name": ("Name", _STR),
        "samplerate": ("SampleRate", _INT),
        "drop": ("Drop", _BOOL),
        "scope": ("Scope", _STR),
    }
    out = _struct(r, fields, "RulesBasedSamplerRule")
    name = out.get("Name", "")
    conds = r.get("condition")
    if conds is not None:
        if not isinstance(conds, list) or not all(isinstance(c, Mapping) for c in conds):
            raise _Refused(
                f"{where} ({name!r}): json: cannot unmarshal object into Go struct field "
                "RulesBasedSamplerRule.condition of type []*config.RulesBasedSamplerCondition"
            )
        if conds:
            out["Conditions"] = [_condition(c, f"{where} ({name!r})", changes) for c in conds]
    sampler = r.get("sampler")
    if isinstance(sampler, Mapping):
        chosen = {}
        for kind in _DOWNSTREAM:
            if kind.lower() in sampler and isinstance(sampler[kind.lower()], Mapping):
                fields_of = _STRUCTS[kind]
                chosen[kind] = _struct(sampler[kind.lower()], fields_of, f"{kind}Config")
                if kind == "DeterministicSampler" and "SampleRate" not in chosen[kind]:
                    chosen[kind]["SampleRate"] = 1
        if chosen:
            out["Sampler"] = chosen
    elif sampler is not None:
        raise _Refused(f"{where}: json: cannot unmarshal {sampler!r} into the rule's Sampler")
    return out


def _go_g(value: float) -> str:
    """Go's ``%g`` with the shortest digits, e.g. ``2e+06`` (yaml.v3's float spelling)."""
    text = format(Decimal(repr(value)).normalize(), "e")
    return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)


def _yaml_number(value: float, where: str, changes: list[str]) -> int | float:
    """A float64 as yaml.v3 writes it (``%g``) and reads it back."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e6:
        return int(value)
    if math.isfinite(value) and value.is_integer():
        changes.append(f"{where}: Value {int(value)} becomes the float {_go_g(value)}")
    return value


def _condition(c: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    fields = {
        "field": ("Field", _STR),
        "fields": ("Fields", _STRS),
        "operator": ("Operator", _STR),
        "value": ("Value", _ANY),
        "datatype": ("Datatype", _STR),
    }
    out: dict[str, Any] = {}
    for tag, (key, gotype) in fields.items():
        value = _typed(c.get(tag), gotype, f"RulesBasedSamplerCondition.{key}")
        if key == "Value":
            if isinstance(value, float):
                value = _yaml_number(value, where, changes)
            elif isinstance(value, list):
                value = [
                    _yaml_number(v, where, changes) if isinstance(v, float) else v for v in value
                ]
        if key in ("Field", "Operator"):
            out[key] = value or ""
        elif key == "Value":
            out[key] = value  # no omitempty: a missing Value is written `Value: null`
            if value is None:
                changes.append(
                    f"{where}: the converter writes 'Value: null', which Refinery 2 refuses; "
                    "remove that line from the converted file"
                )
        elif value:
            out[key] = value
    if not out.get("Field"):
        out.pop("Field")  # an empty Field reads as no Field
    return out


# --- steps 2 and 3: the destinations ---------------------------------------------------------


def _known(kind: str) -> set[str]:
    """The keys the tool reads for a sampler of ``kind`` (its json tags, and ``sampler``)."""
    if kind == "RulesBasedSampler":
        return {"sampler", "rule", "checknestedfields"}
    tags = set(_STRUCTS.get(kind, {}))
    renamed = {"clearfrequencysec"} if "clearfrequency" in tags else set()
    return {"sampler", *tags, *renamed}


def _string_of(m: Mapping[str, Any], key: str) -> str | None:
    for k, v in m.items():
        if k.lower() == key and isinstance(v, str):
            return v
    return None


def convert_v1(loaded: LoadedRules) -> Conversion:
    """The rules Refinery's converter writes for a 1.x file, read as Refinery 2 reads them.

    Raises:
        RulesError: the converter stops on this file (it panics); the message is its reason.
    """
    where = Position(loaded.path)
    data = loaded.root.to_python() if loaded.root is not None else {}
    positions = {k: kn.position for k, kn, _ in loaded.root.entries} if loaded.root else {}
    changes: list[str] = []
    samplers: dict[str, Any] = {}
    try:
        default = _string_of(data, "sampler") or "DeterministicSampler"
        destinations = [("__default__", default, data)]
        for key, value in data.items():
            if not isinstance(value, Mapping):
                if key.lower() not in _known(default):
                    changes.append(
                        f"{positions.get(key, where)}: top-level {key} is not a v2 rule; "
                        "the converter drops it"
                    )
                continue
            kind = _string_of(value, "sampler")
            if kind is None and _string_of(value, "samplerate") is None:
                changes.append(
                    f"{positions.get(key, where)}: {key} has no Sampler (string), so the "
                    "converter skips it and its traffic uses __default__"
                )
                continue
            destinations.append((key, kind or "DeterministicSampler", value))
        for name, kind, body in destinations:
            if kind not in _CONVERTIBLE:
                raise _Refused(f"{name}: {kind}: no sampler found")
            if name != "__default__":
                dropped = [k for k, v in body.items() if k.lower() not in _known(kind)]
                changes.extend(
                    f"{name}: {key} is not a Refinery 2 {kind} setting; the converter drops it"
                    for key in dropped
                )
            samplers[name] = {kind: _sampler(kind, _transform(body), name, changes)}
            if kind in _SPAN_COUNTING:
                changes.append(
                    f"{name}: {kind}: Refinery 2 counts spans where 1.x counted traces; "
                    "check its rate or goal (the converter's warning)"
                )
            for rule in samplers[name].get("RulesBasedSampler", {}).get("Rules", ()):
                if "Sampler" in rule:
                    kinds = ", ".join(rule["Sampler"])
                    changes.append(
                        f"{name}: RulesBasedSampler({rule.get('Name', '')}, downstream Sampler "
                        f"{kinds}): Refinery 2 counts spans where 1.x counted traces"
                    )
    except _Refused as err:
        raise RulesError(
            f"Refinery's converter refuses this 1.x rules file: {err}",
            position=where,
            hint="fix the 1.x file so that `refinery convert rules` accepts it",
        ) from None
    converted = rules_from_data({"RulesVersion": 2, "Samplers": samplers}, loaded.path)
    return Conversion(converted, tuple(changes))
