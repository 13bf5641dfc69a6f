"""The ``nectar summary`` section at the end of a pytest run: one screen, per policy.

Built only from facts carried on test reports (so it is identical under pytest-xdist):
kept share and kept events/s against the budget, the verdicts, and rule coverage (rules no
corpus trace and no expectation reaches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["render_summary"]

_ORDER: Final = ("failed", "warned", "skipped", "passed")


def _outcome(item: Mapping[str, Any]) -> str:
    if item["outcome"] == "passed" and item.get("verdict") == "warn":
        return "warned"
    return str(item["outcome"])


def _number(value: Any, fmt: str) -> str:
    return format(value, fmt) if isinstance(value, int | float) else "?"


def _budget_line(items: Mapping[str, Mapping[str, Any]], budget: Any) -> str | None:
    item = items.get("budget", {})
    figures = item.get("figures")
    figures = figures if isinstance(figures, Mapping) else {}
    share = item.get("kept_trace_share")
    mean = figures.get("mean_events_per_second")
    peak = figures.get("peak_events_per_second")
    window = figures.get("window_s")
    parts = []
    if isinstance(share, int | float):
        parts.append(f"kept {share:.1%} of traces")
    if isinstance(mean, int | float):
        text = f"{mean:.4g} kept events/s"
        if isinstance(peak, int | float):
            text += f" (peak {peak:.4g}" + (f" over {window:g}s)" if window else ")")
        parts.append(text + (f" against a budget of {budget}/s" if budget else ", no budget set"))
    return ", ".join(parts) or None


def _coverage(items: Mapping[str, Mapping[str, Any]]) -> str | None:
    rules = items.get("parse", {}).get("rules")
    if not isinstance(rules, list):
        return None
    reached_corpus = items.get("equivalence", {}).get("reached")
    expected = {
        item.get("expect_rule") for name, item in items.items() if name.startswith("expect[")
    }
    has_expect = any(name.startswith("expect[") for name in items)
    if not isinstance(reached_corpus, Mapping) and not has_expect:
        return "  rule coverage: unknown (no corpus decisions and no expectations)"
    reached = set(reached_corpus or ()) | {r for r in expected if isinstance(r, str)}
    missing = [r for r in rules if r not in reached]
    if not missing:
        return f"  rule coverage: all {len(rules)} rules reached by the corpus or an expectation"
    return (
        f"  rule coverage: {len(missing)} of {len(rules)} rules reached by no corpus trace "
        f"and no expectation: {', '.join(missing)}"
    )


def render_summary(
    policies: Mapping[str, Mapping[str, Mapping[str, Any]]], *, verbose: bool
) -> list[str]:
    """Lines of the summary; ``policies`` maps a file's node path to its items' facts."""
    lines: list[str] = []
    for path in sorted(policies):
        items = policies[path]
        parse = items.get("parse", {})
        title = path + (f" ({parse['policy']})" if parse.get("policy") else "")
        lines.append(title)
        budget = _budget_line(items, parse.get("budget"))
        if budget:
            lines.append("  " + budget)
        groups: dict[str, list[str]] = {}
        for name in items:
            groups.setdefault(_outcome(items[name]), []).append(name)
        verdicts = []
        for outcome in _ORDER:
            names = groups.get(outcome, [])
            if not names:
                continue
            show = outcome != "passed" or verbose
            verdicts.append(f"{len(names)} {outcome}" + (f" ({', '.join(names)})" if show else ""))
        lines.append("  verdicts: " + "; ".join(verdicts))
        coverage = _coverage(items)
        if coverage:
            lines.append(coverage)
    return lines
