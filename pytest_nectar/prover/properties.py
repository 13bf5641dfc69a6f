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

from pytest_nectar.trace_json import jsonable

__all__ = [
    "ALL_PROPERTIES",
    "CORPUS_PROPERTIES",
    "KNOWN_PROPERTIES",
    "LINTS",
    "MEANINGS",
    "PROPERTIES",
    "Because",
    "Property",
    "PropertyResult",
    "PropertySpec",
    "SpanMatch",
    "Verdict",
    "Witness",
    "jsonable",
]


class Verdict(enum.Enum):
    """The outcome of one property.  ``WARN`` is a lint that found something."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    WARN = "warn"


class Property(enum.Enum):
    """The property ids: one closed vocabulary, each with its row in :data:`PROPERTIES`."""

    FALLBACK = "fallback"
    ERROR_PRESERVATION = "error-preservation"
    ERROR_PRESERVATION_ALL = "error-preservation-all"
    MUST_KEEP = "must-keep"
    MUST_KEEP_ALL = "must-keep-all"
    BUDGET = "budget"
    UNREACHABLE_RULES = "unreachable-rules"
    SHADOWED_RULES = "shadowed-rules"
    UNKNOWN_FIELDS = "unknown-fields"
    MIXED_TYPES = "mixed-types"
    NEGATIVE_TRACE_SCOPE = "negative-trace-scope"
    EQUIVALENCE = "equivalence"

    @property
    def spec(self) -> PropertySpec:
        return PROPERTIES[self]


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """What a property means and how it is run and shown.

    ``needs_corpus``: unknown without corpus traces; ``policy_field``: the policy field a
    finding is placed at when no rule is to blame (annotations); ``severity``: "warning"
    for lints; ``default``: run when no ``--property`` is given (``equivalence`` decides
    every corpus trace twice, so it is asked for by name, and the pytest item asks).
    """

    meaning: str
    needs_corpus: bool
    policy_field: str
    severity: str = "error"
    default: bool = True


#: The one table, in report order.
PROPERTIES: Final[dict[Property, PropertySpec]] = {
    Property.FALLBACK: PropertySpec(
        "some rule matches every corpus trace (else Refinery keeps it at rate 1)", True, "rules"
    ),
    Property.ERROR_PRESERVATION: PropertySpec(
        "every error trace is kept with probability 1 (on the corpus)", True, "error"
    ),
    Property.ERROR_PRESERVATION_ALL: PropertySpec(
        "no trace at all is an error trace kept with probability < 1", False, "error"
    ),
    Property.MUST_KEEP: PropertySpec(
        "every must-keep trace is kept with probability 1 (on the corpus)", True, "must_keep"
    ),
    Property.MUST_KEEP_ALL: PropertySpec(
        "no trace at all matching a must_keep expression is kept with p < 1", False, "must_keep"
    ),
    Property.BUDGET: PropertySpec(
        "kept events/s stay within the budget, on average and at the windowed peak",
        True,
        "budget_per_second",
    ),
    Property.UNREACHABLE_RULES: PropertySpec(
        "every rule decides at least one corpus trace", True, "rules", "warning"
    ),
    Property.SHADOWED_RULES: PropertySpec(
        "no rule is shadowed by earlier rules for all possible traces", False, "rules", "warning"
    ),
    Property.UNKNOWN_FIELDS: PropertySpec(
        "every field a condition reads is known (corpus, OpenTelemetry, Refinery)",
        True,
        "rules",
        "warning",
    ),
    Property.MIXED_TYPES: PropertySpec(
        "fields read by conditions without a Datatype have one value type in the corpus",
        True,
        "rules",
        "warning",
    ),
    Property.NEGATIVE_TRACE_SCOPE: PropertySpec(
        "no negative operator in a trace-scope rule", False, "rules", "warning"
    ),
    Property.EQUIVALENCE: PropertySpec(
        "the compiled rules decide every corpus trace like the policy interpreter",
        True,
        "rules",
        default=False,
    ),
}
#: property id -> its one-line meaning (order is the report order).
MEANINGS: Final[dict[str, str]] = {p.value: s.meaning for p, s in PROPERTIES.items()}
CORPUS_PROPERTIES: Final = tuple(
    p.value for p, s in PROPERTIES.items() if s.needs_corpus and s.severity == "error"
)
ALL_TRACES: Final = ("error-preservation-all", "must-keep-all")
LINTS: Final = tuple(p.value for p, s in PROPERTIES.items() if s.severity == "warning")
#: Every property id a caller may ask for.
KNOWN_PROPERTIES: Final = tuple(p.value for p in Property)
#: The properties run when none is named.
ALL_PROPERTIES: Final = tuple(p.value for p, s in PROPERTIES.items() if s.default)


@dataclass(frozen=True, slots=True)
class SpanMatch:
    """Why a rule matched: condition ``condition`` was met by span ``span`` with ``value``."""

    condition: str
    span: int | None  # index in the trace; None for trace-level facts (root, descendants)
    value: object

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.condition, "span": self.span, "value": jsonable(self.value)}


@dataclass(frozen=True, slots=True)
class Because:
    """Why a witness trace is an error (or must-keep): the criterion it meets, and where.

    ``criterion`` is a default error criterion's name (``grpc-server-fault``), a custom
    alternative's text, a ``must_keep`` expression, or the corpus's must-keep label.
    """

    criterion: str
    matches: tuple[SpanMatch, ...] = ()
    what: str = "error"  # or "must-keep"

    def to_json(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "criterion": self.criterion,
            "matches": [m.to_json() for m in self.matches],
        }


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
    #: why the trace is an error / must-keep trace (every criterion it meets, in order)
    because: tuple[Because, ...] = ()

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
                {"root": s["root"], "data": {k: jsonable(v) for k, v in s["data"].items()}}
                for s in self.spans
            ]
        if self.note:
            out["note"] = self.note
        if self.because:
            out["because"] = [b.to_json() for b in self.because]
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
