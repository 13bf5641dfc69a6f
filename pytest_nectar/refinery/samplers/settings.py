"""A dynamic-family sampler's YAML map, type-checked and read as Refinery reads it.

Values keep their configured form (0 stays 0) because Refinery shares instances by the
configured rate, and the defaults (``0 -> 10`` and friends) are applied where Refinery applies
them, when the dynsampler is made (:meth:`SamplerSettings.create`).  Settings Refinery would
load but then crash on (a negative ticker interval, a negative goal rate that reaches
``rand.Intn``) are errors here, never guesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pytest_nectar.errors import RulesError

from .clock import Clocked
from .durations import NANOSECONDS_PER_SECOND, DurationError, parse_duration
from .dynamic import AvgSampleRate, EMAParams, EMASampleRate, EMAThroughput
from .rates import sort_go
from .throughput import TotalThroughput, WindowedThroughput

__all__ = ["KINDS", "SamplerSettings", "parse_settings", "sharing_key"]

_INT, _UINT, _FLOAT, _BOOL, _DURATION, _STRINGS = "int", "uint", "float", "bool", "duration", "list"
_EMA_COMMON: Final = {
    "AdjustmentInterval": _DURATION,
    "Weight": _FLOAT,
    "AgeOutValue": _FLOAT,
    "BurstMultiple": _FLOAT,
    "BurstDetectionDelay": _UINT,
}
_KEYED: Final = {"FieldList": _STRINGS, "MaxKeys": _INT, "UseTraceLength": _BOOL}
_FIELDS: Final[dict[str, dict[str, str]]] = {
    "DynamicSampler": {"SampleRate": _INT, "ClearFrequency": _DURATION, **_KEYED},
    "EMADynamicSampler": {"GoalSampleRate": _INT, **_EMA_COMMON, **_KEYED},
    "EMAThroughputSampler": {
        "GoalThroughputPerSec": _INT,
        "UseClusterSize": _BOOL,
        "InitialSampleRate": _INT,
        **_EMA_COMMON,
        **_KEYED,
    },
    "WindowedThroughputSampler": {
        "GoalThroughputPerSec": _INT,
        "UseClusterSize": _BOOL,
        "UpdateFrequency": _DURATION,
        "LookbackFrequency": _DURATION,
        **_KEYED,
    },
    "TotalThroughputSampler": {
        "GoalThroughputPerSec": _INT,
        "UseClusterSize": _BOOL,
        "ClearFrequency": _DURATION,
        **_KEYED,
    },
}
_GOAL_FIELD: Final = {
    "DynamicSampler": "SampleRate",
    "EMADynamicSampler": "GoalSampleRate",
    "EMAThroughputSampler": "GoalThroughputPerSec",
    "WindowedThroughputSampler": "GoalThroughputPerSec",
    "TotalThroughputSampler": "GoalThroughputPerSec",
}
_REASON: Final = {
    "DynamicSampler": "dynamic",
    "EMADynamicSampler": "emadynamic",
    "EMAThroughputSampler": "emathroughput",
    "WindowedThroughputSampler": "windowedthroughput",
    "TotalThroughputSampler": "totalthroughput",
}
KINDS: Final = tuple(_FIELDS)
_THROUGHPUT: Final = frozenset(
    {"EMAThroughputSampler", "WindowedThroughputSampler", "TotalThroughputSampler"}
)


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    """One sampler config as written (durations in nanoseconds, 0 where absent)."""

    kind: str
    goal: int
    field_list: tuple[str, ...]
    max_keys: int = 0
    use_trace_length: bool = False
    use_cluster_size: bool = False
    initial_sample_rate: int = 0
    clear_frequency_ns: int = 0
    adjustment_interval_ns: int = 0
    update_frequency_ns: int = 0
    lookback_frequency_ns: int = 0
    weight: float = 0.0
    age_out_value: float = 0.0
    burst_multiple: float = 0.0
    burst_detection_delay: int = 0

    @property
    def reason(self) -> str:
        """Refinery's reason string for this sampler type."""
        return _REASON[self.kind]

    @property
    def is_throughput(self) -> bool:
        return self.kind in _THROUGHPUT

    def sharing_key(self, prefix: str) -> str:
        """Refinery's ``makeDynsamplerKey``: ``prefix:type:rate:[FieldList sorted]``.

        ``prefix`` is the destination, or ``rules:<destination>:`` for a rule's downstream
        sampler; the rate is the configured one (before defaults); the fields are sorted as
        Go's ``slices.Sort`` sorts strings.  The one place the key is computed
        (:func:`sharing_key` reads a rules-file config through it).
        """
        return f"{prefix}:{self.reason}:{self.goal}:[{' '.join(sort_go(self.field_list))}]"

    def create(self, start: float) -> Clocked:
        """``createDynFor...``: Refinery's defaults, then dynsampler-go's ``Start()``."""
        max_keys = self.max_keys or 500
        if self.kind == "DynamicSampler":
            clear = self.clear_frequency_ns or 30 * NANOSECONDS_PER_SECOND
            return AvgSampleRate(self.goal, clear, max_keys, start)
        if self.kind == "TotalThroughputSampler":
            clear = self.clear_frequency_ns or 30 * NANOSECONDS_PER_SECOND
            return TotalThroughput(self.goal, clear, max_keys, start)
        if self.kind == "WindowedThroughputSampler":
            return WindowedThroughput(
                float(self.goal),
                self.update_frequency_ns,
                self.lookback_frequency_ns,
                max_keys,
                start,
            )
        ema = EMAParams(
            adjustment_interval_ns=self.adjustment_interval_ns,
            weight=self.weight,
            age_out_value=self.age_out_value,
            burst_multiple=self.burst_multiple,
            burst_detection_delay=self.burst_detection_delay,
            max_keys=max_keys,
        )
        if self.kind == "EMADynamicSampler":
            return EMASampleRate(self.goal, ema, start)
        return EMAThroughput(self.goal, self.initial_sample_rate, ema, start)


