"""A proof report as what Claude gets back: failed properties with a few witnesses, compactly.

Every failed property becomes one problem: its id, the prover's one-line summary (which
carries the figures, e.g. a budget overrun's mean and peak events per second against the
budget), then up to :data:`WITNESSES_PER_PROBLEM` witnesses, each one line: the trace id,
the rule that decided it and how, the condition that made that rule match and, for error
and must-keep failures, the condition that makes the trace an error.  Warnings and unknown
verdicts become notes; the passing properties one summary note.

Corpus values are untrusted production data: every value is JSON-quoted and cut at
:data:`MAX_VALUE_CHARS`, so a span attribute reads as a string, never as an instruction.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from pytest_nectar.claude.refine import Review

if TYPE_CHECKING:
    from pytest_nectar.prover import ProofReport, PropertyResult, SpanMatch, Witness

__all__ = ["MAX_VALUE_CHARS", "WITNESSES_PER_PROBLEM", "verdict_from_proof"]

WITNESSES_PER_PROBLEM: Final = 3
MAX_VALUE_CHARS: Final = 60
_MAX_SPAN_FIELDS: Final = 6


def _quote(value: object) -> str:
    if isinstance(value, bool | int | float) or value is None:
        text = json.dumps(value)
    else:
        text = json.dumps(str(value), ensure_ascii=False)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 2] + '…"'
    return text


def _matches(matches: tuple[SpanMatch, ...]) -> str:
    parts = []
    for m in matches:
        if m.value is None and m.span is None:
            parts.append(m.condition)
            continue
        where = "the trace" if m.span is None else f"span {m.span}"
        parts.append(f"{m.condition} met by {where} with {_quote(m.value)}")
    return "; ".join(parts)


def _span_data(spans: tuple[dict[str, object], ...]) -> str:
    parts = []
    for i, span in enumerate(spans):
        data = span.get("data", {})
        assert isinstance(data, dict)
        fields = [f"{k}={_quote(v)}" for k, v in sorted(data.items()) if not k.startswith("trace.")]
        shown = fields[:_MAX_SPAN_FIELDS] + (["…"] if len(fields) > _MAX_SPAN_FIELDS else [])
        root = " (root)" if span.get("root") else ""
        parts.append(f"span {i}{root}: {', '.join(shown) or '(no attributes)'}")
    return "; ".join(parts)


def _witness_line(report: ProofReport, result: PropertyResult, w: Witness) -> str:
    rule = repr(w.rule) if w.rule is not None else "no rule (Refinery's keep-unmatched default)"
    line = f"  - trace {w.trace_id}: decided by {rule}: {w.decision}"
    how = _matches(w.matches)
    if how:
        line += f"; that rule matched because {how}"
    if w.spans is not None:
        line += f"; the trace: {_span_data(w.spans)}"
    if w.because:
        first = w.because[0]
        kind = "an error trace" if first.what == "error" else "a must-keep trace"
        how = _matches(first.matches)
        line += f"; it is {kind} by {first.criterion}" + (f": {how}" if how else "")
    return line


def _problem(report: ProofReport, result: PropertyResult) -> str:
    lines = [f"property {result.id} failed ({result.meaning}): {result.summary}"]
    shown = result.witnesses[:WITNESSES_PER_PROBLEM]
    lines.extend(_witness_line(report, result, w) for w in shown)
    more = max(result.total_failing, len(result.witnesses)) - len(shown)
    if shown and more > 0:
        lines.append(f"  - … {more} more failing trace(s) not shown")
    return "\n".join(lines)


def verdict_from_proof(report: ProofReport) -> Review:
    """Failed properties are problems; warnings and unknowns are notes; passes one note."""
    from pytest_nectar.prover import Verdict as Outcome

    problems: list[str] = []
    notes: list[str] = []
    passed: list[str] = []
    unknown: dict[str, list[str]] = {}  # one note per reason, not one per property
    for result in report.results.values():
        if result.verdict is Outcome.FAIL:
            problems.append(_problem(report, result))
        elif result.verdict is Outcome.WARN:
            notes.append(f"warning: {result.id}: {result.summary}")
        elif result.verdict is Outcome.UNKNOWN:
            unknown.setdefault(result.summary, []).append(result.id)
        else:
            passed.append(result.id)
    where = (
        f"on {report.corpus.n_traces} corpus traces and for all traces"
        if report.corpus is not None
        else "for all traces (no corpus)"
    )
    if passed:
        names = ", ".join(passed)
        notes.insert(0, f"nectar prove {where}: {len(passed)} properties pass ({names})")
    notes.extend(f"unknown: {', '.join(ids)}: {why}" for why, ids in unknown.items())
    return Review(tuple(problems), tuple(notes))
