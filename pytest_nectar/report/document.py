"""The report as data: every number is computed once, here, and only rendered after.

:class:`ExplainReport` (what one policy or rules file does on a corpus) and
:class:`DiffReport` (what changes from OLD to NEW) are frozen dataclasses; the text,
Markdown, HTML and JSON renderers read them and never compute, so all formats show the same
numbers.  ``to_json`` is the JSON renderer's source.  A figure that cannot be computed is
``None`` and has a :class:`Missing` entry saying why.  Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

__all__ = [
    "Budget",
    "DecisionGroup",
    "DiffReport",
    "ExplainReport",
    "LostTrace",
    "Missing",
    "PolicyLine",
    "RateTimeline",
    "RuleDelta",
    "RuleRow",
    "ServiceDelta",
    "ServiceRow",
    "Totals",
    "VerdictChange",
    "VerdictRow",
    "to_jsonable",
]


def to_jsonable(value: Any) -> Any:
    """A report value as JSON data (dataclasses as objects; NaN and infinities as None)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, float):
        # 12 significant digits: the same report on any machine, whatever the summation order.
        return float(f"{value:.12g}") if math.isfinite(value) else None
    return value


@dataclass(frozen=True, slots=True)
class Missing:
    """A part of the report that could not be computed, and why."""

    what: str
    why: str


@dataclass(frozen=True, slots=True)
class SettingRow:
    """One effective setting of the run and where it came from."""

    key: str
    value: object
    source: str  # "command line", "policy", "[tool.nectar]", "default"
    where: str | None  # the option, the policy field or the config key's position


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One policy rule (or Refinery rule, for a rules file), in evaluation order.

    ``traces``/``events`` are the corpus traces and events it decides (first match);
    ``weighted_*`` multiply by the corpus weight (incoming sample rate); ``kept_*`` are the
    expected kept traces and events (times the keep probability).  ``effective_rate`` is
    ``kept_traces / weighted_traces`` (None when it decides nothing and the action has no
    fixed rate).  ``compiled`` names the Refinery rules it compiled into.
    """

    order: int
    name: str
    meaning: str
    match: str
    action: str
    effective_rate: float | None
    compiled: tuple[str, ...]
    traces: int | None  # None: not evaluated (no corpus, or the rules cannot run)
    events: int | None
    weighted_traces: float | None
    weighted_events: float | None
    kept_traces: float | None
    kept_events: float | None
    kept_events_per_s: float | None
    share_of_kept_events: float | None
    examples: tuple[str, ...]
    unreachable: bool
    shadowed: bool
    fixed_rate: float | None  # the action's keep probability when fixed (keep 1, drop 0, 1/N)


@dataclass(frozen=True, slots=True)
class Budget:
    """Kept events per second against the budget: mean over the corpus, peak window."""

    budget_per_second: float | None
    mean_events_per_s: float | None
    peak_events_per_s: float | None
    window_s: float | None
    peak_window_start_s: float | None  # seconds after the corpus start
    kept_traces_per_s: float | None
    incoming_events_per_s: float | None
    within: bool | None  # None: no budget, or the rates are unknown
    source: str  # "prover" or "corpus"


@dataclass(frozen=True, slots=True)
class Totals:
    traces: int
    events: int
    weighted_traces: float
    weighted_events: float
    kept_traces: float
    kept_events: float
    duration_s: float | None
    error_traces: int | None
    error_kept_traces: float | None
    error_share_kept: float | None
    error_traces_at_risk: int | None  # error traces kept with probability < 1
    must_keep_traces: int | None
    must_keep_kept_surely: int | None
    must_keep_coverage: float | None
    unmatched_traces: int  # decided by no rule (Refinery keeps them)


@dataclass(frozen=True, slots=True)
class ServiceRow:
    """One ``service.name``: its events in, expected events kept, the effective rate."""

    service: str
    traces: int
    events: int
    weighted_events: float
    kept_events: float
    effective_rate: float | None
    events_in_per_s: float | None
    events_out_per_s: float | None
    loses_all: bool


@dataclass(frozen=True, slots=True)
class VerdictRow:
    id: str
    verdict: str  # pass, fail, unknown, warn
    summary: str


@dataclass(frozen=True, slots=True)
class RateTimeline:
    """Incoming and expected kept events/s per time bin (seconds from the corpus start).

    A corpus of captures far apart in time (files from different days or years) is not one
    long window: each capture (a block of events without a gap much longer than a bin) is
    binned on its own, and ``captures`` holds the index of each capture's first bin.
    """

    bin_s: float
    starts: tuple[float, ...]
    incoming_per_s: tuple[float, ...]
    kept_per_s: tuple[float, ...]
    captures: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class ExplainReport:
    """What one policy (or rules file) does on one corpus."""

    title: str
    source: str
    kind: str  # "policy" or "rules"
    environment: str
    corpus: str | None
    corpus_digest: str | None
    rules: tuple[RuleRow, ...]
    totals: Totals | None
    budget: Budget | None
    services: tuple[ServiceRow, ...]
    services_losing_all: tuple[str, ...]
    verdicts: tuple[VerdictRow, ...]
    unreachable: tuple[str, ...]
    shadowed: tuple[str, ...]
    hazards: tuple[str, ...]
    notes: tuple[str, ...]
    missing: tuple[Missing, ...]
    timeline: RateTimeline | None
    #: The error expression in force and where it was set (policy, config, option, default).
    error: str | None = None
    error_from: str | None = None
    #: The run's effective settings and their origins (the project session fills them in).
    settings: tuple[SettingRow, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(self)
        return out


@dataclass(frozen=True, slots=True)
class LostTrace:
    """An error or must-keep trace that OLD kept surely and NEW may drop."""

    trace_id: str
    kinds: tuple[str, ...]  # "error", "must-keep"
    old_rule: str | None
    new_rule: str | None
    old_keep_probability: float
    new_keep_probability: float


@dataclass(frozen=True, slots=True)
class LostProof:
    """An all-traces proof OLD passed and NEW fails (e.g. ``error-preservation-all``)."""

    property: str
    old_verdict: str
    new_verdict: str
    summary: str  # NEW's summary, naming the counterexample
    witness: str | None  # the counterexample's trace id and deciding rule, when constructed


@dataclass(frozen=True, slots=True)
class RuleDelta:
    rule: str
    old_kept_events_per_s: float | None
    new_kept_events_per_s: float | None
    change_per_s: float | None
    old_kept_events: float
    new_kept_events: float


@dataclass(frozen=True, slots=True)
class ServiceDelta:
    service: str
    old_kept_events: float
    new_kept_events: float
    change_per_s: float | None
    old_effective_rate: float | None
    new_effective_rate: float | None


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """One property's verdict on each side (``None``: that side was not proven)."""

    property: str
    scope: str  # "corpus" or "all traces"
    old_verdict: str | None
    new_verdict: str | None
    new_summary: str
    changed: bool


