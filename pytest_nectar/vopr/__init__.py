"""VOPR: deterministic, time-compressed simulation of traffic for a policy.

Layers (each imports only the ones before it): :mod:`.rng` (ChaCha8 streams keyed by
campaign, seed, step and substream), :mod:`.clock` (virtual time and the rate process),
:mod:`.traffic` (trace shapes from a corpus), :mod:`.evolutions` and :mod:`.faults` (drift and
damage), :mod:`.textfaults` (corrupted policy and rules text), :mod:`.scenario` (scenario ->
batches per step, digests) and :mod:`.shrink` (smallest failing scenario).  Campaigns:
:mod:`.trace_fields`, :mod:`.decision_cache` and :mod:`.refinery_sim` (the compiled rules on
the virtual clock), :mod:`.invariants`, :mod:`.jobs`, :mod:`.replays` (determinism),
:mod:`.runs` and :mod:`.campaigns`.
"""

from __future__ import annotations

from typing import Any

from pytest_nectar.vopr.clock import DAY, HOUR, WEEK, RateCurve, RateProcess, Timeline, VirtualClock
from pytest_nectar.vopr.evolutions import (
    ErrorStorm,
    Evolution,
    GiantTraces,
    LatencyRegression,
    NewRoute,
    NewService,
    RenameAttribute,
    RetypeAttribute,
    RootlessTraces,
    random_evolutions,
)
from pytest_nectar.vopr.faults import (
    ClockSkew,
    DuplicateSpan,
    ExtremeValue,
    Fault,
    MissingField,
    NaNValue,
    OrphanSpan,
    TruncatedTrace,
    WrongType,
    random_faults,
)
from pytest_nectar.vopr.rng import RngFamily, StepStream, format_seed, parse_seed, replay_command
from pytest_nectar.vopr.scenario import Scenario, Simulation, batch_digest, stream_digest
from pytest_nectar.vopr.shrink import ShrinkResult, shrink
from pytest_nectar.vopr.textfaults import Corruption, corrupt_bytes, corrupt_text
from pytest_nectar.vopr.traffic import Batch, Draft, TraceFields, TrafficModel

__all__ = [
    "DAY",
    "HOUR",
    "WEEK",
    "Batch",
    "ClockSkew",
    "Corruption",
    "Draft",
    "DuplicateSpan",
    "ErrorStorm",
    "Evolution",
    "ExtremeValue",
    "Fault",
    "GiantTraces",
    "LatencyRegression",
    "MissingField",
    "NaNValue",
    "NewRoute",
    "NewService",
    "OrphanSpan",
    "RateCurve",
    "RateProcess",
    "RenameAttribute",
    "RetypeAttribute",
    "RngFamily",
    "RootlessTraces",
    "Scenario",
    "ShrinkResult",
    "Simulation",
    "StepStream",
    "Timeline",
    "TraceFields",
    "TrafficModel",
    "TruncatedTrace",
    "VirtualClock",
    "WrongType",
    "batch_digest",
    "corrupt_bytes",
    "corrupt_text",
    "format_seed",
    "parse_seed",
    "random_evolutions",
    "random_faults",
    "replay_command",
    "shrink",
    "stream_digest",
]


def __getattr__(name: str) -> Any:
    # The campaigns pull in the compiler and evaluators: loaded on first use only.
    if name in ("run_seed", "run_campaign", "run_campaigns", "CampaignResult", "Setup"):
        from pytest_nectar.vopr import campaigns

        return getattr(campaigns, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
