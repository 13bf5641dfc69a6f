"""A scenario: everything that decides a simulated stream of traffic, and the stream itself.

A :class:`Scenario` is a frozen value (campaign, seed, timeline, rate process, evolutions,
faults); with a :class:`~pytest_nectar.vopr.traffic.TrafficModel` it yields one
:class:`~pytest_nectar.vopr.traffic.Batch` of ``(virtual_time, Trace)`` per step.  Step ``k``
depends only on the scenario, the model and ``k``: :meth:`Simulation.batch` replays it alone,
and the digest of a stream pins its exact content (ids, times, every value and its type).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from pytest_nectar.vopr.clock import RateCurve, RateProcess, Timeline
from pytest_nectar.vopr.evolutions import Evolution
from pytest_nectar.vopr.faults import Fault
from pytest_nectar.vopr.rng import RngFamily, StepStream, format_seed, replay_command
from pytest_nectar.vopr.traffic import Batch, TrafficModel, Transform

__all__ = ["DEFAULT_RATE", "Scenario", "Simulation", "batch_digest", "stream_digest"]


DEFAULT_RATE = RateProcess()


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to simulate.  ``max_per_step`` keeps only the first traces of each step."""

    campaign: str
    seed: int
    timeline: Timeline
    rate: RateProcess = DEFAULT_RATE
    evolutions: tuple[Evolution, ...] = ()
    faults: tuple[Fault, ...] = ()
    max_per_step: int | None = None

    @property
    def duration(self) -> float:
        """Simulated virtual seconds."""
        return self.timeline.duration

    def simulate(self, model: TrafficModel) -> Simulation:
        return Simulation(self, model)

    def only_steps(self, first_step: int, steps: int = 1) -> Scenario:
        """The same scenario restricted to ``steps`` steps from global step ``first_step``.

        The traffic of those steps is identical to theirs in the full run; state carried from
        earlier steps (a sampler's averages) is the caller's to rebuild.
        """
        t = self.timeline
        return replace(self, timeline=Timeline(steps, t.step_seconds, t.active_seconds, first_step))

    def with_(self, **changes: Any) -> Scenario:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return replace(self, **changes)

    def replay_line(self, step: int | None = None, extra: tuple[str, ...] = ()) -> str:
        return replay_command(self.campaign, self.seed, step, extra)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for reports (deterministic, no wall-clock fields)."""
        t = self.timeline
        return {
            "campaign": self.campaign,
            "seed": format_seed(self.seed),
            "first_step": t.first_step,
            "steps": t.steps,
            "step_seconds": t.step_seconds,
            "active_seconds": t.active,
            "simulated_seconds": t.duration,
            "rate": {
                "base": self.rate.base,
                "diurnal_amplitude": self.rate.diurnal_amplitude,
                "peak_hour": self.rate.peak_hour,
                "weekend_factor": self.rate.weekend_factor,
                "burst_probability": self.rate.burst_probability,
                "burst_slot": self.rate.burst_slot,
                "burst_multiplier": list(self.rate.burst_multiplier),
                "burst_seconds": list(self.rate.burst_seconds),
            },
            "evolutions": [str(e) for e in self.evolutions],
            "faults": [str(f) for f in self.faults],
            "max_per_step": self.max_per_step,
        }

    def __str__(self) -> str:
        t = self.timeline
        lines = [
            f"scenario {self.campaign} seed {format_seed(self.seed)}: steps "
            f"{t.first_step}..{t.first_step + t.steps - 1} of {t.step_seconds:g}s "
            f"({t.active:g}s of traffic each), {self.rate.base:g} traces/s base",
        ]
        lines += [f"  evolution {e}" for e in self.evolutions]
        lines += [f"  fault {f}" for f in self.faults]
        if self.max_per_step is not None:
            lines.append(f"  at most {self.max_per_step} traces per step")
        return "\n".join(lines)


def _substreams(prefix: str, items: Iterable[object]) -> list[str]:
    # Named by what they are, not by position: dropping one leaves the others' draws alone.
    seen: dict[str, int] = {}
    names = []
    for item in items:
        text = str(item)
        seen[text] = seen.get(text, 0) + 1
        names.append(f"{prefix}/{text}#{seen[text]}")
    return names


class Simulation:
    """A scenario bound to a traffic model: batches by step, in order or one at a time."""

    def __init__(self, scenario: Scenario, model: TrafficModel) -> None:
        self.scenario = scenario
        self.model = model
        self.family = RngFamily(scenario.campaign, scenario.seed)
        self.curve = RateCurve(scenario.rate, self.family)
        self._traffic = self.family.stream("traffic")
        transforms: list[Transform] = [*scenario.evolutions, *scenario.faults]
        names = _substreams("evolution", scenario.evolutions)
        names += _substreams("fault", scenario.faults)
        self._transforms: list[tuple[Transform, float, float | None, StepStream]] = [
            (t, getattr(t, "start", 0.0), getattr(t, "end", None), self.family.stream(n))
            for t, n in zip(transforms, names, strict=True)
        ]

    def batch(self, step: int) -> Batch:
        """The traffic of global step ``step`` (needs no other step)."""
        t0, t1 = self.scenario.timeline.window(step)
        rng = self._traffic.at(step)
        times = self.curve.arrivals(t0, t1, rng)
        draft = self.model.draft(step, t0, t1, times, rng)
        if draft.traces:
            for transform, start, end, stream in self._transforms:
                if start < t1 and (end is None or end > t0):
                    transform.apply(draft, stream.at(step), self.model)
        batch = self.model.freeze(draft)
        cap = self.scenario.max_per_step
        if cap is not None and len(batch) > cap:
            batch = Batch(
                batch.step,
                batch.start,
                batch.end,
                batch.times[:cap],
                batch.traces[:cap],
                batch.sources[:cap],
                {i: v for i, v in batch.marks.items() if i < cap},
            )
        return batch

    def __iter__(self) -> Iterator[Batch]:
        for step in self.scenario.timeline.step_indices():
            yield self.batch(step)

    def digest(self) -> str:
        return stream_digest(self)


def batch_digest(batch: Batch) -> str:
    """A stable hash of a batch: step, arrival times, trace ids, rows, values and their types."""
    h = hashlib.blake2b(digest_size=16)
    parts = [f"step {batch.step} {batch.start!r} {batch.end!r} {len(batch)}"]
    for (t, trace), source in zip(batch, batch.sources.tolist(), strict=True):
        parts.append(f"trace {t!r} {trace.trace_id} {source} {len(trace.spans)}")
        for span in trace.spans:
            parts.append(f"{span.is_root} {_row_text(span.data)}")
    for i in sorted(batch.marks):
        parts.append(f"mark {i} {batch.marks[i]!r}")
    h.update("\x1f".join(parts).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


_ROW_TEXT: dict[int, tuple[Mapping[str, object], str]] = {}
_ROW_TEXT_MAX = 1 << 16


def _row_text(data: Mapping[str, object]) -> str:
    """``repr`` of a row's (field, type name, value) items, memoised for the read-only corpus
    rows that generated traces share (a wide row's repr is the cost of a digest).  The memo
    holds the row itself, so an id cannot be reused while its entry lives."""
    found = _ROW_TEXT.get(id(data))
    if found is not None and found[0] is data:
        return found[1]
    text = repr([(k, v.__class__.__name__, v) for k, v in data.items()])
    if data.__class__ is not MappingProxyType:
        return text  # a mutable row could change under the memo
    if len(_ROW_TEXT) >= _ROW_TEXT_MAX:
        _ROW_TEXT.clear()
    _ROW_TEXT[id(data)] = (data, text)
    return text


def stream_digest(batches: Iterable[Batch]) -> str:
    """The hash of a whole stream of batches, in order."""
    h = hashlib.blake2b(digest_size=16)
    for batch in batches:
        h.update(batch_digest(batch).encode())
    return h.hexdigest()
