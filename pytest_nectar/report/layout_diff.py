"""The diff report as neutral blocks: lost error and must-keep traces first and loudest."""

from __future__ import annotations

from pytest_nectar.escape import code
from pytest_nectar.report import numbers as n
from pytest_nectar.report.document import DiffReport
from pytest_nectar.report.layout import Block, Bullets, Heading, Para, Table, missing_blocks

__all__ = ["diff_blocks", "diff_summary"]


def diff_summary(report: DiffReport) -> str:
    """One line for a commit message or a PR body."""
    parts = []
    if report.lost_proofs:
        parts.append("LOSES " + ", ".join(p.property for p in report.lost_proofs))
    if report.lost:
        errors = sum("error" in t.kinds for t in report.lost)
        musts = sum("must-keep" in t.kinds for t in report.lost)
        parts.append(
            f"NO LONGER KEEPS {len(report.lost)} trace(s) it kept for sure "
            f"({errors} error, {musts} must-keep)"
        )
    if report.corpus is None:
        parts.append("no corpus given: decisions not compared")
    else:
        parts.append(f"{n.count(report.changed_traces)} corpus trace(s) change decision")
    if report.old_kept_events_per_s is not None and report.new_kept_events_per_s is not None:
        parts.append(
            f"kept events/s {n.per_second(report.old_kept_events_per_s)} → "
            f"{n.per_second(report.new_kept_events_per_s)}"
        )
    return "; ".join(parts)


def _lost_proofs(report: DiffReport) -> list[Block]:
    if not report.lost_proofs:
        return []
    rows = tuple(
        (p.property, p.old_verdict, p.new_verdict, p.witness or n.DASH, p.summary)
        for p in report.lost_proofs
    )
    return [
        Heading(3, f"{len(report.lost_proofs)} all-traces proof(s) NEW no longer passes"),
        Para("OLD was proven for every possible trace; NEW has a counterexample.", "alert"),
        Table(
            ("property", "OLD", "NEW", "counterexample", "NEW summary"),
            rows,
            (False, False, False, False, False),
            0,
            ("alert",) * len(rows),
        ),
    ]


def _lost(report: DiffReport, limit: int | None) -> list[Block]:
    if not report.lost:
        if report.missing and not report.rules:
            return []
        if report.lost_proofs:
            return [Para("No corpus error or must-keep trace loses its sure keep.", "ok")]
        return [Para("No error or must-keep trace loses its sure keep.", "ok")]
    shown = report.lost if limit is None else report.lost[:limit]
    rows = tuple(
        (
            t.trace_id,
            ", ".join(t.kinds),
            t.old_rule or n.DASH,
            n.probability(t.old_keep_probability),
            t.new_rule or n.DASH,
            n.probability(t.new_keep_probability),
        )
        for t in shown
    )
    return [
        Heading(3, f"{len(report.lost)} error or must-keep trace(s) NEW would no longer keep"),
        Para(
            "OLD kept these traces with probability 1; NEW keeps them with the probability "
            "shown (0: dropped).",
            "alert",
        ),
        Table(
            ("trace id", "kind", "OLD rule", "OLD p", "NEW rule", "NEW p"),
            rows,
            (False, False, False, True, False, True),
            len(report.lost) - len(shown),
            ("alert",) * len(rows),
        ),
    ]


def diff_blocks(report: DiffReport, *, limit: int | None = None) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"Nectar diff: {report.old} → {report.new}")]
    blocks += _lost_proofs(report)
    blocks += _lost(report, limit)
    blocks.append(
        Bullets(
            (
                f"corpus {code(report.corpus)}" if report.corpus else "no corpus",
                diff_summary(report),
            )
        )
    )
    blocks += missing_blocks(report.missing)
    if report.changed_examples:
        shown = report.changed_examples if limit is None else report.changed_examples[:limit]
        changed_rows = tuple(
            (tid, o or n.DASH, nw or n.DASH, n.probability(po), n.probability(pn))
            for tid, o, nw, po, pn in shown
        )
        blocks += [
            Heading(3, f"Traces that change decision ({n.count(report.changed_traces)})"),
            Table(
                ("trace id", "OLD rule", "NEW rule", "OLD p", "NEW p"),
                changed_rows,
                (False, False, False, True, True),
                report.changed_traces - len(changed_rows),
            ),
        ]
    if report.rules:
        rule_rows = tuple(
            (d.rule, n.per_second(d.old_kept_events_per_s), n.per_second(d.new_kept_events_per_s),
             n.signed(d.change_per_s))
            for d in report.rules
        )  # fmt: skip
        omitted = 0
        if limit is not None and len(rule_rows) > limit:
            omitted, rule_rows = len(rule_rows) - limit, rule_rows[:limit]
        blocks += [
            Heading(3, "Kept events/s per rule"),
            Table(("rule", "OLD", "NEW", "change"), rule_rows, (False, True, True, True), omitted),
        ]
    if report.services:
        rows = tuple(
            (d.service, n.percent(d.old_effective_rate), n.percent(d.new_effective_rate),
             n.signed(d.change_per_s))
            for d in report.services
        )  # fmt: skip
        omitted = 0
        if limit is not None and len(rows) > limit:
            omitted, rows = len(rows) - limit, rows[:limit]
        tones = tuple(
            "alert" if d.new_kept_events == 0 and d.old_kept_events > 0 else ""
            for d in report.services[: len(rows)]
        )
        blocks += [
            Heading(3, "Per service"),
            Table(
                ("service", "OLD rate", "NEW rate", "kept events/s change"),
                rows,
                (False, True, True, True),
                omitted,
                tones,
            ),
        ]
    return blocks
