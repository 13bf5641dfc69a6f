"""``prove()``: load a policy or rules file, evaluate the corpus once, decide every property.

The public entry point for the CLI, the pytest plugin and the explain report::

    report = prove("policies/checkout.toon", corpus="corpus/")
    report.failed, report.results["error-preservation"].witnesses, report.decisions

A ``.toon`` policy is compiled first and the *compiled* rules are proven (what is deployed);
its ``error``, ``must_keep`` and ``budget_per_second`` are used unless ``error``/``budget``
override them.  A Refinery rules file is proven as it stands, with ``error`` (default
``http.status >= 500``) and ``budget`` from the caller.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import Position, UsageError
from pytest_nectar.policy.model import Policy, default_error_match
from pytest_nectar.prover import budget as budget_mod
from pytest_nectar.prover import corpus_proofs as corpus_mod
from pytest_nectar.prover import lints, universal
from pytest_nectar.prover.properties import ALL_PROPERTIES, PropertyResult, Verdict
from pytest_nectar.prover.target import Probe, Target, probe_of
from pytest_nectar.refinery.vector import CorpusDecisions

__all__ = ["ProofReport", "load_target", "prove"]

_NEEDS_CORPUS = frozenset(
    {
        "fallback",
        "error-preservation",
        "must-keep",
        "budget",
        "unreachable-rules",
        "unknown-fields",
        "mixed-types",
    }
)


@dataclass
class ProofReport:
    """Per-property results for one target, and the shared corpus decisions (if any)."""

    target: Target
    results: dict[str, PropertyResult]
    decisions: CorpusDecisions | None = None
    corpus: Corpus | None = None
    corpus_path: str | None = None
    notes: list[str] = field(default_factory=list)

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
            "properties": [r.to_json() for r in self.results.values()],
            "notes": list(self.notes),
        }


def _parse_error(text: str, nested: bool) -> Probe:
    from pytest_nectar.policy.match_parser import parse_match

    expr = parse_match(text, position=Position("--error", 1, 1))
    return probe_of(expr, nested=nested, text=text)


def load_target(
    path: str,
    *,
    env: str | None = None,
    error: str | None = None,
    budget: float | None = None,
    validate: bool = True,
) -> Target:
    """A policy (compiled) or a rules file (validated as Refinery would) to prove."""
    if path.endswith(".toon"):
        from pytest_nectar.compiler.compile import compile_policies
        from pytest_nectar.policy.parser import load_policy

        policy: Policy = load_policy(path)
        compiled = compile_policies([policy]).environments[policy.effective_environment]
        rules_file = compile_policies([policy]).rules_file
        nested = bool(policy.check_nested_fields)
        error_probe = (
            _parse_error(error, nested)
            if error is not None
            else probe_of(policy.error_match, nested=nested)
        )
        must_keep = tuple(probe_of(e, nested=nested) for e in policy.must_keep or ())
        return Target(
            name=path,
            rules_file=rules_file,
            env=policy.effective_environment,
            error=error_probe,
            must_keep=must_keep,
            budget=budget if budget is not None else policy.budget_per_second,
            policy=policy,
            compiled=compiled,
            notes=compiled.notes,
            rules_path=path,
        )
    from pytest_nectar.compiler.compile import load_rules_or_policy
    from pytest_nectar.refinery.reference import Evaluator
    from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig

    rules_file = load_rules_or_policy(path, validate=validate)
    Evaluator(rules_file, env)  # a missing destination is an input error, reported now
    entry = rules_file.samplers.get(env or "__default__") or rules_file.samplers.get("__default__")
    chosen = entry.select() if entry is not None else None
    nested = isinstance(chosen, RulesBasedSamplerConfig) and bool(chosen.check_nested_fields)
    error_probe = (
        _parse_error(error, nested)
        if error is not None
        else probe_of(default_error_match(), nested=nested)
    )
    return Target(path, rules_file, env, error_probe, budget=budget, rules_path=path)


def prove(
    target: str | os.PathLike[str] | Target,
    *,
    corpus: Corpus | str | os.PathLike[str] | None = None,
    env: str | None = None,
    properties: Sequence[str] | None = None,
    budget: float | None = None,
    error: str | None = None,
    window_s: float = 60.0,
    seed: int = universal.DEFAULT_SEED,
) -> ProofReport:
    """Decide the properties of one policy or rules file (see the module docstring).

    Raises:
        NectarError: the input does not load, parse or compile (a usage/input error).
    """
    wanted = list(properties) if properties else list(ALL_PROPERTIES)
    unknown = [p for p in wanted if p not in ALL_PROPERTIES]
    if unknown:
        raise UsageError(
            "unknown property", got=unknown[0], hint="use one of " + ", ".join(ALL_PROPERTIES)
        )
    if not (window_s > 0):
        raise UsageError("window must be a positive number of seconds", got=window_s)
    tgt = (
        target
        if isinstance(target, Target)
        else load_target(os.fspath(target), env=env, error=error, budget=budget)
    )
    corpus_path: str | None = None
    loaded: Corpus | None = None
    if isinstance(corpus, Corpus):
        loaded = corpus
    elif corpus is not None:
        from pytest_nectar.corpus import load_corpus

        corpus_path = os.fspath(corpus)
        loaded = load_corpus(corpus_path)
    report = ProofReport(tgt, {}, corpus=loaded, corpus_path=corpus_path, notes=list(tgt.notes))
    ctx: corpus_mod.CorpusContext | None = None
    windows: Future[tuple[budget_mod.BudgetWindows, float] | str] | None = None
    if loaded is not None and loaded.n_traces > 0:
        with ThreadPoolExecutor(max_workers=1) as pool:
            if "budget" in wanted:
                # The budget's sort and window search need no decisions: overlap them.
                windows = pool.submit(budget_mod.prepare_windows, loaded, window_s)
            ctx = corpus_mod.CorpusContext.evaluate(
                tgt,
                loaded,
                corpus_path,
                error="error-preservation" in wanted,
                must_keep="must-keep" in wanted,
            )
        report.decisions = ctx.decisions
    elif loaded is not None:
        report.notes.append("the corpus holds no traces: corpus properties are unknown")
    for pid in wanted:
        if pid in _NEEDS_CORPUS and ctx is None:
            why = "no corpus given (--corpus)" if loaded is None else "the corpus has no traces"
            report.results[pid] = PropertyResult(pid, Verdict.UNKNOWN, why)
            continue
        prepared = windows.result() if windows is not None else None
        report.results[pid] = _run(pid, tgt, ctx, window_s, seed, prepared)
    return report


def _run(
    pid: str,
    tgt: Target,
    ctx: corpus_mod.CorpusContext | None,
    window_s: float,
    seed: int,
    prepared: tuple[budget_mod.BudgetWindows, float] | str | None = None,
) -> PropertyResult:
    if pid == "error-preservation-all":
        return universal.prove_keep_all(tgt, pid, (tgt.error,), seed=seed)
    if pid == "must-keep-all":
        return universal.prove_keep_all(tgt, pid, tgt.must_keep, seed=seed)
    if pid == "shadowed-rules":
        return universal.shadowed_rules(tgt)
    if pid == "negative-trace-scope":
        from pytest_nectar.refinery.reference import Evaluator

        return lints.check_negative_trace_scope(Evaluator(tgt.rules_file, tgt.env))
    assert ctx is not None
    if pid == "fallback":
        return corpus_mod.check_fallback(ctx)
    if pid == "error-preservation":
        return corpus_mod.check_error_preservation(ctx)
    if pid == "must-keep":
        return corpus_mod.check_must_keep(ctx)
    if pid == "budget":
        return budget_mod.check_budget(ctx, tgt.budget, window_s, prepared)
    if pid == "unreachable-rules":
        return lints.check_unreachable(ctx)
    if pid == "unknown-fields":
        return lints.check_unknown_fields(ctx)
    return lints.check_mixed_types(ctx)
