"""What is proven: the compiled rules of one destination, and the expressions to check.

:class:`Target` holds the rules file (a ``.toon`` policy compiled, or a Refinery rules file
as it stands), the destination, and the *probes*: the ``error`` and ``must_keep``
expressions compiled to Refinery conditions exactly as the compiler compiles matches, so
that "is an error trace" is decided with Refinery's semantics too (on the corpus by the
vectorised evaluator, for all traces by the solver).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from pytest_nectar.compiler.compile import CompiledEnvironment, to_refinery_condition
from pytest_nectar.corpus.table import TraceTable
from pytest_nectar.policy.check import normal_form
from pytest_nectar.policy.model import Expr, Policy
from pytest_nectar.policy.printer import format_match
from pytest_nectar.project.settings import Origin
from pytest_nectar.prover.solver import Shape
from pytest_nectar.refinery import rules_model as rm
from pytest_nectar.refinery.conditions import compile_condition
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.trace import Trace

__all__ = ["Probe", "Target", "build_target", "criteria_probes", "probe_of"]


@dataclass(frozen=True)
class Probe:
    """An expression as Refinery rules: it holds on a trace iff one of ``rules`` matches."""

    text: str
    rules: tuple[rm.Rule, ...]
    nested: bool

    @property
    def rules_file(self) -> rm.RulesFile:
        config = rm.RulesBasedSamplerConfig(rules=self.rules, check_nested_fields=self.nested)
        return rm.RulesFile(2, {"__default__": rm.SamplerEntry((config,))})

    def shapes(self) -> tuple[Shape, ...]:
        return tuple(
            Shape.of(
                r.name,
                r.scope,
                None if r.conditions is None else tuple(compile_condition(c) for c in r.conditions),
            )
            for r in self.rules
        )

    @cached_property
    def evaluator(self) -> Evaluator:
        """The reference evaluator of the probe rules (built once per probe)."""
        return Evaluator(self.rules_file)

    def holds(self, trace: Trace) -> bool:
        """The reference evaluator's answer on one trace."""
        return self.evaluator.decide(trace).rule_index is not None

    def corpus_mask(self, corpus: TraceTable) -> npt.NDArray[np.bool_]:
        """Which corpus traces satisfy the expression (vectorised, Refinery's semantics;
        a corpus in partitions is read one partition at a time)."""
        from pytest_nectar.refinery.vector_parts import match_pieces

        return match_pieces(self.rules_file, corpus)


def probe_of(expr: Expr, *, nested: bool = False, text: str | None = None) -> Probe:
    """Compile a match expression into a probe (raises PolicyError if not expressible)."""
    rules = []
    for i, clause in enumerate(normal_form(expr)):
        conds = tuple(to_refinery_condition(a) for a in clause.conditions) or None
        scope = "span" if clause.scope.value == "span" else None
        rules.append(rm.Rule(f"probe#{i + 1}", sample_rate=1, scope=scope, conditions=conds))
    return Probe(text if text is not None else format_match(expr), tuple(rules), nested)


def criteria_probes(expr: Expr, *, nested: bool = False) -> tuple[tuple[str, Probe], ...]:
    """The error expression's named criteria, each compiled to a probe."""
    from pytest_nectar.policy.error_criteria import criteria_of

    return tuple((name, probe_of(e, nested=nested)) for name, e in criteria_of(expr))


@dataclass(frozen=True)
class Target:
    """One destination to prove: its rules, where they came from, and the probes."""

    name: str  # the policy or rules file path, for the report
    rules_file: rm.RulesFile
    env: str | None
    error: Probe
    must_keep: tuple[Probe, ...] = ()
    budget: float | None = None
    policy: Policy | None = None
    compiled: CompiledEnvironment | None = None
    notes: tuple[str, ...] = field(default=())
    rules_path: str | None = None  # a file `nectar decide` can read (None: the policy)
    error_origin: Origin | None = None  # where the error expression in force was set
    #: the error expression's named criteria (error_criteria.criteria_of), each a probe:
    #: what stats count per criterion and witnesses name
    error_criteria: tuple[tuple[str, Probe], ...] = ()

    @property
    def nested(self) -> bool:
        return self.error.nested

    def criteria(self, why: str) -> tuple[tuple[str, Probe], ...]:
        """Named probes that make a trace an error (``why="error"``) or must-keep."""
        if why == "error":
            return self.error_criteria
        return tuple((f"must_keep {p.text}", p) for p in self.must_keep)


def build_target(
    rules_file: rm.RulesFile,
    env: str | None,
    *,
    name: str,
    error: Expr,
    error_origin: Origin | None = None,
    must_keep: Sequence[Expr] = (),
    budget: float | None = None,
    policy: Policy | None = None,
    compiled: CompiledEnvironment | None = None,
    notes: tuple[str, ...] = (),
    rules_path: str | None = None,
) -> Target:
    """The one way to a target: the probes compiled like the destination's sampler reads
    fields (``CheckNestedFields``), from expressions already parsed and resolved."""
    entry = rules_file.samplers.get(env or "__default__") or rules_file.samplers.get("__default__")
    chosen = entry.select() if entry is not None else None
    nested = isinstance(chosen, rm.RulesBasedSamplerConfig) and bool(chosen.check_nested_fields)
    return Target(
        name=name,
        rules_file=rules_file,
        env=env,
        error=probe_of(error, nested=nested),
        must_keep=tuple(probe_of(e, nested=nested) for e in must_keep),
        budget=budget,
        policy=policy,
        compiled=compiled,
        notes=notes,
        rules_path=rules_path,
        error_origin=error_origin,
        error_criteria=criteria_probes(error, nested=nested),
    )
