"""Corpus proofs: every property read off ONE vectorised evaluation of the compiled rules.

:class:`CorpusContext` holds the shared :class:`~pytest_nectar.refinery.vector.CorpusDecisions`
(computed once by :func:`evaluate_corpus`); ``fallback``, ``error-preservation``,
``must-keep``, ``budget`` and the corpus lints only index into its arrays.  The error and
must-keep expressions are judged on the corpus by the same vectorised evaluator (as probe
rules), in the same pass as the rules (:func:`evaluate_with_probes`), so "is an error
trace" has Refinery's exact semantics (``Datatype: int`` reads the string ``"503"`` as
503; no ``Datatype`` does not) at the cost of no extra pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from operator import itemgetter

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import Corpus, TraceTable
from pytest_nectar.prover.properties import Because, PropertyResult, Verdict, Witness
from pytest_nectar.prover.target import Target
from pytest_nectar.prover.witness import because_of, decide_command, make_witness
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig, RulesFile
from pytest_nectar.refinery.vector import CorpusDecisions, ProbedDecisions, evaluate_with_probes
from pytest_nectar.refinery.vector_outcomes import RuleTotals
from pytest_nectar.refinery.vector_parts import evaluate_parted, match_each

__all__ = [
    "MAX_WITNESSES",
    "CorpusContext",
    "check_error_preservation",
    "check_fallback",
    "check_must_keep",
    "error_counts",
    "evaluate_pass",
]

#: Witnesses shown per failing property (the total is always reported).
MAX_WITNESSES = 5
BoolArray = npt.NDArray[np.bool_]


def evaluate_pass(
    rules_file: RulesFile,
    corpus: TraceTable,
    env: str | None,
    *,
    probes: Sequence[RulesFile] = (),
    cluster: str | None = None,
    cluster_storage: str | None = None,
) -> ProbedDecisions:
    """The one evaluation of a corpus, wherever it runs: in memory, streamed partition by
    partition from disk (a corpus stored in partitions), or on a Dask cluster (its workers
    reading the corpus from ``cluster_storage`` when given)."""
    if cluster is not None:
        from pytest_nectar.prover.distributed import evaluate_on_cluster

        return evaluate_on_cluster(
            cluster, rules_file, corpus, env, probes=probes, storage=cluster_storage
        )
    if isinstance(corpus, Corpus):  # in memory: its arrays are the result, no placing
        return evaluate_with_probes(rules_file, corpus, env, probes=probes)
    return evaluate_parted(rules_file, corpus, env, probes=probes)


@dataclass
class CorpusContext:
    """One corpus evaluated once against one target's compiled rules."""

    target: Target
    #: the corpus in memory (:class:`Corpus`) or in partitions on disk (``PartedCorpus``)
    corpus: TraceTable
    #: where the corpus was read from (one path or several): replay commands name them all
    corpus_path: str | Sequence[str] | None
    decisions: CorpusDecisions
    evaluator: Evaluator
    #: The error probe's corpus mask, and the must-keep probes', when the evaluation
    #: computed them (else :attr:`error_mask` and :attr:`must_keep_mask` evaluate them).
    probed_error: BoolArray | None = None
    probed_must_keep: tuple[BoolArray, ...] | None = None
    #: Per named error criterion, its corpus mask, when the evaluation computed them.
    probed_criteria: tuple[BoolArray, ...] | None = None

    @classmethod
    def evaluate(
        cls,
        target: Target,
        corpus: TraceTable,
        corpus_path: str | Sequence[str] | None,
        *,
        error: bool = True,
        must_keep: bool = True,
        cluster: str | None = None,
        cluster_storage: str | None = None,
    ) -> CorpusContext:
        """One pass: the decisions, and the probes the properties need (``error``...).

        The error criteria ride along with the error probe (their rules are the error
        expression's own, so the pass shares their condition masks).  ``cluster``: run the
        pass on that Dask cluster (:mod:`.distributed`); a corpus in partitions is streamed
        one partition at a time.  The merged arrays equal the in-memory ones, so nothing
        read off them differs.
        """
        criteria = [p for _, p in target.error_criteria] if error else []
        probes = (
            ([target.error] if error else [])
            + (list(target.must_keep) if must_keep else [])
            + criteria
        )
        probe_rules = [p.rules_file for p in probes]
        probed = evaluate_pass(
            target.rules_file,
            corpus,
            target.env,
            probes=probe_rules,
            cluster=cluster,
            cluster_storage=cluster_storage,
        )
        masks = probed.probes
        n_keep = len(target.must_keep) if must_keep else 0
        return cls(
            target,
            corpus,
            corpus_path,
            probed.decisions,
            Evaluator(target.rules_file, target.env),
            probed_error=masks[0] if error else None,
            probed_must_keep=masks[int(error) : int(error) + n_keep] if must_keep else None,
            probed_criteria=masks[int(error) + n_keep :] if error else None,
        )

    @property
    def corpus_paths(self) -> tuple[str, ...]:
        if self.corpus_path is None:
            return ()
        if isinstance(self.corpus_path, str):
            return (self.corpus_path,)
        return tuple(self.corpus_path)

    @property
    def is_rules_based(self) -> bool:
        return isinstance(self.evaluator.sampler, RulesBasedSamplerConfig)

    @cached_property
    def rule_totals(self) -> tuple[RuleTotals, ...]:
        """Per-rule totals of the one evaluation (``nectar replay``'s figures), computed once."""
        return self.decisions.rule_totals(self.corpus)

    @cached_property
    def kept_for_sure(self) -> BoolArray:
        return np.asarray(self.decisions.keep == 1, dtype=np.bool_)

    @cached_property
    def error_mask(self) -> BoolArray:
        if self.probed_error is not None:
            return self.probed_error
        return self.target.error.corpus_mask(self.corpus)

    @cached_property
    def must_keep_mask(self) -> BoolArray:
        mask = np.asarray(self.corpus.must_keep, dtype=np.bool_).copy()
        if self.probed_must_keep is not None:
            for probed in self.probed_must_keep:
                mask |= probed
            return mask
        for probe in self.target.must_keep:
            mask |= probe.corpus_mask(self.corpus)
        return mask

    def witnesses(
        self, indices: Sequence[int], note: str = "", why: str | None = None
    ) -> tuple[Witness, ...]:
        """Witnesses for corpus traces; ``why`` ("error"/"must-keep") adds the criteria met."""
        out = []
        for i in list(indices)[:MAX_WITNESSES]:
            trace = self.corpus.trace(int(i))
            decision = self.decisions.decision(int(i))
            command = decide_command(
                self.target.rules_path, self.target.env, self.corpus_paths, trace.trace_id
            )
            because = because_of(self.target.criteria(why), trace, why) if why else ()
            if why == "must-keep" and self.corpus.must_keep[int(i)]:
                because = (Because("labelled must-keep in the corpus", what=why), *because)
            out.append(
                make_witness(
                    self.evaluator, trace, decision, command=command, note=note, because=because
                )
            )
        return tuple(out)

    def ids(self, mask: BoolArray) -> list[str]:
        where = np.flatnonzero(mask).tolist()
        if len(where) < 2:
            return [self.corpus.trace_ids[i] for i in where]
        # One C-level gather instead of a Python loop over numpy scalars.
        return list(itemgetter(*where)(self.corpus.trace_ids))


