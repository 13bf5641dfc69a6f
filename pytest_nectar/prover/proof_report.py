"""Render proof reports: human text grouped per policy with witnesses, and JSON.

Same reports, same bytes: nothing here depends on time, dict order of inputs or hashing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pytest_nectar.prover.engine import ProofReport
from pytest_nectar.prover.properties import PropertyResult, SpanMatch, Verdict, Witness

__all__ = ["match_lines", "render_json", "render_text", "to_json"]

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


def _witness_lines(w: Witness) -> list[str]:
    rule = w.rule if w.rule is not None else "(no rule matched)"
    lines = [f"    - trace {w.trace_id}: rule {rule!r} -> {w.decision}"]
    lines.extend(f"        {line}" for line in match_lines(w.matches))
    for b in w.because:
        lines.append(f"        {b.what}: {b.criterion}")
        lines.extend(f"          {line}" for line in match_lines(b.matches))
    if w.spans is not None:
        for i, span in enumerate(w.spans):
            root = " (root)" if span["root"] else ""
            fields = ", ".join(f"{k}={_value(v)}" for k, v in span["data"].items())
            lines.append(f"        span {i}{root}: {fields}")
    if w.note:
        lines.append(f"        ({w.note})")
    if w.command:
        lines.append(f"        show: {w.command}")
    elif w.spans is not None:
        lines.append("        (save it with --save-witnesses DIR to replay it with nectar decide)")
    return lines


def _result_lines(r: PropertyResult) -> list[str]:
    lines = [f"  {_MARK[r.verdict]:<7} {r.id}: {r.summary}"]
    for w in r.witnesses:
        lines.extend(_witness_lines(w))
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
