"""Charts for the HTML report, drawn by matplotlib as inline SVG.

Why matplotlib: it is the most widely kept Python plotting library, renders SVG without a
browser or JavaScript runtime (the HTML stays one self-contained, script-free-by-need
file), and is deterministic when told so (fixed hash salt, no date metadata).  It is an
optional dependency (extra ``report``), imported only when an HTML report is written.

Labels come from corpus values and rule names, which are untrusted: math text is off (a
``$`` is just a dollar) and matplotlib escapes text in the SVG it writes.  Tick labels are
plain text too (``10000``, not matplotlib's math-text ``10^{4}``, which would print raw with
math text off).  A bar chart with too many bars folds the rest into one "N others" bar:
shares add up, rates are the others' combined rate (kept / incoming), never a sum of rates.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Final

from pytest_nectar.report.document import ExplainReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MAX_BARS", "charts", "fold_bars"]

#: Bars per chart; the rest are folded into one "N others" bar.
MAX_BARS: Final = 25
_RC: Final[dict[str, Any]] = {
    "svg.hashsalt": "nectar",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_INCOMING: Final = "#8c8c8c"
_KEPT: Final = "#d08c00"
_BUDGET: Final = "#c0392b"


def _plain_ticks(ax: Any) -> None:
    """Tick labels as plain numbers on every axis, log or linear (no math text)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        else:
            plain = ScalarFormatter(useOffset=False, useMathText=False)
            plain.set_scientific(False)
            axis.set_major_formatter(plain)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _timeline(report: ExplainReport) -> str | None:
    from matplotlib.figure import Figure

    line = report.timeline
    if line is None:
        return None
    fig = Figure(figsize=(8, 3))
    ax = fig.add_subplot()
    x = [s + line.bin_s / 2 for s in line.starts]
    ax.plot(
        x, line.incoming_per_s, color=_INCOMING, label="incoming events/s", drawstyle="steps-mid"
    )
    ax.plot(x, line.kept_per_s, color=_KEPT, label="expected kept events/s", drawstyle="steps-mid")
    budget = report.budget.budget_per_second if report.budget else None
    top = max([*line.incoming_per_s, *line.kept_per_s, 1e-9])
    if budget:
        ax.axhline(budget, color=_BUDGET, linestyle="--", label=f"budget {budget:g} events/s")
        if budget > 10 * top:
            ax.set_yscale("log")  # keep the traffic readable under a far-away budget
    _plain_ticks(ax)
    ax.set_xlabel(f"seconds from the corpus start (bins of {line.bin_s:g} s)")
    ax.set_ylabel("events per second")
    ax.legend(loc="upper right", frameon=False)
    ax.set_gid("nectar-timeline")
    return _svg(fig)


def fold_bars(
    labels: list[str], values: list[float], weights: list[tuple[float, float]] | None = None
) -> tuple[list[str], list[float]]:
    """At most ``MAX_BARS`` bars, the rest folded into one "N others" bar.

    ``weights``: per bar (kept, incoming), when the values are rates: "others" is then their
    combined rate (five services at 1% are 1%, not 5%); without it the values are shares of
    one whole, and "others" is their sum.
    """
    if len(labels) <= MAX_BARS:
        return labels, values
    cut = MAX_BARS - 1
    if weights is not None:
        kept = sum(k for k, _ in weights[cut:])
        incoming = sum(i for _, i in weights[cut:])
        rest = kept / incoming if incoming else 0.0
    else:
        rest = sum(values[cut:])
    return [*labels[:cut], f"{len(labels) - cut} others"], [*values[:cut], rest]


def _bars(
    labels: list[str],
    values: list[float],
    xlabel: str,
    gid: str,
    percent: bool,
    weights: list[tuple[float, float]] | None = None,
) -> str:
    from matplotlib.figure import Figure

    labels, values = fold_bars(labels, values, weights)
    fig = Figure(figsize=(8, 0.6 + 0.3 * len(labels)))
    ax = fig.add_subplot()
    shown = [v * 100 for v in values] if percent else values
    positions = list(range(len(labels)))
    ax.barh(positions, shown, color=_KEPT)
    ax.set_yticks(positions, [label[:60] for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if percent:
        ax.set_xlim(0, 100)
    _plain_ticks(ax)
    ax.set_gid(gid)
    return _svg(fig)


def charts(report: ExplainReport) -> dict[str, str]:
    """Chart id -> inline SVG, for the charts this report has data for."""
    import matplotlib

    out: dict[str, str] = {}
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys are checked at runtime
        timeline = _timeline(report)
        if timeline is not None:
            out["timeline"] = timeline
        rules = [r for r in report.rules if r.share_of_kept_events is not None]
        if rules:
            out["rules"] = _bars(
                [r.name for r in rules],
                [r.share_of_kept_events or 0.0 for r in rules],
                "share of expected kept events (%)",
                "nectar-rule-share",
                True,
            )
        services = [s for s in report.services if s.effective_rate is not None]
        if services:
            out["services"] = _bars(
                [s.service for s in services],
                [s.effective_rate or 0.0 for s in services],
                "effective sample rate: expected kept / incoming events (%)",
                "nectar-service-rates",
                True,
                weights=[(s.kept_events, s.weighted_events) for s in services],
            )
    return out
