"""The Refinery rules file as typed, frozen data (``RulesVersion: 2`` layout).

A field that the file omits is ``None`` here (Refinery then uses its code default, see the
``effective_*`` helpers and refinery-semantics.md section 2); the writer emits exactly the
fields that are set.  Positions are kept for messages and excluded from equality, so a file
written by :mod:`.rules_writer` reads back equal.  Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

from pytest_nectar.errors import Position

__all__ = [
    "DOWNSTREAM_KINDS",
    "DOWNSTREAM_ORDER",
    "NUM_DESCENDANTS",
    "OPERATORS",
    "SAMPLER_ORDER",
    "Condition",
    "DeterministicSamplerConfig",
    "DynamicSamplerConfig",
    "EMADynamicSamplerConfig",
    "EMAThroughputSamplerConfig",
    "Rule",
    "RulesBasedSamplerConfig",
    "RulesFile",
    "SamplerConfig",
    "SamplerEntry",
    "TotalThroughputSamplerConfig",
    "ValueItem",
    "WindowedThroughputSamplerConfig",
    "select_sampler",
]

Scalar = str | int | float | bool
#: An element of a ``Value`` list: Refinery accepts any YAML value there (a list of one
#: element type); nested lists are tuples, maps :class:`~.values.GoMap`, null is None.
ValueItem = Scalar | None | tuple["ValueItem", ...]
ConditionValue = Scalar | tuple[ValueItem, ...] | None

#: The one computed field: a trace's span count, when given as a lone ``Field`` (5.1).
NUM_DESCENDANTS: Final = "?.NUM_DESCENDANTS"

#: Refinery's fixed order for picking the sampler of a destination entry (createSampler).
SAMPLER_ORDER: Final = (
    "DeterministicSampler",
    "RulesBasedSampler",
    "DynamicSampler",
    "EMADynamicSampler",
    "EMAThroughputSampler",
    "WindowedThroughputSampler",
    "TotalThroughputSampler",
)
#: The samplers validation allows as a rule's ``Sampler`` (the code also runs Deterministic).
DOWNSTREAM_KINDS: Final = (
    "DynamicSampler",
    "EMADynamicSampler",
    "EMAThroughputSampler",
    "WindowedThroughputSampler",
    "TotalThroughputSampler",
)
#: The order in which Refinery's GetDownstreamSampler picks when a ``Sampler`` names several.
DOWNSTREAM_ORDER: Final = (
    "DynamicSampler",
    "EMADynamicSampler",
    "TotalThroughputSampler",
    "EMAThroughputSampler",
    "WindowedThroughputSampler",
    "DeterministicSampler",
)
OPERATORS: Final = (
    "=",
    "!=",
    ">",
    "<",
    ">=",
    "<=",
    "starts-with",
    "contains",
    "does-not-contain",
    "exists",
    "not-exists",
    "has-root-span",
    "matches",
    "in",
    "not-in",
)


def _key(name: str) -> dict[str, str]:
    return {"key": name}


@dataclass(frozen=True, slots=True)
class SamplerConfig:
    """Base of the seven sampler configurations; ``KIND`` is Refinery's YAML key."""

    KIND: ClassVar[str] = ""

    def params(self) -> dict[str, object]:
        """The parameters the file sets, under Refinery's names, in Refinery's order."""
        out: dict[str, object] = {}
        for f in dataclasses.fields(self):
            name = f.metadata.get("key")
            if name is None:
                continue
            value = getattr(self, f.name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True)
class DeterministicSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "DeterministicSampler"
    sample_rate: int | None = field(default=None, metadata=_key("SampleRate"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DynamicSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "DynamicSampler"
    sample_rate: int | None = field(default=None, metadata=_key("SampleRate"))
    clear_frequency: str | None = field(default=None, metadata=_key("ClearFrequency"))
    field_list: tuple[str, ...] | None = field(default=None, metadata=_key("FieldList"))
    max_keys: int | None = field(default=None, metadata=_key("MaxKeys"))
    use_trace_length: bool | None = field(default=None, metadata=_key("UseTraceLength"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EMADynamicSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "EMADynamicSampler"
    goal_sample_rate: int | None = field(default=None, metadata=_key("GoalSampleRate"))
    adjustment_interval: str | None = field(default=None, metadata=_key("AdjustmentInterval"))
    weight: float | None = field(default=None, metadata=_key("Weight"))
    age_out_value: float | None = field(default=None, metadata=_key("AgeOutValue"))
    burst_multiple: float | None = field(default=None, metadata=_key("BurstMultiple"))
    burst_detection_delay: int | None = field(default=None, metadata=_key("BurstDetectionDelay"))
    field_list: tuple[str, ...] | None = field(default=None, metadata=_key("FieldList"))
    max_keys: int | None = field(default=None, metadata=_key("MaxKeys"))
    use_trace_length: bool | None = field(default=None, metadata=_key("UseTraceLength"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EMAThroughputSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "EMAThroughputSampler"
    goal_throughput_per_sec: int | None = field(default=None, metadata=_key("GoalThroughputPerSec"))
    use_cluster_size: bool | None = field(default=None, metadata=_key("UseClusterSize"))
    initial_sample_rate: int | None = field(default=None, metadata=_key("InitialSampleRate"))
    adjustment_interval: str | None = field(default=None, metadata=_key("AdjustmentInterval"))
    weight: float | None = field(default=None, metadata=_key("Weight"))
    age_out_value: float | None = field(default=None, metadata=_key("AgeOutValue"))
    burst_multiple: float | None = field(default=None, metadata=_key("BurstMultiple"))
    burst_detection_delay: int | None = field(default=None, metadata=_key("BurstDetectionDelay"))
    field_list: tuple[str, ...] | None = field(default=None, metadata=_key("FieldList"))
    max_keys: int | None = field(default=None, metadata=_key("MaxKeys"))
    use_trace_length: bool | None = field(default=None, metadata=_key("UseTraceLength"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class WindowedThroughputSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "WindowedThroughputSampler"
    goal_throughput_per_sec: int | None = field(default=None, metadata=_key("GoalThroughputPerSec"))
    use_cluster_size: bool | None = field(default=None, metadata=_key("UseClusterSize"))
    update_frequency: str | None = field(default=None, metadata=_key("UpdateFrequency"))
    lookback_frequency: str | None = field(default=None, metadata=_key("LookbackFrequency"))
    field_list: tuple[str, ...] | None = field(default=None, metadata=_key("FieldList"))
    max_keys: int | None = field(default=None, metadata=_key("MaxKeys"))
    use_trace_length: bool | None = field(default=None, metadata=_key("UseTraceLength"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TotalThroughputSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "TotalThroughputSampler"
    goal_throughput_per_sec: int | None = field(default=None, metadata=_key("GoalThroughputPerSec"))
    use_cluster_size: bool | None = field(default=None, metadata=_key("UseClusterSize"))
    clear_frequency: str | None = field(default=None, metadata=_key("ClearFrequency"))
    field_list: tuple[str, ...] | None = field(default=None, metadata=_key("FieldList"))
    max_keys: int | None = field(default=None, metadata=_key("MaxKeys"))
    use_trace_length: bool | None = field(default=None, metadata=_key("UseTraceLength"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition: ``Field`` or ``Fields``, ``Operator``, ``Value``, ``Datatype``.

    ``value`` None means the file gives no Value (Go nil); a list Value is a tuple.
    """

    field: str | None = None
    fields: tuple[str, ...] | None = None
    operator: str | None = None
    value: ConditionValue = None
    datatype: str | None = None
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def field_names(self) -> tuple[str, ...]:
        """The fields looked up, in order (Refinery's Init turns ``Field`` into ``[Field]``)."""
        if self.field:
            return (self.field,) if not self.fields else self.fields
        return self.fields or ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule.  ``sample_rate`` None is Go's 0 (a matched rule then drops)."""

    name: str = ""
    drop: bool | None = None
    sample_rate: int | None = None
    sampler: SamplerEntry | None = None
    scope: str | None = None
    conditions: tuple[Condition, ...] | None = None
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def effective_sample_rate(self) -> int:
        return self.sample_rate if self.sample_rate is not None else 0

    @property
    def downstream(self) -> SamplerConfig | None:
        """The rule's downstream sampler, picked as Refinery's factory picks it."""
        return self.sampler.select(DOWNSTREAM_ORDER) if self.sampler is not None else None


@dataclass(frozen=True, slots=True)
class RulesBasedSamplerConfig(SamplerConfig):
    KIND: ClassVar[str] = "RulesBasedSampler"
    rules: tuple[Rule, ...] | None = field(default=None, metadata=_key("Rules"))
    check_nested_fields: bool | None = field(default=None, metadata=_key("CheckNestedFields"))
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)


SAMPLER_CLASSES: Final[Mapping[str, type[SamplerConfig]]] = {
    cls.KIND: cls
    for cls in (
        DeterministicSamplerConfig,
        RulesBasedSamplerConfig,
        DynamicSamplerConfig,
        EMADynamicSamplerConfig,
        EMAThroughputSamplerConfig,
        WindowedThroughputSamplerConfig,
        TotalThroughputSamplerConfig,
    )
}


@dataclass(frozen=True, slots=True)
class SamplerEntry:
    """What one destination (or a rule's ``Sampler``) holds: normally exactly one sampler."""

    samplers: tuple[SamplerConfig, ...] = ()
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)

    def select(self, order: tuple[str, ...] = SAMPLER_ORDER) -> SamplerConfig | None:
        """The first sampler present in Refinery's fixed ``order``."""
        by_kind = {s.KIND: s for s in self.samplers}
        for kind in order:
            if kind in by_kind:
                return by_kind[kind]
        return None


@dataclass(frozen=True, slots=True)
class RulesFile:
    """A whole rules file: ``RulesVersion`` and the destinations' sampler entries."""

    rules_version: int | None = 2
    samplers: Mapping[str, SamplerEntry] = field(default_factory=dict)
    position: Position | None = dataclasses.field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:  # dict fields: hash by identity, equality stays structural
        return id(self)


def select_sampler(rules_file: RulesFile, env: str | None) -> tuple[str, SamplerConfig]:
    """The destination used for ``env`` (or ``__default__``) and its sampler, as Refinery picks.

    Raises ``LookupError`` when neither exists or the entry has no sampler (Refinery exits).
    """
    name = env if env is not None and env in rules_file.samplers else "__default__"
    entry = rules_file.samplers.get(name)
    if entry is None:
        raise LookupError(f"no sampler for {env!r} and no __default__")
    chosen = entry.select()
    if chosen is None:
        raise LookupError(f"the entry {name!r} names no known sampler")
    return name, chosen
