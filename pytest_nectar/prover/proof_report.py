"""Render proof reports: human text grouped per policy with witnesses, and JSON.

Same reports, same bytes: nothing here depends on time, dict order of inputs or hashing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pytest_nectar.prover.engine import ProofReport
from pytest_nectar.prover.properties import PropertyResult, SpanMatch, Verdict, Witness

__all__ = ["match_lines", "render_json", "render_text", "to_json", "witness_lines"]

_MARK = {
    Verdict.PASS: "PASS",
    Verdict.FAIL: "FAIL",
    Verdict.UNKNOWN: "UNKNOWN",
    Verdict.WARN: "WARN",
}


def _value(value: object) -> str:
    return (
        json.dumps(value)
        if isinstance(value, str | bool | int | float) or value is None
        else repr(value)
    )


def match_lines(matches: Sequence[SpanMatch]) -> list[str]:
    """Each matched condition, the span that met it and the value it had."""
    out = []
    for m in matches:
        if m.span is None and m.value is None:
            out.append(m.condition)  # a rule without conditions: nothing was read
            continue
        where = "the trace" if m.span is None else f"span {m.span}"
        out.append(f"{m.condition}: met by {where} with {_value(m.value)}")
    return out


def witness_lines(witness: Witness, *, replay: str | None = None) -> list[str]:
    """A witness as text, the same under ``nectar prove`` and pytest; indent it to place it.

    The trace and the rule that decided it, each condition that rule met (span and value),
    why the trace is an error or must-keep trace, a constructed counterexample's spans, and the
    command that replays the decision: ``replay`` if given, else the witness's own command.
    """
    trace = witness.trace_id or "(constructed)"
    rule = "no rule matched" if witness.rule is None else f"rule {witness.rule!r}"
    lines = [f"- trace {trace}: {rule} -> {witness.decision}"]
    lines.extend(f"    {line}" for line in match_lines(witness.matches))
    for because in witness.because:
        lines.append(f"    {because.what}: {because.criterion}")
        lines.extend(f"      {line}" for line in match_lines(because.matches))
    if witness.note:
        lines.append(f"    ({witness.note})")
    if witness.spans is not None:
        lines.append("    counterexample trace:")
        for i, span in enumerate(witness.spans):
            root = " (root)" if span.get("root") else ""
            data = sorted(span["data"].items())
            fields = ", ".join(f"{k}={_value(v)}" for k, v in data) or "(no fields)"
            lines.append(f"      span {i}{root}: {fields}")
    command = replay if replay is not None else witness.command
    if command:
        lines.append(f"    replay: {command}")
    return lines


def _result_lines(r: PropertyResult) -> list[str]:
    lines = [f"  {_MARK[r.verdict]:<7} {r.id}: {r.summary}"]
    for w in r.witnesses:
        lines.extend(f"    {line}" for line in witness_lines(w))
        if not w.command and w.spans is not None:
            lines.append(
                "        (save it with --save-witnesses DIR to replay it with nectar decide)"
            )
    if r.total_failing > len(r.witnesses) and r.witnesses:
        lines.append(f"    ({r.total_failing - len(r.witnesses)} more not shown; see --json)")
    return lines


def render_text(reports: Sequence[ProofReport]) -> str:
    """One block per policy or rules file: verdicts, then witnesses under each failure."""
    out: list[str] = []
    for rep in reports:
        env = rep.target.env or "__default__"
        head = f"{rep.target.name} (environment {env}"
        if rep.corpus is not None:
            head += f", corpus {rep.corpus_path or '<given>'}: {rep.corpus.n_traces} traces"
        out.append(head + ")")
        for r in rep.results.values():
            out.extend(_result_lines(r))
        for note in rep.notes:
            out.append(f"  note: {note}")
        counts = {v: sum(r.verdict is v for r in rep.results.values()) for v in Verdict}
        out.append("  " + ", ".join(f"{counts[v]} {v.value}" for v in Verdict if counts[v]) + "\n")
    return "\n".join(out)


def to_json(
    reports: Sequence[ProofReport], settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The reports; ``settings`` (``ProjectSettings.to_json``) says where each came from."""
    out: dict[str, Any] = {
        "failed": any(r.failed for r in reports),
        "reports": [r.to_json() for r in reports],
    }
    if settings is not None:
        out["settings"] = settings
    return out


def render_json(reports: Sequence[ProofReport], settings: dict[str, Any] | None = None) -> str:
    return json.dumps(to_json(reports, settings), indent=2, sort_keys=True) + "\n"
