"""Reports laid out once as neutral blocks (headings, paragraphs, lists, tables) of text.

Text, Markdown and HTML render these blocks, so they show the same sections, the same rows
and the same formatted numbers (:mod:`.numbers`); only the HTML adds charts.  ``limit``
caps list and table lengths (the rest is counted in an "and N more" line), which keeps the
Markdown under GitHub's comment and step-summary limits whatever the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_nectar.escape import code
from pytest_nectar.report import numbers as n
from pytest_nectar.report.document import ExplainReport, Missing

__all__ = ["Block", "Bullets", "Heading", "Para", "Table", "explain_blocks", "missing_blocks"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    tone: str = ""  # "", "alert", "warn", "ok"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]
    tone: str = ""
    omitted: int = 0


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...] = ()
    omitted: int = 0
    tones: tuple[str, ...] = field(default=())  # per row


Block = Heading | Para | Bullets | Table


def _cap(items: list[str], limit: int | None, tone: str = "") -> Bullets:
    if limit is not None and len(items) > limit:
        return Bullets(tuple(items[:limit]), tone, len(items) - limit)
    return Bullets(tuple(items), tone)


def missing_blocks(missing: tuple[Missing, ...]) -> list[Block]:
    if not missing:
        return []
    items = [f"{m.what}: {m.why}" for m in missing]
    return [Heading(3, "Not computed or left out"), Bullets(tuple(items), "warn")]


def _overview(report: ExplainReport) -> list[Block]:
    out: list[Block] = []
    t, b = report.totals, report.budget
    facts = [
        f"{report.kind} {code(report.source)}, environment {code(report.environment)}",
        f"corpus {code(report.corpus)}" if report.corpus else "no corpus",
    ]
    if report.error is not None and report.error_from is not None:
        facts.append(f"error traces: `{report.error}` (from {report.error_from})")
    if t is not None:
        facts.append(
            f"{n.count(t.traces)} traces, {n.count(t.events)} events over "
            f"{n.seconds(t.duration_s)}; expected kept: {n.count(t.kept_traces)} traces, "
            f"{n.count(t.kept_events)} events "
            f"({n.percent(_share(t.kept_events, t.weighted_events))} of incoming events)"
        )
    out.append(Bullets(tuple(facts)))
    if b is not None:
        budget = n.per_second(b.budget_per_second) if b.budget_per_second else "none set"
        tone = "" if b.within is None else ("ok" if b.within else "alert")
        verdict = {None: "", True: " - within budget", False: " - OVER BUDGET"}[b.within]
        out.append(
            Para(
                f"Kept events/s: mean {n.per_second(b.mean_events_per_s)}, peak "
                f"{n.per_second(b.peak_events_per_s)} (window {n.seconds(b.window_s)} from "
                f"{n.seconds(b.peak_window_start_s)}); budget {budget}{verdict}. Kept traces/s: "
                f"{n.per_second(b.kept_traces_per_s)}; incoming events/s: "
                f"{n.per_second(b.incoming_events_per_s)}.",
                tone,
            )
        )
    if t is not None and t.error_traces is not None:
        tone = "alert" if t.error_traces_at_risk else "ok"
        out.append(
            Para(
                f"Error traces: {n.count(t.error_traces)}, expected kept "
                f"{n.percent(t.error_share_kept)}; {n.count(t.error_traces_at_risk)} kept with "
                f"probability below 1. Must-keep traces: {n.count(t.must_keep_traces)}, "
                f"{n.percent(t.must_keep_coverage)} kept for sure.",
                tone,
            )
        )
    return out


def _share(part: float | None, whole: float | None) -> float | None:
    if part is None or not whole:
        return None
    return part / whole


def _rules(report: ExplainReport, limit: int | None) -> list[Block]:
    out: list[Block] = [
        Heading(3, "Rules, in evaluation order (first match decides)"),
    ]
    rows, tones = [], []
    for r in report.rules:
        flags = [w for w, on in (("unreachable", r.unreachable), ("shadowed", r.shadowed)) if on]
        rows.append(
            (
                str(r.order),
                r.name + (f" ({', '.join(flags)})" if flags else ""),
                r.meaning,
                r.action,
                n.probability(r.effective_rate),
                n.count(r.traces),
                n.count(r.events),
                n.count(r.kept_events),
                n.per_second(r.kept_events_per_s),
                n.percent(r.share_of_kept_events),
                ", ".join(r.examples) or n.DASH,
            )
        )
        tones.append("warn" if flags else "")
    headers = ("#", "rule", "meaning", "action", "rate", "traces", "events", "kept events",
               "kept ev/s", "share of kept", "examples")  # fmt: skip
    numeric = (True, False, False, False, True, True, True, True, True, True, False)
    omitted = 0
    if limit is not None and len(rows) > limit:
        omitted, rows, tones = len(rows) - limit, rows[:limit], tones[:limit]
    out.append(Table(headers, tuple(rows), numeric, omitted, tuple(tones)))
    return out


def _services(report: ExplainReport, limit: int | None) -> list[Block]:
    if not report.services:
        return []
    out: list[Block] = [Heading(3, "Services")]
    if report.services_losing_all:
        out.append(
            _cap(
                [f"{code(s)} loses all its traces" for s in report.services_losing_all],
                limit,
                "alert",
            )
        )
    rows = [
        (s.service, n.count(s.traces), n.count(s.events), n.per_second(s.events_in_per_s),
         n.count(s.kept_events), n.per_second(s.events_out_per_s), n.percent(s.effective_rate))
        for s in report.services
    ]  # fmt: skip
    omitted = 0
    if limit is not None and len(rows) > limit:
        omitted, rows = len(rows) - limit, rows[:limit]
    headers = ("service", "traces", "events in", "in ev/s", "kept events", "out ev/s", "rate")
    tones = tuple("alert" if s.loses_all else "" for s in report.services[: len(rows)])
    out.append(Table(headers, tuple(rows), (False,) + (True,) * 6, omitted, tones))
    return out


def _findings(report: ExplainReport, limit: int | None) -> list[Block]:
    out: list[Block] = []
    if report.verdicts:
        out.append(Heading(3, "Prover verdicts"))
        rows = [(v.verdict.upper(), v.id, v.summary) for v in report.verdicts]
        tones = tuple(
            {"fail": "alert", "warn": "warn", "pass": "ok"}.get(v.verdict, "")
            for v in report.verdicts
        )
        out.append(Table(("verdict", "property", "summary"), tuple(rows), (), 0, tones))
    items = [f"unreachable on the corpus: {code(r)}" for r in report.unreachable]
    items += [f"shadowed for every possible trace: {code(r)}" for r in report.shadowed]
    items += [f"type hazard: {h}" for h in report.hazards]
    if items:
        out += [Heading(3, "Findings"), _cap(items, limit, "warn")]
    if report.notes:
        out += [Heading(3, "Notes"), _cap(list(report.notes), limit)]
    return out


def explain_blocks(report: ExplainReport, *, limit: int | None = None) -> list[Block]:
    """The explain report as blocks (the first is its title)."""
    blocks: list[Block] = [Heading(2, f"Nectar report: {report.title}")]
    blocks += _overview(report)
    blocks += missing_blocks(report.missing)
    blocks += _rules(report, limit)
    blocks += _services(report, limit)
    blocks += _findings(report, limit)
    return blocks
