"""Virtual time: a clock, a compressed timeline of steps, and the traffic rate process.

Virtual time is seconds since a virtual Monday 00:00.  A :class:`Timeline` cuts a simulated
span of time into steps; with ``active_seconds < step_seconds`` only the start of each step
carries traffic and the clock jumps over the rest, which is how a year is simulated in
seconds of wall time.  The :class:`RateProcess` gives traces per virtual second: a base rate
scaled by a diurnal cycle, a weekly cycle and random bursts.  Bursts are drawn per fixed slot
of virtual time from the seeded family, so the rate at any instant is a pure function of
(campaign, seed, time) and a step can be replayed alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pytest_nectar.vopr.rng import RngFamily

__all__ = ["DAY", "HOUR", "WEEK", "Burst", "RateCurve", "RateProcess", "Timeline", "VirtualClock"]

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
_RESOLUTION = 60.0  # seconds per point when integrating the rate over a window
_MAX_POINTS = 512
_SCALAR_POINTS = 8  # below this, plain floats beat numpy call overhead


class VirtualClock:
    """Simulated time that only moves forward, and only when told to."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance_to(self, t: float) -> float:
        """Move to ``t``; moving backwards is a bug in the caller."""
        if t < self._now:
            raise ValueError(f"virtual time cannot go back from {self._now} to {t}")
        self._now = float(t)
        return self._now

    def advance(self, seconds: float) -> float:
        return self.advance_to(self._now + seconds)


@dataclass(frozen=True, slots=True)
class Timeline:
    """``steps`` steps of ``step_seconds`` from global step ``first_step``.

    Step ``k`` starts at virtual time ``k * step_seconds`` and carries traffic during its first
    ``active_seconds`` (all of it when ``None``); the clock jumps over the rest.
    """

    steps: int
    step_seconds: float = 1.0
    active_seconds: float | None = None
    first_step: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.first_step < 0 or not self.step_seconds > 0:
            raise ValueError("a timeline needs steps >= 0, first_step >= 0, step_seconds > 0")
        if self.active_seconds is not None and not 0 < self.active_seconds <= self.step_seconds:
            raise ValueError("active_seconds must be in (0, step_seconds]")

    @classmethod
    def over(
        cls, seconds: float, step_seconds: float = 1.0, active_seconds: float | None = None
    ) -> Timeline:
        """The timeline that covers ``seconds`` of virtual time from 0."""
        return cls(math.ceil(seconds / step_seconds - 1e-9), step_seconds, active_seconds)

    @property
    def start(self) -> float:
        return self.first_step * self.step_seconds

    @property
    def duration(self) -> float:
        """Simulated virtual seconds."""
        return self.steps * self.step_seconds

    @property
    def active(self) -> float:
        return self.step_seconds if self.active_seconds is None else self.active_seconds

    @property
    def traffic_seconds(self) -> float:
        """Virtual seconds that actually carry generated traffic."""
        return self.steps * self.active

    @property
    def compression(self) -> float:
        """Simulated seconds per second of generated traffic."""
        return self.step_seconds / self.active

    def window(self, step: int) -> tuple[float, float]:
        """The virtual interval of a step's traffic, by global step index."""
        t0 = step * self.step_seconds
        return t0, t0 + self.active

    def step_indices(self) -> range:
        return range(self.first_step, self.first_step + self.steps)

    def step_at(self, t: float) -> int:
        """The global index of the step whose span holds virtual time ``t``."""
        return math.floor(t / self.step_seconds)