def _result(
    ctx: CorpusContext,
    pid: str,
    failing: BoolArray,
    checked: int,
    what: str,
    ok_text: str,
    why: str | None = None,
) -> PropertyResult:
    bad = np.flatnonzero(failing)
    if len(bad) == 0:
        return PropertyResult(pid, Verdict.PASS, ok_text, figures={"checked": checked})
    ids = ctx.ids(failing)
    shown = ", ".join(ids[:MAX_WITNESSES]) + (", ..." if len(ids) > MAX_WITNESSES else "")
    return PropertyResult(
        pid,
        Verdict.FAIL,
        f"{len(bad)} of {checked} {what}: {shown}",
        ctx.witnesses(bad[:MAX_WITNESSES].tolist(), why=why),
        total_failing=len(bad),
        figures={"checked": checked, "failing_trace_ids": ids},
    )


def check_fallback(ctx: CorpusContext) -> PropertyResult:
    """Which corpus traces no rule matches (Refinery then keeps them at rate 1)."""
    n = ctx.corpus.n_traces
    if not ctx.is_rules_based:
        kind = ctx.evaluator.sampler.KIND
        return PropertyResult("fallback", Verdict.PASS, f"{kind} decides every trace")
    unmatched = np.asarray(ctx.decisions.rule_index < 0, dtype=np.bool_)
    return _result(
        ctx,
        "fallback",
        unmatched,
        n,
        "traces fall through to Refinery's keep-unmatched default",
        f"every one of {n} traces is matched by a rule",
    )


