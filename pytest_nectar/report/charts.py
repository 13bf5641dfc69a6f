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
The time line has one panel per capture (see :class:`~.document.RateTimeline`); the diff's
charts put OLD and NEW on the same axes.
"""

from __future__ import annotations

import io
import itertools
from typing import TYPE_CHECKING, Any, Final

from pytest_nectar.report import numbers as n
from pytest_nectar.report.document import DiffReport, ExplainReport, RateTimeline

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MAX_BARS", "charts", "diff_charts", "fold_bars"]

#: Bars per chart; the rest are folded into one "N others" bar.
MAX_BARS: Final = 25
_RC: Final[dict[str, Any]] = {
    "svg.hashsalt": "nectar",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "text.usetex": False,
    "axes.formatter.use_mathtext": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_INCOMING: Final = "#8c8c8c"
_KEPT: Final = "#d08c00"
_OLD: Final = "#4a78b5"
_BUDGET: Final = "#c0392b"


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _plain_ticks(ax: Axes) -> None:
    """Tick labels as plain numbers on every axis, log or linear (no math text)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter, ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.15g}"))
            axis.set_minor_formatter(NullFormatter())
        else:
            plain = ScalarFormatter(useOffset=False, useMathText=False)
            plain.set_scientific(False)
            axis.set_major_formatter(plain)


def _timeline_figure(
    line: RateTimeline, kept: list[tuple[str, str, tuple[float, ...]]], budget: float | None
) -> str:
    """One panel per capture (side by side, one y axis): incoming and each kept series."""
    from matplotlib.figure import Figure

    bounds = [*line.captures, len(line.starts)]
    spans = list(itertools.pairwise(bounds))
    fig = Figure(figsize=(8, 3))
    widths = [max(b - a, 1) for a, b in spans]
    axes = fig.subplots(1, len(spans), sharey=True, squeeze=False, width_ratios=widths)[0]
    top = max([*line.incoming_per_s, *(v for _, _, series in kept for v in series), 1e-9])
    for k, ((a, b), ax) in enumerate(zip(spans, axes, strict=True)):
        origin = line.starts[a]
        x = [s - origin + line.bin_s / 2 for s in line.starts[a:b]]
        ax.plot(x, line.incoming_per_s[a:b], color=_INCOMING, label="incoming events/s",
                drawstyle="steps-mid")  # fmt: skip
        for label, colour, series in kept:
            ax.plot(x, series[a:b], color=colour, label=label, drawstyle="steps-mid")
        if budget:
            ax.axhline(
                budget, color=_BUDGET, linestyle="--", label=f"budget {budget:,.10g} events/s"
            )
            if budget > 10 * top:
                ax.set_yscale("log")  # keep the traffic readable under a far-away budget
        _plain_ticks(ax)
        if len(spans) > 1:
            ax.set_title(f"capture {k + 1}: from +{n.seconds(origin)}", fontsize=8)
        if k:
            ax.spines.left.set_visible(False)
            ax.tick_params(axis="y", left=False)
        ax.set_gid(f"nectar-timeline-{k + 1}" if k else "nectar-timeline")
    axes[0].set_ylabel("events per second")
    what = "seconds from the corpus start"
    if len(spans) > 1:
        what = "seconds from each capture's start"
    fig.supxlabel(f"{what} (bins of {line.bin_s:g} s)", fontsize=9, y=-0.04)
    # Beside the plot, not on it: the budget line runs along the top.
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=7)
    return _svg(fig)


def _timeline(report: ExplainReport) -> str | None:
    line = report.timeline
    if line is None:
        return None
    budget = report.budget.budget_per_second if report.budget else None
    return _timeline_figure(line, [("expected kept events/s", _KEPT, line.kept_per_s)], budget)


