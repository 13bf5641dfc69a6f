"""Refinery's stateful samplers (dynsampler-go), ported exactly, on a virtual clock.

DynamicSampler, EMADynamicSampler, EMAThroughputSampler, WindowedThroughputSampler and
TotalThroughputSampler, with Refinery's trace key, defaults and instance sharing
(refinery-semantics.md sections 2, 6 and 9).  No wall clock and no randomness: time moves
only when a caller passes ``now``; the keep decision is the caller's seeded draw.
"""

from __future__ import annotations

from .clock import Clocked
from .durations import DurationError, parse_duration
from .dynamic import AvgSampleRate, EMAParams, EMASampleRate, EMAThroughput
from .pool import DynSampler, SamplerPool, build_sampler
from .rates import calculate_sample_rates
from .settings import KINDS, SamplerSettings, parse_settings
from .throughput import BlockList, TotalThroughput, WindowedThroughput
from .trace_key import TraceKey, trace_key

__all__ = [
    "KINDS",
    "AvgSampleRate",
    "BlockList",
    "Clocked",
    "DurationError",
    "DynSampler",
    "EMAParams",
    "EMASampleRate",
    "EMAThroughput",
    "SamplerPool",
    "SamplerSettings",
    "TotalThroughput",
    "TraceKey",
    "WindowedThroughput",
    "build_sampler",
    "calculate_sample_rates",
    "parse_duration",
    "parse_settings",
    "trace_key",
]
