"""Charts for the HTML report, drawn by matplotlib as inline SVG.

Why matplotlib: it is the most widely kept Python plotting library, renders SVG without a
browser or JavaScript runtime (the HTML stays one self-contained, script-free-by-need
file), and is deterministic when told so (fixed hash salt, no date metadata).  It is an
optional dependency (extra ``report``), imported only when an HTML report is written.

Labels come from corpus values and rule names, which are untrusted: math text is off (a
``$`` is just a dollar) and matplotlib escapes text in the SVG it writes.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Final

from pytest_nectar.report.document import ExplainReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MAX_BARS", "charts"]

#: Bars per chart; the rest are summed into one "other" bar.
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
    ax.set_xlabel(f"seconds from the corpus start (bins of {line.bin_s:g} s)")
    ax.set_ylabel("events per second")
    ax.legend(loc="upper right", frameon=False)
    ax.set_gid("nectar-timeline")
    return _svg(fig)


def _bars(labels: list[str], values: list[float], xlabel: str, gid: str, percent: bool) -> str:
    from matplotlib.figure import Figure

    if len(labels) > MAX_BARS:
        rest = sum(values[MAX_BARS - 1 :])
        labels = [*labels[: MAX_BARS - 1], f"{len(labels) - MAX_BARS + 1} others"]
        values = [*values[: MAX_BARS - 1], rest]
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
            )
    return out
