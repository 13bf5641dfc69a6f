"""The diff report as neutral blocks, in the order a reviewer decides from: verdicts that
change (corpus and all traces), the policy's text OLD vs NEW, decision changes grouped by
(OLD rule -> NEW rule), then the error and must-keep traces lost and the details."""

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


def _verdicts(report: DiffReport) -> list[Block]:
    if not report.verdicts:
        return []
    changed = [v for v in report.verdicts if v.changed]
    rows = tuple(
        (v.property, v.scope, v.old_verdict or n.DASH, v.new_verdict or n.DASH,
         "changed" if v.changed else "same", v.new_summary)
        for v in report.verdicts
    )  # fmt: skip
    tones = tuple(
        ("alert" if v.new_verdict == "fail" else "warn") if v.changed else ""
        for v in report.verdicts
    )
    title = f"Verdicts: {len(changed)} of {len(report.verdicts)} change"
    return [
        Heading(3, title),
        Table(("property", "scope", "OLD", "NEW", "", "NEW summary"), rows,
              (False,) * 6, 0, tones),
    ]  # fmt: skip


def _policy_text(report: DiffReport, limit: int | None) -> list[Block]:
    if not report.policy_diff:
        return []
    lines = report.policy_diff
    shown = lines if limit is None else lines[: max(limit * 2, 10)]
    rows = tuple(
        ("≠" if p.changed else "", n.DASH if p.old_line is None else str(p.old_line), p.old_text,
         n.DASH if p.new_line is None else str(p.new_line), p.new_text)
        for p in shown
    )  # fmt: skip
    changed = sum(p.changed for p in lines)
    return [
        Heading(3, f"Policy text: {changed} line(s) differ"),
        Table(("", "OLD line", "OLD", "NEW line", "NEW"), rows, (False, True, False, True, False),
              len(lines) - len(shown), tuple("warn" if p.changed else "" for p in shown)),
    ]  # fmt: skip


def _range(pair: tuple[float, float]) -> str:
    low, high = pair
    if low == high:
        return n.probability(low)
    return f"{n.probability(low)}..{n.probability(high)}"


def _groups(report: DiffReport, limit: int | None) -> list[Block]:
    groups = report.decision_groups
    if not groups:
        return []
    shown = groups if limit is None else groups[:limit]
    rows = tuple(
        (f"{g.old_rule or n.DASH} → {g.new_rule or n.DASH}", n.count(g.traces),
         f"{_range(g.old_keep_probability)} → {_range(g.new_keep_probability)}",
         n.per_second(g.old_kept_events_per_s), n.per_second(g.new_kept_events_per_s),
         ", ".join(g.examples))
        for g in shown
    )  # fmt: skip
    return [
        Heading(3, f"Decision changes: {n.count(report.changed_traces)} trace(s) in "
                   f"{len(groups)} group(s) (OLD rule → NEW rule)"),
        Table(("OLD rule → NEW rule", "traces", "keep probability", "OLD kept events/s",
               "NEW kept events/s", "examples"), rows,
              (False, True, False, True, True, False), len(groups) - len(shown)),
    ]  # fmt: skip


def diff_blocks(report: DiffReport, *, limit: int | None = None) -> list[Block]:
    blocks: list[Block] = [Heading(2, f"Nectar diff: {report.old} → {report.new}")]
    blocks.append(
        Bullets(
            (
                f"corpus {code(report.corpus)}" if report.corpus else "no corpus",
                diff_summary(report),
            )
        )
    )
    blocks += _verdicts(report)
    blocks += _lost_proofs(report)
    blocks += _policy_text(report, limit)
    blocks += _groups(report, limit)
    blocks += _lost(report, limit)
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
