"""How report numbers are written: one spelling for every format (text, Markdown, HTML).

Renderers never format a figure themselves; they call these, so the same figure reads the
same everywhere (tests compare the formats on exactly these strings).
"""

from __future__ import annotations

import math

__all__ = ["count", "per_second", "percent", "probability", "seconds"]

DASH = "-"


def count(value: float | None) -> str:
    """A trace or event count: whole numbers as integers, expected values with 2 decimals."""
    if value is None or not math.isfinite(value):
        return DASH
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.2f}"


def per_second(value: float | None) -> str:
    """A rate in events (or traces) per second, 3 significant digits (at least 0.001)."""
    if value is None or not math.isfinite(value):
        return DASH
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) >= 0.001 else f"{value:.1e}"


def percent(value: float | None) -> str:
    """A share or rate as a percentage; tiny non-zero shares are never shown as 0%."""
    if value is None or not math.isfinite(value):
        return DASH
    pct = value * 100
    if pct == 0 or pct == 100:
        return f"{pct:.0f}%"
    if abs(pct) < 0.01:
        return "<0.01%" if pct > 0 else "-<0.01%"
    if abs(pct) < 10:
        return f"{pct:.2f}%"
    if 99.9 < pct < 100:
        return ">99.9%"
    return f"{pct:.1f}%"


def probability(value: float | None) -> str:
    """A keep probability: 1, 0, 1/N when exact, else a percentage."""
    if value is None or not math.isfinite(value):
        return "adaptive"
    if value in (0.0, 1.0):
        return str(int(value))
    inverse = 1 / value
    if abs(inverse - round(inverse)) < 1e-9 * inverse:
        return f"1/{round(inverse)}"
    return percent(value)


def seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:.3g} s"


def signed(value: float | None, fmt: str = "rate") -> str:
    """A change: ``+1.2`` / ``-0.5`` (``0`` unsigned)."""
    if value is None or not math.isfinite(value):
        return DASH
    text = per_second(abs(value)) if fmt == "rate" else count(abs(value))
    if text == "0":
        return "0"
    return ("+" if value > 0 else "-") + text