def _bad(kind: str, name: str, what: str, value: object, hint: str = "") -> RulesError:
    return RulesError(f"{kind}.{name} {what}", got=value, hint=hint)


def _read(kind: str, name: str, typ: str, value: object) -> object:
    if typ in (_INT, _UINT):
        if isinstance(value, bool) or not isinstance(value, int):
            return _bad(kind, name, "must be an int", value)
        if typ == _UINT and value < 0:
            return _bad(kind, name, "must not be negative (Go uint)", value)
        return int(value)
    if typ == _FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _bad(kind, name, "must be a number", value)
        return float(value)
    if typ == _BOOL:
        if not isinstance(value, bool):
            return _bad(kind, name, "must be true or false", value)
        return value
    if typ == _STRINGS:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            return _bad(kind, name, "must be a list of strings", value)
        return tuple(value)
    if not isinstance(value, str):
        return _bad(kind, name, "must be a duration string", value, 'write it like "1m30s"')
    try:
        ns = parse_duration(value)
    except DurationError as exc:
        hint = 'units are ns, us, ms, s, m, h; write it like "30s" or "500ms"'
        return _bad(kind, name, f"is not a Go duration ({exc})", value, hint)
    if ns < 0:
        return _bad(kind, name, "must not be negative (Go's ticker panics)", value)
    return ns


_ATTR: Final = {
    "SampleRate": "goal",
    "GoalSampleRate": "goal",
    "GoalThroughputPerSec": "goal",
    "FieldList": "field_list",
    "MaxKeys": "max_keys",
    "UseTraceLength": "use_trace_length",
    "UseClusterSize": "use_cluster_size",
    "InitialSampleRate": "initial_sample_rate",
    "ClearFrequency": "clear_frequency_ns",
    "AdjustmentInterval": "adjustment_interval_ns",
    "UpdateFrequency": "update_frequency_ns",
    "LookbackFrequency": "lookback_frequency_ns",
    "Weight": "weight",
    "AgeOutValue": "age_out_value",
    "BurstMultiple": "burst_multiple",
    "BurstDetectionDelay": "burst_detection_delay",
}


def parse_settings(kind: str, params: Mapping[str, object]) -> SamplerSettings:
    """Read one sampler's YAML map; :class:`RulesError` for what Refinery rejects or crashes on."""
    fields = _FIELDS.get(kind)
    if fields is None:
        raise RulesError(
            "unknown dynamic sampler type", got=kind, hint="use one of " + ", ".join(KINDS)
        )
    values: dict[str, object] = {}
    for name, value in params.items():
        typ = fields.get(name)
        if typ is None:
            raise _bad(kind, str(name), "is not a field of this sampler", value)
        read = _read(kind, name, typ, value)
        if isinstance(read, RulesError):
            raise read
        values[_ATTR[name]] = read
    for name in (_GOAL_FIELD[kind], "FieldList"):
        if _ATTR[name] not in values:
            hint = "Refinery refuses a rules file without it"
            raise RulesError(f"{kind}.{name} is required", hint=hint)
    settings = SamplerSettings(kind=kind, **values)  # type: ignore[arg-type]
    rate_field = "InitialSampleRate" if kind == "EMAThroughputSampler" else _GOAL_FIELD[kind]
    rate = settings.initial_sample_rate if kind == "EMAThroughputSampler" else settings.goal
    if (not settings.is_throughput or kind == "EMAThroughputSampler") and rate < 0:
        raise _bad(
            kind,
            rate_field,
            "must not be negative",
            rate,
            "Refinery returns it as the first rate and panics in rand.Intn",
        )
    return settings


def sharing_key(kind: str, params: Mapping[str, object], prefix: str = "") -> str:
    """Which downstream samplers Refinery runs as one instance (``makeDynsamplerKey``): the
    one key the evaluator, the compiler's shared-config check and the budget all use.

    Raises:
        RulesError: parameters Refinery rejects (so they cannot share anything).
    """
    return parse_settings(kind, params).sharing_key(prefix)
