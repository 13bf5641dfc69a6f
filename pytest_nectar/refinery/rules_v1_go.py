"""Go's side of Refinery's 1.x converter: how a decoded map becomes the v2 structs and YAML.

``tools/convert/ruleconvert.go`` marshals each lower-cased map to JSON and unmarshals it into
the v2 sampler structs (``config/sampler_config.go``): keys match the ``json`` tags, unknown
keys are dropped, a value of the wrong Go type is an error (the tool panics), ``any`` fields
get float64 numbers; the YAML encoder then omits zero values (``omitempty``), writes a
``config.Duration`` with ``time.Duration.String()`` and a float64 with ``%g``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from pytest_nectar.refinery.rules_validate import parse_go_duration

__all__ = [
    "ANY",
    "BOOL",
    "DUR",
    "INT",
    "STR",
    "STRS",
    "STRUCTS",
    "Refused",
    "go_duration",
    "go_g",
    "json_kind",
    "struct",
    "typed",
]

# json tag -> (v2 key, Go type) per struct; the order is the v2 struct's (the YAML order).
INT, UINT, FLOAT, BOOL, STR, DUR, STRS, ANY = (
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
    "fieldlist": ("FieldList", STRS),
    "maxkeys": ("MaxKeys", INT),
    "usetracelength": ("UseTraceLength", BOOL),
}
_EMA: Final = {
    "adjustmentinterval": ("AdjustmentInterval", DUR),
    "weight": ("Weight", FLOAT),
    "ageoutvalue": ("AgeOutValue", FLOAT),
    "burstmultiple": ("BurstMultiple", FLOAT),
    "burstdetectiondelay": ("BurstDetectionDelay", UINT),
}
STRUCTS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "DeterministicSampler": {"samplerate": ("SampleRate", INT)},
    "DynamicSampler": {
        "samplerate": ("SampleRate", INT),
        "clearfrequency": ("ClearFrequency", DUR),
        **_COMMON,
    },
    "EMADynamicSampler": {"goalsamplerate": ("GoalSampleRate", INT), **_EMA, **_COMMON},
    "EMAThroughputSampler": {
        "goalthroughputpersec": ("GoalThroughputPerSec", INT),
        "useclustersize": ("UseClusterSize", BOOL),
        "initialsamplerate": ("InitialSampleRate", INT),
        **_EMA,
        **_COMMON,
    },
    "WindowedThroughputSampler": {
        "updatefrequency": ("UpdateFrequency", DUR),
        "lookbackfrequency": ("LookbackFrequency", DUR),
        "goalthroughputpersec": ("GoalThroughputPerSec", INT),
        "useclustersize": ("UseClusterSize", BOOL),
        **_COMMON,
    },
    "TotalThroughputSampler": {
        "goalthroughputpersec": ("GoalThroughputPerSec", INT),
        "useclustersize": ("UseClusterSize", BOOL),
        "clearfrequency": ("ClearFrequency", DUR),
        **_COMMON,
    },
}


class Refused(Exception):
    """The converter stops here (json.Unmarshal's error, or "no sampler found")."""


def go_duration(nanos: int) -> str:
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


_JSON_KINDS: Final = {str: "string", int: "number", float: "number", list: "array"}


def json_kind(value: Any) -> str:
    """How Go's JSON errors name a value: ``string``, ``number``, ``bool``, ``array``..."""
    if isinstance(value, bool):
        return "bool"
    return _JSON_KINDS.get(type(value), "object")


def typed(value: Any, gotype: str, where: str) -> Any:
    """``value`` unmarshalled into a Go field of ``gotype``, or the tool's error.

    ``where`` is Go's ``Struct.jsonpath`` (e.g. ``DynamicSamplerConfig.fieldlist``).
    """
    if value is None:
        return None  # JSON null leaves the zero value
    if gotype == ANY:
        return _json(value)
    if gotype in (INT, UINT):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and float(value).is_integer() and (gotype == INT or value >= 0)
        if ok:
            return int(value)
    elif gotype == FLOAT:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif gotype == BOOL:
        if isinstance(value, bool):
            return value
    elif gotype == STR:
        if isinstance(value, str):
            return value
    elif gotype == STRS:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif gotype == DUR and isinstance(value, str):
        seconds = parse_go_duration(value)
        if seconds is not None:
            nanos = round(seconds * 1e9)
            return go_duration(nanos) if nanos else None  # omitempty: 0 is not written
    if gotype == DUR and isinstance(value, str):
        raise Refused(f"{where}: time: invalid duration {json.dumps(value)}")
    kind = json_kind(value)
    shown = {DUR: "config.Duration", UINT: "uint"}.get(gotype, gotype)
    raise Refused(f"json: cannot unmarshal {kind} into Go struct field {where} of type {shown}")


def _zero(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, bool | int | float) and not value)
    )


def struct(
    m: Mapping[str, Any], fields: Mapping[str, tuple[str, str]], where: str, path: str = ""
) -> dict[str, Any]:
    """``m`` decoded into the Go struct ``where`` (``path``: its JSON path from the root)."""
    out: dict[str, Any] = {}
    for tag, (key, gotype) in fields.items():
        if tag in m:
            value = typed(m[tag], gotype, f"{where}.{path}{tag}")
            if not _zero(value):
                out[key] = value  # omitempty: zero values are not written
    return out


def go_g(value: float) -> str:
    """Go's ``%g`` with the shortest digits, e.g. ``2e+06`` (yaml.v3's float spelling)."""
    text = format(Decimal(repr(value)).normalize(), "e")
    return re.sub(r"e([+-])(\d)$", r"e\g<1>0\2", text)