@dataclass(frozen=True, slots=True)
class PolicyLine:
    """One row of OLD's and NEW's text side by side (a line number None: no line there;
    both None: unchanged lines left out)."""

    old_line: int | None
    old_text: str
    new_line: int | None
    new_text: str
    changed: bool


@dataclass(frozen=True, slots=True)
class DecisionGroup:
    """The corpus traces whose decision moves from ``old_rule`` to ``new_rule`` (the same
    rule when only its keep probability changes), with their expected kept events/s."""

    old_rule: str | None
    new_rule: str | None
    traces: int
    examples: tuple[str, ...]
    old_keep_probability: tuple[float, float]  # lowest and highest in the group
    new_keep_probability: tuple[float, float]
    old_kept_events: float
    new_kept_events: float
    old_kept_events_per_s: float | None
    new_kept_events_per_s: float | None


@dataclass(frozen=True, slots=True)
class DiffReport:
    """What changes from OLD to NEW on one corpus, loudest first."""

    old: str
    new: str
    corpus: str | None
    lost: tuple[LostTrace, ...]  # error/must-keep traces NEW no longer keeps surely
    lost_proofs: tuple[LostProof, ...]  # all-traces proofs OLD passed and NEW fails
    changed_traces: int
    changed_examples: tuple[tuple[str, str | None, str | None, float, float], ...]
    rules: tuple[RuleDelta, ...]
    services: tuple[ServiceDelta, ...]
    old_kept_events_per_s: float | None
    new_kept_events_per_s: float | None
    old_report: ExplainReport | None
    new_report: ExplainReport | None
    missing: tuple[Missing, ...]
    #: Every property's verdict on both sides, changed ones first.
    verdicts: tuple[VerdictChange, ...] = ()
    #: OLD's and NEW's text side by side around the lines that changed.
    policy_diff: tuple[PolicyLine, ...] = ()
    #: Changed corpus decisions grouped by (OLD rule, NEW rule), the largest change first.
    decision_groups: tuple[DecisionGroup, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = to_jsonable(self)
        return out