@dataclass(frozen=True, slots=True)
class RateProcess:
    """Traces per virtual second: base x diurnal x weekly x bursts."""

    base: float = 50.0
    diurnal_amplitude: float = 0.5  # rate swings by +-amplitude around the base over a day
    peak_hour: float = 14.0
    weekend_factor: float = 0.6  # Saturday and Sunday
    burst_probability: float = 0.05  # chance that a burst slot holds a burst
    burst_slot: float = HOUR
    burst_multiplier: tuple[float, float] = (2.0, 8.0)
    burst_seconds: tuple[float, float] = (60.0, 900.0)

    def __post_init__(self) -> None:
        if self.base < 0 or not 0 <= self.diurnal_amplitude <= 1 or self.weekend_factor < 0:
            raise ValueError("rate parameters out of range")
        if not 0 <= self.burst_probability <= 1 or self.burst_slot <= 0:
            raise ValueError("burst parameters out of range")

    def scaled(self, factor: float) -> RateProcess:
        """The same shape of traffic with ``factor`` times as many traces."""
        return RateProcess(
            self.base * factor,
            self.diurnal_amplitude,
            self.peak_hour,
            self.weekend_factor,
            self.burst_probability,
            self.burst_slot,
            self.burst_multiplier,
            self.burst_seconds,
        )

    def cycle(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """The base rate with the diurnal and weekly cycles, without bursts."""
        phase = 2.0 * math.pi * (t / DAY - self.peak_hour / 24.0)
        diurnal = 1.0 + self.diurnal_amplitude * np.cos(phase)
        weekday = np.floor(t / DAY) % 7
        weekly = np.where(weekday >= 5, self.weekend_factor, 1.0)
        out: NDArray[np.float64] = self.base * diurnal * weekly
        return out


@dataclass(frozen=True, slots=True)
class Burst:
    start: float
    end: float
    multiplier: float


class RateCurve:
    """A :class:`RateProcess` bound to a seed: the exact rate and arrivals for any window."""

    __slots__ = ("_bursts", "_stream", "process")

    def __init__(self, process: RateProcess, family: RngFamily) -> None:
        self.process = process
        self._stream = family.stream("rate/burst")
        self._bursts: dict[int, Burst | None] = {}

    def burst(self, slot: int) -> Burst | None:
        """The burst in a slot of virtual time, if any (a pure function of the seed)."""
        if slot in self._bursts:
            return self._bursts[slot]
        p = self.process
        u = self._stream.at(slot).random(4)
        found = None
        if u[0] < p.burst_probability:
            length = min(p.burst_slot, p.burst_seconds[0] + u[1] * np.ptp(p.burst_seconds))
            start = slot * p.burst_slot + u[2] * (p.burst_slot - length)
            mult = p.burst_multiplier[0] + u[3] * np.ptp(p.burst_multiplier)
            found = Burst(float(start), float(start + length), float(mult))
        self._bursts[slot] = found
        return found

    def rate_at(self, t: float) -> float:
        """Traces per second at instant ``t`` (scalar path of :meth:`rate`)."""
        p = self.process
        r = p.base * (
            1.0 + p.diurnal_amplitude * math.cos(2.0 * math.pi * (t / DAY - p.peak_hour / 24.0))
        )
        if (t // DAY) % 7 >= 5:
            r *= p.weekend_factor
        if p.burst_probability > 0:
            b = self.burst(math.floor(t / p.burst_slot))
            if b is not None and b.start <= t < b.end:
                r *= b.multiplier
        return r

    def rate(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Traces per second at each instant of ``t``."""
        t = np.asarray(t, dtype=np.float64)
        if t.size <= _SCALAR_POINTS:
            return np.array([self.rate_at(x) for x in t.tolist()], dtype=np.float64)
        out = self.process.cycle(t)
        if self.process.burst_probability <= 0:
            return out
        slots = np.floor(t / self.process.burst_slot).astype(np.int64)
        for slot in np.unique(slots).tolist():
            b = self.burst(slot)
            if b is not None:
                inside = (t >= b.start) & (t < b.end)
                out = np.where(inside, out * b.multiplier, out)
        return out

    def _grid(self, t0: float, t1: float) -> tuple[NDArray[np.float64], float]:
        points = min(_MAX_POINTS, max(1, math.ceil((t1 - t0) / _RESOLUTION)))
        width = (t1 - t0) / points
        mids = t0 + width * (np.arange(points, dtype=np.float64) + 0.5)
        return self.rate(mids), width

    def expected(self, t0: float, t1: float) -> float:
        """Expected traces in [t0, t1) (midpoint rule, one point per minute)."""
        if t1 <= t0:
            return 0.0
        rates, width = self._grid(t0, t1)
        return float(rates.sum() * width)

    def arrivals(
        self, t0: float, t1: float, rng: np.random.Generator, scale: float = 1.0
    ) -> NDArray[np.float64]:
        """Sorted arrival times in [t0, t1): a Poisson count, placed by the rate's density."""
        if t1 <= t0:
            return np.empty(0, dtype=np.float64)
        if t1 - t0 <= _RESOLUTION:  # one grid point: no numpy in the common case
            total = self.rate_at(0.5 * (t0 + t1)) * (t1 - t0) * scale
            n = int(rng.poisson(total)) if total > 0 else 0
            times = t0 + (t1 - t0) * rng.random(n)
            times.sort()
            return np.minimum(times, np.nextafter(t1, t0))
        rates, width = self._grid(t0, t1)
        total = float(rates.sum() * width) * scale
        n = int(rng.poisson(total)) if total > 0 else 0
        if n == 0:
            return np.empty(0, dtype=np.float64)
        cells = rng.choice(rates.size, size=n, p=rates / rates.sum()) if rates.size > 1 else 0
        times = t0 + width * (cells + rng.random(n))
        times.sort()
        out: NDArray[np.float64] = np.minimum(times, np.nextafter(t1, t0))
        return out
