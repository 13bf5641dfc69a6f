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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pytest_nectar.errors import Position, RulesError
from pytest_nectar.refinery.rules_reader import LoadedRules, rules_from_data
from pytest_nectar.refinery.rules_v1_go import (
    ANY,
    BOOL,
    INT,
    STR,
    STRS,
    STRUCTS,
    Refused,
    go_duration,
    go_g,
    json_kind,
    struct,
    typed,
)
from pytest_nectar.refinery.yaml_loader import Node

__all__ = ["Conversion", "convert_v1", "is_v1"]

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


def _keys(node: Node | None) -> set[str]:
    return {k for k, _, _ in node.entries} if node is not None and node.kind == "map" else set()


def is_v1(loaded: LoadedRules) -> bool:
    """A 1.x rules file: no ``RulesVersion``/``Samplers``, and a ``Sampler`` or ``SampleRate``
    at the top or in a dataset table (a TOML file without them is Refinery 1's ``rules.toml``).
    """
    root = loaded.root
    if (loaded.container is not None and loaded.container.kind != "helm") or (
        root is not None and root.kind != "map"
    ):
        return False  # a ConfigMap holds what Refinery 2 loads; Helm values may be 1.x
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
        return go_duration(value * 1_000_000_000)  # "0s" reads back as 0 and is omitted
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


# --- step 4: through JSON into the v2 structs (rules_v1_go) ------------------------------


def _sampler(kind: str, m: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    if kind == "RulesBasedSampler":
        return _rules_based(m, where, changes)
    body = struct(m, STRUCTS[kind], f"{kind}Config")
    if kind == "DeterministicSampler" and "SampleRate" not in body:
        body["SampleRate"] = 1  # defaults.Set: `default:"1"`
    return body


def _rules_based(m: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rules = m.get("rule")
    if rules is not None:
        if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
            bad = rules if not isinstance(rules, list) else []
            raise Refused(
                f"json: cannot unmarshal {json_kind(bad)} into Go struct field "
                "RulesBasedSamplerConfig.rule of type []*config.RulesBasedSamplerRule"
            )
        out["Rules"] = [_rule(r, f"{where} rule {i + 1}", changes) for i, r in enumerate(rules)]
    if typed(m.get("checknestedfields"), BOOL, "RulesBasedSamplerConfig.checknestedfields"):
        out["CheckNestedFields"] = True
    return out


def _rule(r: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    fields = {
        "name": ("Name", STR),
        "samplerate": ("SampleRate", INT),
        "drop": ("Drop", BOOL),
        "scope": ("Scope", STR),
    }
    out = struct(r, fields, "RulesBasedSamplerRule", "rule.")
    name = out.get("Name", "")
    conds = r.get("condition")
    if conds is not None:
        if not isinstance(conds, list) or not all(isinstance(c, Mapping) for c in conds):
            raise Refused(
                f"{where} ({name!r}): json: cannot unmarshal {json_kind(conds)} into Go struct "
                "field RulesBasedSamplerRule.rule.condition of type "
                "[]*config.RulesBasedSamplerCondition"
            )
        if conds:
            out["Conditions"] = [_condition(c, f"{where} ({name!r})", changes) for c in conds]
    sampler = r.get("sampler")
    if isinstance(sampler, Mapping):
        chosen = {}
        for kind in _DOWNSTREAM:
            if kind.lower() in sampler and isinstance(sampler[kind.lower()], Mapping):
                fields_of = STRUCTS[kind]
                path = f"rule.sampler.{kind.lower()}."
                chosen[kind] = struct(sampler[kind.lower()], fields_of, f"{kind}Config", path)
                if kind == "DeterministicSampler" and "SampleRate" not in chosen[kind]:
                    chosen[kind]["SampleRate"] = 1
        if chosen:
            out["Sampler"] = chosen
    elif sampler is not None:
        raise Refused(
            f"{where}: json: cannot unmarshal {json_kind(sampler)} into Go struct field "
            "RulesBasedSamplerRule.rule.sampler of type config.RulesBasedDownstreamSampler"
        )
    return out


def _yaml_number(value: float, where: str, changes: list[str]) -> int | float:
    """A float64 as yaml.v3 writes it (``%g``) and reads it back."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e6:
        return int(value)
    if math.isfinite(value) and value.is_integer():
        changes.append(f"{where}: Value {int(value)} becomes the float {go_g(value)}")
    return value


def _condition(c: Mapping[str, Any], where: str, changes: list[str]) -> dict[str, Any]:
    fields = {
        "field": ("Field", STR),
        "fields": ("Fields", STRS),
        "operator": ("Operator", STR),
        "value": ("Value", ANY),
        "datatype": ("Datatype", STR),
    }
    out: dict[str, Any] = {}
    for tag, (key, gotype) in fields.items():
        value = typed(c.get(tag), gotype, f"RulesBasedSamplerCondition.rule.condition.{tag}")
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
    tags = set(STRUCTS.get(kind, {}))
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
                raise Refused(f"{name}: {kind}: no sampler found")
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
    except Refused as err:
        raise RulesError(
            f"Refinery's converter refuses this 1.x rules file: {err}",
            position=where,
            hint="fix the 1.x file so that `refinery convert rules` accepts it",
        ) from None
    converted = rules_from_data({"RulesVersion": 2, "Samplers": samplers}, loaded.path)
    return Conversion(converted, tuple(changes))
