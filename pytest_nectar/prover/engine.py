"""``prove()``: load a policy or rules file, evaluate the corpus once, decide every property.

The Python API's entry point; the front ends (CLI, pytest plugin, reports, ``propose``)
reach it through the project session (:mod:`pytest_nectar.project.session`), which builds
each target once with the settings resolved::

    report = prove("policies/checkout.toon", corpus="corpus/")
    report.failed, report.results["error-preservation"].witnesses, report.decisions

A ``.toon`` policy is compiled first and the *compiled* rules are proven (what is deployed);
its ``error``, ``must_keep`` and ``budget_per_second`` are used unless ``error``/``budget``
override them.  A Refinery rules file is proven as it stands, with ``error`` (default: the
criteria of pytest_nectar/policy/error_criteria.py) and ``budget`` from the caller.
``error`` is a parsed expression (:func:`pytest_nectar.policy.match_parser.parse_match`),
never text: it is parsed once, where it is read, with its true position.  The report keeps
the corpus evaluation (:attr:`ProofReport.context`) so that reports read its masks instead
of evaluating again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

from pytest_nectar.corpus.captures import CorpusRate
from pytest_nectar.corpus.table import TraceTable
from pytest_nectar.errors import UsageError
from pytest_nectar.policy.error_criteria import default_error_match, error_match
from pytest_nectar.policy.model import Expr, Policy
from pytest_nectar.project.settings import DEFAULT_ORIGIN, Origin, Source, Traffic
from pytest_nectar.prover import budget as budget_mod
from pytest_nectar.prover import corpus_proofs as corpus_mod
from pytest_nectar.prover import equivalence, lints, universal
from pytest_nectar.prover.properties import (
    ALL_PROPERTIES,
    KNOWN_PROPERTIES,
    Property,
    PropertyResult,
    Verdict,
)
from pytest_nectar.prover.target import Target, build_target
from pytest_nectar.refinery.vector import CorpusDecisions

__all__ = ["ProofReport", "load_target", "prove"]


@dataclass
class ProofReport:
    """Per-property results for one target, and the shared corpus decisions (if any)."""

    target: Target
    results: dict[str, PropertyResult]
    decisions: CorpusDecisions | None = None
    corpus: TraceTable | None = None
    corpus_path: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The one corpus evaluation: decisions and the error and must-keep masks.
    context: corpus_mod.CorpusContext | None = None

    @property
    def failed(self) -> bool:
        return any(r.verdict is Verdict.FAIL for r in self.results.values())

    @property
    def warned(self) -> bool:
        return any(r.verdict is Verdict.WARN for r in self.results.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.name,
            "environment": self.target.env or "__default__",
            "corpus": self.corpus_path,
            "traces": self.corpus.n_traces if self.corpus is not None else None,
            "failed": self.failed,
            "error": self.target.error.text,
            "error_from": (self.target.error_origin or DEFAULT_ORIGIN).to_json(),
            "properties": [r.to_json() for r in self.results.values()],
            "notes": list(self.notes),
        }


def _expression(error: Expr | None) -> Expr | None:
    if isinstance(error, str):
        raise UsageError(
            "error must be a parsed expression, not text",
            got=error,
            hint="parse it once where it is read: pytest_nectar.policy.match_parser.parse_match",
        )
    return error


def load_target(
    path: str,
    *,
    env: str | None = None,
    error: Expr | None = None,
    budget: float | None = None,
    validate: bool = True,
) -> Target:
    """A policy (compiled once) or a rules file (validated as Refinery would) to prove.

    ``error`` (already parsed) overrides the policy's own; without it a policy's ``error``,
    else ``http.status >= 500``.  Project settings are resolved by the project session
    (:mod:`pytest_nectar.project.session`), which builds its targets with
    :func:`~pytest_nectar.prover.target.build_target` directly.
    """
    error = _expression(error)
    given = Origin(Source.COMMAND_LINE) if error is not None else None
    if path.endswith(".toon"):
        from pytest_nectar.compiler.compile import compile_policies
        from pytest_nectar.policy.parser import load_policy

        policy: Policy = load_policy(path)
        compilation = compile_policies([policy])
        compiled = compilation.environments[policy.effective_environment]
        if error is None and policy.error is not None:
            given = Origin(Source.POLICY, policy.position_of("error"))
        return build_target(
            compilation.rules_file,
            policy.effective_environment,
            name=path,
            error=error if error is not None else error_match(policy),
            error_origin=given or DEFAULT_ORIGIN,
            must_keep=policy.must_keep or (),
            budget=budget if budget is not None else policy.budget_per_second,
            policy=policy,
            compiled=compiled,
            notes=compiled.notes,
            rules_path=path,
        )
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.refinery.reference import Evaluator

    rules_file = load_rules_or_policy(path, validate=validate)
    Evaluator(rules_file, env)  # a missing destination is an input error, reported now
    return build_target(
        rules_file,
        env,
        name=path,
        error=error if error is not None else default_error_match(),
        error_origin=given or DEFAULT_ORIGIN,
        budget=budget,
        rules_path=path,
    )


def prove(
    target: str | os.PathLike[str] | Target,
    *,
    corpus: TraceTable | str | os.PathLike[str] | None = None,
    env: str | None = None,
    properties: Sequence[str] | None = None,
    budget: float | None = None,
    error: Expr | None = None,
    window_s: float = 60.0,
    seed: int = universal.DEFAULT_SEED,
    cluster: str | None = None,
    cluster_storage: str | None = None,
    corpus_paths: Sequence[str] | None = None,
    traffic: Traffic | None = None,
) -> ProofReport:
    """Decide the properties of one policy or rules file (see the module docstring).

    ``cluster``: evaluate the corpus on that Dask cluster (same results; see
    :mod:`pytest_nectar.prover.distributed`), its workers reading the corpus from
    ``cluster_storage`` when given.  ``corpus_paths`` names where a loaded
    ``corpus`` came from, for the replay commands; ``traffic`` is the production rate the
    corpus stands for (the budget runs at it).

    Raises:
        NectarError: the input does not load, parse or compile (a usage/input error).
    """
    wanted = list(properties) if properties else list(ALL_PROPERTIES)
    unknown = [p for p in wanted if p not in KNOWN_PROPERTIES]
    if unknown:
        raise UsageError(
            "unknown property", got=unknown[0], hint="use one of " + ", ".join(KNOWN_PROPERTIES)
        )
    if not (window_s > 0):
        raise UsageError("window must be a positive number of seconds", got=window_s)
    tgt = (
        target
        if isinstance(target, Target)
        else load_target(os.fspath(target), env=env, error=_expression(error), budget=budget)
    )
    corpus_path: str | None = ", ".join(corpus_paths) if corpus_paths else None
    loaded: TraceTable | None = None
    if isinstance(corpus, (str, os.PathLike)):
        from pytest_nectar.corpus import load_corpus

        corpus_path = os.fspath(corpus)
        loaded = load_corpus(corpus_path)
    else:
        loaded = corpus  # in memory, or in partitions on disk
    report = ProofReport(tgt, {}, corpus=loaded, corpus_path=corpus_path, notes=list(tgt.notes))
    ctx: corpus_mod.CorpusContext | None = None
    windows: Future[tuple[budget_mod.BudgetWindows, CorpusRate] | str] | None = None
    if loaded is not None and loaded.n_traces > 0:
        with ThreadPoolExecutor(max_workers=1) as pool:
            if "budget" in wanted:
                # The budget's sort and window search need no decisions: overlap them.
                windows = pool.submit(budget_mod.prepare_windows, loaded, window_s)
            # Every probe in the one pass: the reports read the masks, none re-evaluates.
            ctx = corpus_mod.CorpusContext.evaluate(
                tgt,
                loaded,
                list(corpus_paths) if corpus_paths else corpus_path,
                cluster=cluster,
                cluster_storage=cluster_storage,
            )
        report.decisions = ctx.decisions
        report.context = ctx
    elif loaded is not None:
        report.notes.append("the corpus holds no traces: corpus properties are unknown")
    for pid in wanted:
        if Property(pid).spec.needs_corpus and ctx is None:
            why = "no corpus given (--corpus)" if loaded is None else "the corpus has no traces"
            report.results[pid] = PropertyResult(pid, Verdict.UNKNOWN, why)
            continue
        prepared = windows.result() if windows is not None else None
        report.results[pid] = _run(pid, tgt, ctx, window_s, seed, prepared, traffic)
    return report


def _run(
    pid: str,
    tgt: Target,
    ctx: corpus_mod.CorpusContext | None,
    window_s: float,
    seed: int,
    prepared: tuple[budget_mod.BudgetWindows, CorpusRate] | str | None = None,
    traffic: Traffic | None = None,
) -> PropertyResult:
    prop = Property(pid)
    if prop is Property.ERROR_PRESERVATION_ALL:
        return universal.prove_keep_all(tgt, pid, (tgt.error,), seed=seed)
    if prop is Property.MUST_KEEP_ALL:
        return universal.prove_keep_all(tgt, pid, tgt.must_keep, seed=seed)
    if prop is Property.SHADOWED_RULES:
        return universal.shadowed_rules(tgt)
    if prop is Property.NEGATIVE_TRACE_SCOPE:
        from pytest_nectar.refinery.reference import Evaluator

        return lints.check_negative_trace_scope(Evaluator(tgt.rules_file, tgt.env))
    assert ctx is not None
    if prop is Property.BUDGET:
        return budget_mod.check_budget(ctx, tgt.budget, window_s, prepared, traffic)
    return _ON_CORPUS[prop](ctx)


#: The corpus properties that read only the shared evaluation.
_ON_CORPUS: Final[dict[Property, Callable[[corpus_mod.CorpusContext], PropertyResult]]] = {
    Property.FALLBACK: corpus_mod.check_fallback,
    Property.ERROR_PRESERVATION: corpus_mod.check_error_preservation,
    Property.MUST_KEEP: corpus_mod.check_must_keep,
    Property.UNREACHABLE_RULES: lints.check_unreachable,
    Property.UNKNOWN_FIELDS: lints.check_unknown_fields,
    Property.MIXED_TYPES: lints.check_mixed_types,
    Property.EQUIVALENCE: equivalence.check_equivalence,
}
