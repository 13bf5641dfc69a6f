"""The prover's vocabulary: property ids, what each means, verdicts and witnesses.

Every property has a stable id (used by ``--property``, JSON output and the pytest plugin)
and a one-line meaning.  A :class:`PropertyResult` holds a :class:`Verdict`, a one-line
summary, the :class:`Witness` records that show a failure, and optional figures.  Lints are
properties whose failures are warnings (``severity == "warning"``): they never fail a run
unless ``--strict``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ALL_PROPERTIES",
    "CORPUS_PROPERTIES",
    "LINTS",
    "MEANINGS",
    "PropertyResult",
    "SpanMatch",
    "Verdict",
    "Witness",
]


class Verdict(enum.Enum):
    """The outcome of one property.  ``WARN`` is a lint that found something."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    WARN = "warn"


#: property id -> its one-line meaning (order is the report order).
MEANINGS: Final[dict[str, str]] = {
    "fallback": "some rule matches every corpus trace (else Refinery keeps it at rate 1)",
    "error-preservation": "every error trace is kept with probability 1 (on the corpus)",
    "error-preservation-all": "no trace at all is an error trace kept with probability < 1",
    "must-keep": "every must-keep trace is kept with probability 1 (on the corpus)",
    "must-keep-all": "no trace at all matching a must_keep expression is kept with p < 1",
    "budget": "kept events/s stay within the budget, on average and at the windowed peak",
    "unreachable-rules": "every rule decides at least one corpus trace",
    "shadowed-rules": "no rule is shadowed by earlier rules for all possible traces",
    "unknown-fields": "every field a condition reads occurs in the corpus",
    "mixed-types": "fields read by conditions have one value type in the corpus",
    "negative-trace-scope": "no negative operator in a trace-scope rule",
}
CORPUS_PROPERTIES: Final = ("fallback", "error-preservation", "must-keep", "budget")
ALL_TRACES: Final = ("error-preservation-all", "must-keep-all")
LINTS: Final = (
    "unreachable-rules",
    "shadowed-rules",
    "unknown-fields",
    "mixed-types",
    "negative-trace-scope",
)
ALL_PROPERTIES: Final = tuple(MEANINGS)


@dataclass(frozen=True, slots=True)
class SpanMatch:
    """Why a rule matched: condition ``condition`` was met by span ``span`` with ``value``."""

    condition: str
    span: int | None  # index in the trace; None for trace-level facts (root, descendants)
    value: object

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.condition, "span": self.span, "value": _jsonable(self.value)}


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else repr(value)
    return repr(value)


@dataclass(frozen=True, slots=True)
class Witness:
    """One trace that shows a property's outcome, and the rule that decided it.

    ``spans`` is set for constructed counterexamples (all-traces proofs): the trace itself,
    as ``[{"root": bool, "data": {...}}]``.  ``command`` re-runs the decision.
    """

    trace_id: str
    rule: str | None
    rule_index: int | None
    decision: str
    matches: tuple[SpanMatch, ...] = ()
    command: str | None = None
    spans: tuple[dict[str, Any], ...] | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "rule": self.rule,
            "rule_index": self.rule_index,
            "decision": self.decision,
            "matches": [m.to_json() for m in self.matches],
        }
        if self.command is not None:
            out["command"] = self.command
        if self.spans is not None:
            out["spans"] = [
                {"root": s["root"], "data": {k: _jsonable(v) for k, v in s["data"].items()}}
                for s in self.spans
            ]
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True, slots=True)
class PropertyResult:
    """One property's verdict, a one-line summary, witnesses and figures."""

    id: str
    verdict: Verdict
    summary: str
    witnesses: tuple[Witness, ...] = ()
    total_failing: int = 0
    figures: dict[str, Any] = field(default_factory=dict)
    severity: str = "error"  # "warning" for lints

    @property
    def meaning(self) -> str:
        return MEANINGS.get(self.id, "")

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "meaning": self.meaning,
            "verdict": self.verdict.value,
            "severity": self.severity,
            "summary": self.summary,
            "total_failing": self.total_failing,
            "witnesses": [w.to_json() for w in self.witnesses],
            "figures": self.figures,
        }
