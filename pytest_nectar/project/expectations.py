"""Expectations: small example traces checked in beside a policy, with the decision they get.

``policies/checkout.expect.jsonl`` holds one JSON object per line (blank lines and lines
starting with ``#`` or ``//`` are ignored)::

    {"name": "5xx kept", "trace": [{"trace.trace_id": "t1", "http.status_code": 503}],
     "rule": "keep-errors", "decision": "keep"}

* ``trace``: a list of Honeycomb-style events, or ``{"trace_id": ..., "spans": [{"root":
  bool, "data": {...}}]}``: exactly what ``nectar decide`` reads;
* ``rule``: the policy rule that must decide (``null``: no rule of the policy matches, so
  Refinery's keep-unmatched default, or the compiler's catch-all, decides); leave it out
  to check the decision only;
* ``decision``: ``keep`` (kept for sure), ``drop`` (dropped for sure) or ``sample`` (kept
  at random, with probability 1/rate); optional ``rate`` pins the sample rate;
* ``name``: optional; the item is named ``expect[<name>]``, else ``expect[<file>:<line>]``.

Expectations are checked on the **compiled** rules with the reference evaluator, like
Cedar's ``reason`` and Semgrep's ``ruleid``: what is checked is what is deployed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pytest_nectar.errors import CorpusError, Position, UsageError
from pytest_nectar.limits import BEYOND_DECODER, beyond_decoder

if TYPE_CHECKING:
    from pytest_nectar.compiler.compile import CompiledEnvironment
    from pytest_nectar.trace import Trace

__all__ = [
    "DECISIONS",
    "EXPECT_SUFFIX",
    "Expectation",
    "ExpectationResult",
    "check_expectation",
    "decision_word",
    "expectation_files",
    "explain_expected_rule",
    "read_expectations",
]

#: The file beside ``<stem>.toon`` whose lines are expectations of that policy.
EXPECT_SUFFIX: Final = ".expect.jsonl"
DECISIONS: Final = ("keep", "drop", "sample")
_KEYS: Final = frozenset({"name", "trace", "rule", "decision", "rate"})
_UNSET: Final = object()


@dataclass(frozen=True, slots=True)
class Expectation:
    """One line of an expectations file (``rule`` is ``_UNSET`` when not asserted)."""

    name: str
    position: Position
    trace_doc: Any
    rule: str | None
    rule_asserted: bool
    decision: str
    rate: int | None


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """What the compiled rules did with an expectation's trace."""

    ok: bool
    rule: str | None  # the policy rule behind the deciding compiled rule
    compiled_rule: str | None
    decision: str
    rate: int
    keep_probability: float
    reason: str


def expectation_files(policy_path: Path) -> list[Path]:
    """The expectations file of a policy (``<stem>.expect.jsonl`` beside it), if present."""
    candidate = policy_path.with_name(policy_path.stem + EXPECT_SUFFIX)
    return [candidate] if candidate.is_file() else []


def _problem(what: str, position: Position, got: object = None, hint: str = "") -> UsageError:
    return UsageError(what, position=position, got=got, hint=hint, code="expectation")


def _parse_line(text: str, position: Position) -> Expectation | UsageError:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        return _problem(
            f"expectation is not valid JSON: {err.msg}",
            Position(position.path, position.line, err.colno),
            hint="one JSON object per line",
        )
    except BEYOND_DECODER as err:
        return _problem(f"expectation is not valid JSON: {beyond_decoder(err)}", position)
    if not isinstance(doc, dict):
        return _problem("expectation must be a JSON object", position, type(doc).__name__)
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        return _problem(
            "unknown key in expectation", position, unknown[0], "keys: " + ", ".join(sorted(_KEYS))
        )
    if "trace" not in doc:
        return _problem("expectation has no 'trace'", position, hint="add the trace's events")
    decision = doc.get("decision")
    if decision not in DECISIONS:
        return _problem("expectation 'decision' must be keep, drop or sample", position, decision)
    rule = doc.get("rule", _UNSET)
    if rule is not _UNSET and rule is not None and not isinstance(rule, str):
        return _problem("expectation 'rule' must be a rule name or null", position, rule)
    rate = doc.get("rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        return _problem("expectation 'rate' must be a whole number >= 1", position, rate)
    name = doc.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        return _problem("expectation 'name' must be non-empty text", position, name)
    label = name.strip() if isinstance(name, str) else f"{Path(position.path).name}:{position.line}"
    return Expectation(
        name=label,
        position=position,
        trace_doc=doc["trace"],
        rule=None if rule is _UNSET else rule,  # type: ignore[arg-type]  # narrowed above
        rule_asserted=rule is not _UNSET,
        decision=decision,
        rate=rate,
    )


def read_expectations(path: Path, display: str) -> list[Expectation | UsageError]:
    """Every expectation of a file, in line order; a bad line is its error (not a crash)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [_problem("cannot read expectations file", Position(display), str(err))]
    out: list[Expectation | UsageError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "//")):
            continue
        column = len(line) - len(line.lstrip()) + 1
        out.append(_parse_line(stripped, Position(display, number, column)))
    return out


def decision_word(keep: bool | None) -> str:
    """``keep`` / ``drop`` / ``sample`` for a reference decision's ``keep``."""
    return "keep" if keep is True else "drop" if keep is False else "sample"


def trace_of(expectation: Expectation) -> Trace:
    """The expectation's trace, read exactly as ``nectar decide`` reads a TRACE file."""
    from pytest_nectar.trace_json import trace_from_json

    try:
        return trace_from_json(expectation.trace_doc, str(expectation.position))
    except CorpusError as err:
        raise _problem(
            err.diagnostic.what, expectation.position, hint=err.diagnostic.hint
        ) from None


def check_expectation(
    expectation: Expectation, compiled: CompiledEnvironment, rules_file: Any
) -> ExpectationResult:
    """Decide the expectation's trace with the compiled rules (reference evaluator)."""
    from pytest_nectar.refinery.reference import Evaluator

    trace = trace_of(expectation)
    decision = Evaluator(rules_file, compiled.environment).decide(trace)
    origin = compiled.origin(decision.rule_index)
    word = decision_word(decision.keep)
    ok = word == expectation.decision
    if expectation.rate is not None:
        ok = ok and decision.rate == expectation.rate
    if expectation.rule_asserted:
        ok = ok and origin == expectation.rule
    return ExpectationResult(
        ok=ok,
        rule=origin,
        compiled_rule=decision.rule_name,
        decision=word,
        rate=decision.rate,
        keep_probability=decision.keep_probability,
        reason=decision.reason,
    )


def explain_expected_rule(
    expectation: Expectation, compiled: CompiledEnvironment, rules_file: Any
) -> list[str]:
    """Why the rule the expectation names did not decide: its conditions, span by span.

    Each Refinery rule compiled from that policy rule is explained (the condition that
    failed, with the value every span had); a rule that would match but sits below the
    deciding rule is said to be never tried.
    """
    from pytest_nectar.prover.evaluation import explain_rule
    from pytest_nectar.refinery.reference import Evaluator

    if not expectation.rule_asserted or expectation.rule is None:
        return []
    trace = trace_of(expectation)
    evaluator = Evaluator(rules_file, compiled.environment)
    decided = evaluator.decide(trace).rule_index
    lines: list[str] = []
    for index, origin in enumerate(compiled.origins):
        if origin != expectation.rule:
            continue
        matched, why = explain_rule(evaluator, trace, index)
        if matched and decided is not None and decided < index:
            why[0] += f" (never tried: rule {decided + 1} decided first)"
        lines.extend(why)
    return lines