def error_counts(ctx: CorpusContext) -> dict[str, int]:
    """Corpus traces per named error criterion (a trace counts under every one it meets)."""
    criteria = ctx.target.error_criteria
    if ctx.probed_criteria is not None:
        masks = ctx.probed_criteria
    else:
        masks = tuple(match_each([p.rules_file for _, p in criteria], ctx.corpus))
    return {name: int(mask.sum()) for (name, _), mask in zip(criteria, masks, strict=True)}


def check_error_preservation(ctx: CorpusContext) -> PropertyResult:
    """Error traces (the error expression, exactly) whose decision is not a certain keep.

    No error trace on the corpus is no evidence, never a pass: the verdict is a warning
    (a failure under ``strict``) that points at ``error-preservation-all``.
    """
    errors = ctx.error_mask
    n = int(errors.sum())
    res = _result(
        ctx,
        "error-preservation",
        errors & ~ctx.kept_for_sure,
        n,
        f"error traces ({ctx.target.error.text}) are not kept with probability 1",
        f"all {n} error traces ({ctx.target.error.text}) are kept with probability 1",
        why="error",
    )
    by_criterion = error_counts(ctx) if n else {}
    figures = {**res.figures, "traces": ctx.corpus.n_traces, "error_traces": n}
    if by_criterion:
        figures["error_traces_by_criterion"] = by_criterion
    if n == 0:
        return PropertyResult(
            res.id,
            Verdict.WARN,
            f"no evidence on the corpus: none of its {ctx.corpus.n_traces} traces is an error "
            f"trace ({ctx.target.error.text}); error-preservation-all decides it for every "
            "possible trace",
            figures=figures,
        )
    if res.verdict is Verdict.PASS and len(by_criterion) > 1:
        met = ", ".join(f"{k} {v}" for k, v in by_criterion.items() if v)
        summary = f"{res.summary} (by criterion: {met})"
        return replace(res, summary=summary, figures=figures)
    return replace(res, figures=figures)


def check_must_keep(ctx: CorpusContext) -> PropertyResult:
    """Must-keep traces (corpus labels and ``must_keep`` expressions) not kept for sure.

    Nothing to check (no ``must_keep``, no corpus label) is unknown, not a pass; expressions
    no corpus trace meets are no evidence: a warning pointing at ``must-keep-all``.
    """
    wanted = ctx.must_keep_mask
    n = int(wanted.sum())
    if n == 0 and not ctx.target.must_keep:
        return PropertyResult(
            "must-keep",
            Verdict.UNKNOWN,
            "nothing to check: the policy has no must_keep and the corpus labels no trace",
            figures={"checked": 0, "traces": ctx.corpus.n_traces},
        )
    if n == 0:
        return PropertyResult(
            "must-keep",
            Verdict.WARN,
            f"no evidence on the corpus: none of its {ctx.corpus.n_traces} traces meets a "
            "must_keep expression; must-keep-all decides it for every possible trace",
            figures={"checked": 0, "traces": ctx.corpus.n_traces},
        )
    return _result(
        ctx,
        "must-keep",
        wanted & ~ctx.kept_for_sure,
        n,
        "must-keep traces are not kept with probability 1",
        f"all {n} must-keep traces are kept with probability 1",
        why="must-keep",
    )
