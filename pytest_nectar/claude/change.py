"""What a proposal changes, as ``nectar diff`` reports it, for the patch, the PR and the terminal.

The current policy and the proposal are compared on the same loaded corpus by the report
package's diff (:func:`~pytest_nectar.project.session.diff_subjects`): error and must-keep
traces the proposal would no longer keep first, then the traces that change decision and
the kept events per second per rule and per service.  :class:`ChangeSummary` holds its
one-line summary, the plain text (patch body, default output) and the Markdown (PR body).

The one line is :func:`describe_change`: lines added and removed, then the report
package's :func:`~pytest_nectar.project.session.describe_policy_change`.  When there is nothing
to compare against (a new policy file) or the current policy cannot be read as a policy,
the summary falls back to the line counts, and says so.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pytest_nectar.errors import NectarError

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import Corpus
    from pytest_nectar.policy.model import Expr

__all__ = ["ROW_LIMIT", "ChangeSummary", "describe_change", "summarize_change"]

#: Rows per table in the embedded report (the full one is ``nectar diff``'s business).
ROW_LIMIT: Final = 10


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    line: str
    text: str
    markdown: str
    from_diff: bool  # False: the line-count fallback was used


def _line_counts(old: str, new: str) -> str:
    added = removed = 0
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return f"{added} line{'s' if added != 1 else ''} added, {removed} removed"


def describe_change(old: str | None, new: str, corpus: Corpus | None = None) -> str:
    """One deterministic line: lines added and removed, then the diff's own summary (rules
    added, removed or changed; error and must-keep traces no longer kept; kept events/s on
    ``corpus``) when both sides parse."""
    if old is None:
        return f"new policy file, {len(new.splitlines())} lines"
    if old == new:
        return "no change"
    lines = _line_counts(old, new)
    try:
        from pytest_nectar.project.session import describe_policy_change

        return f"{lines}; {describe_policy_change(old, new, corpus)}"
    except ImportError:  # pragma: no cover - a partial installation
        return lines
    except NectarError:
        return lines  # a side that does not parse: the line counts are all there is


def _fallback(old: str | None, new: str, why: str) -> ChangeSummary:
    line = describe_change(old, new)
    text = f"{line} ({why})\n"
    return ChangeSummary(line, text, text, from_diff=False)


def summarize_change(
    old: str | None,
    new: str,
    *,
    path: str,
    corpus: Corpus | None,
    corpus_label: str | None,
    window_s: float = 60.0,
    error: Expr | None = None,
) -> ChangeSummary:
    """The ``nectar diff`` of ``old`` -> ``new`` on ``corpus`` (or the fallback)."""
    if old is None:
        return _fallback(old, new, "no current policy to compare decisions with")
    try:
        from pytest_nectar.project.session import diff_subjects
        from pytest_nectar.report import render_md
        from pytest_nectar.report.layout_diff import diff_blocks
        from pytest_nectar.report.render_text import to_text
        from pytest_nectar.report.subject import subject_from_text
    except ImportError as err:  # pragma: no cover - a partial installation
        return _fallback(old, new, f"nectar diff is unavailable: {err.name}")
    try:
        before = subject_from_text(old, f"{path} (current)", name=path)
        after = subject_from_text(new, f"{path} (proposed)", name=path)
        report = diff_subjects(
            before, after, corpus, corpus_label=corpus_label, window_s=window_s, error=error
        )
        line = describe_change(old, new, corpus)
    except NectarError as err:
        return _fallback(old, new, f"the decisions cannot be compared: {err.message}")
    blocks = diff_blocks(report, limit=ROW_LIMIT)
    return ChangeSummary(
        line=line,
        text=to_text(blocks),
        markdown=render_md.render_blocks(blocks),
        from_diff=True,
    )