def fold_bars(
    labels: list[str], values: list[float], weights: list[tuple[float, float]] | None = None
) -> tuple[list[str], list[float]]:
    """At most ``MAX_BARS`` bars, the rest folded into one "N others" bar.

    ``weights``: per bar (kept, incoming), when the values are rates: "others" is then their
    combined rate (five services at 1% are 1%, not 5%) and its label says so, with the
    range; without it the values are shares of one whole, and "others" is their sum.
    """
    if len(labels) <= MAX_BARS:
        return labels, values
    cut = MAX_BARS - 1
    label = f"{len(labels) - cut} others"
    if weights is not None:
        kept = sum(k for k, _ in weights[cut:])
        incoming = sum(i for _, i in weights[cut:])
        rest = kept / incoming if incoming else 0.0
        low, high = min(values[cut:]), max(values[cut:])
        if low != high:
            label += f" (combined rate; each {n.percent(low)}-{n.percent(high)})"
    else:
        rest = sum(values[cut:])
    return [*labels[:cut], label], [*values[:cut], rest]


def _bars(
    labels: list[str],
    series: list[tuple[str, str, list[float]]],
    xlabel: str,
    gid: str,
    percent: bool,
) -> str:
    """Horizontal bars, one group per label and one bar per series (OLD and NEW overlaid)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 0.6 + 0.3 * len(labels) * max(1, len(series) * 0.7)))
    ax = fig.add_subplot()
    height = 0.8 / len(series)
    for k, (name, colour, values) in enumerate(series):
        shown = [v * 100 for v in values] if percent else values
        positions = [i - 0.4 + height * (k + 0.5) for i in range(len(labels))]
        ax.barh(positions, shown, height=height, color=colour, label=name or None)
    _plain_ticks(ax)  # before the names: they are the y axis's own labels
    ax.set_yticks(list(range(len(labels))), [label[:60] for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if percent:
        ax.set_xlim(0, 100)
    if len(series) > 1:
        ax.legend(loc="lower right", frameon=False)
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
            labels, values = fold_bars(
                [r.name for r in rules], [r.share_of_kept_events or 0.0 for r in rules]
            )
            out["rules"] = _bars(
                labels, [("", _KEPT, values)], "share of expected kept events (%)",
                "nectar-rule-share", True,
            )  # fmt: skip
        services = [s for s in report.services if s.effective_rate is not None]
        if services:
            labels, values = fold_bars(
                [s.service for s in services],
                [s.effective_rate or 0.0 for s in services],
                [(s.kept_events, s.weighted_events) for s in services],
            )
            out["services"] = _bars(
                labels, [("", _KEPT, values)],
                "effective sample rate: expected kept / incoming events (%)",
                "nectar-service-rates", True,
            )  # fmt: skip
    return out


def diff_charts(report: DiffReport) -> dict[str, str]:
    """OLD and NEW on the same axes: the kept time line, kept events/s per rule, the rate per
    service (the services that change most first)."""
    import matplotlib

    old, new = report.old_report, report.new_report
    out: dict[str, str] = {}
    if old is None or new is None:
        return out
    with matplotlib.rc_context(_RC):  # type: ignore[arg-type]  # keys are checked at runtime
        line, old_line = new.timeline, old.timeline
        if line is not None and old_line is not None and old_line.starts == line.starts:
            budget = new.budget.budget_per_second if new.budget else None
            out["timeline"] = _timeline_figure(
                line,
                [("OLD expected kept events/s", _OLD, old_line.kept_per_s),
                 ("NEW expected kept events/s", _KEPT, line.kept_per_s)],
                budget,
            )  # fmt: skip
        rules = [d for d in report.rules if d.change_per_s is not None][:MAX_BARS]
        if rules:
            out["rules"] = _bars(
                [d.rule for d in rules],
                [("OLD", _OLD, [d.old_kept_events_per_s or 0.0 for d in rules]),
                 ("NEW", _KEPT, [d.new_kept_events_per_s or 0.0 for d in rules])],
                "expected kept events per second", "nectar-diff-rules", False,
            )  # fmt: skip
        services = [
            d for d in report.services
            if d.old_effective_rate is not None or d.new_effective_rate is not None
        ][:MAX_BARS]  # fmt: skip
        if services:
            out["services"] = _bars(
                [d.service for d in services],
                [("OLD", _OLD, [d.old_effective_rate or 0.0 for d in services]),
                 ("NEW", _KEPT, [d.new_effective_rate or 0.0 for d in services])],
                "effective sample rate: expected kept / incoming events (%)",
                "nectar-diff-services", True,
            )  # fmt: skip
    return out
