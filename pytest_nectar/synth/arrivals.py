"""When the traces of a synthetic corpus start: a time profile over a duration.

``steady`` is a constant rate, ``diurnal`` follows the day (peak at 14:00 UTC, trough at
02:00), ``bursts`` multiplies the rate by 3 to 6 during seeded stretches of time.  Arrivals
are whole microseconds after the start: a fixed count placed by the profile's density, or the
number a rate gives over the duration.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from pytest_nectar.vopr.rng import RngFamily

__all__ = ["DAY", "PROFILES", "arrival_times"]

PROFILES: Final = ("steady", "diurnal", "bursts")
DAY: Final = 86400.0


def _rate_shape(
    profile: str, cells: NDArray[np.float64], start_s: float, duration: float, family: RngFamily
) -> NDArray[np.float64]:
    """Relative rate at the cells' midpoints (seconds since the start)."""
    if profile == "steady":
        return np.ones_like(cells)
    if profile == "diurnal":  # peak at 14:00 UTC, trough at 02:00
        hour = ((start_s + cells) % DAY) / 3600.0
        return 1.0 + 0.6 * np.cos(2.0 * math.pi * (hour - 14.0) / 24.0)
    slot = max(1.0, min(600.0, duration / 6.0))
    rng = family.generator(0, "bursts")
    slots = math.ceil(duration / slot)
    draws = rng.random((slots, 4))
    shape = np.ones_like(cells)
    for i, (hit, length, where, mult) in enumerate(draws.tolist()):
        if hit >= 0.4:
            continue
        width = slot * (0.1 + 0.3 * length)
        begin = i * slot + (slot - width) * where
        inside = (cells >= begin) & (cells < begin + width)
        shape = np.where(inside, shape * (3.0 + 3.0 * mult), shape)
    return shape


def arrival_times(
    profile: str,
    rate: float,
    duration: float,
    count: int | None,
    family: RngFamily,
    start_s: float = 0.0,
) -> NDArray[np.int64]:
    """Sorted arrival offsets in microseconds: ``count`` of them, or the number ``rate``
    traces/s gives (randomly rounded), placed by the profile's density over ``duration``."""
    cells = max(1, min(100_000, math.ceil(duration)))
    width = duration / cells
    mids = width * (np.arange(cells, dtype=np.float64) + 0.5)
    shape = _rate_shape(profile, mids, start_s, duration, family)
    rng = family.generator(0, "arrivals")
    if count is None:  # the expected number, rounded up or down at random
        expected = float(rate * width * shape.sum())
        count = math.floor(expected + float(rng.random())) if expected > 0 else 0
    if count == 0:
        return np.empty(0, dtype=np.int64)
    # Cells by the profile's density, from uniform draws and plain arithmetic (what
    # Generator.choice does, written out so no distribution algorithm of numpy's is involved).
    cdf = (shape / shape.sum()).cumsum()
    cdf /= cdf[-1]
    where: NDArray[np.intp] = cdf.searchsorted(rng.random(count), side="right")
    times = (where + rng.random(count)) * width
    micros: NDArray[np.int64] = np.minimum(
        np.floor(times * 1e6).astype(np.int64), int(duration * 1e6) - 1
    )
    micros.sort(kind="stable")
    return micros
