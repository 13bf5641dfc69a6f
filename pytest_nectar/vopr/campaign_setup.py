"""What every campaign of one run shares: the policy, its compiled rules, the traffic model.

The traffic rate defaults to the corpus's own: its weighted traces over the seconds between
its first and last event (the prover's budget reads the corpus the same way), 50 traces/s
when the corpus has no usable timestamps.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import UsageError
from pytest_nectar.policy.model import Policy
from pytest_nectar.trace import Trace
from pytest_nectar.vopr.clock import RateProcess
from pytest_nectar.vopr.refinery_sim import SimTarget
from pytest_nectar.vopr.traffic import DEFAULT_FIELDS, TrafficModel

__all__ = ["DEFAULT_RATE", "Setup"]

DEFAULT_RATE = 50.0


@dataclass(frozen=True, eq=False)
class Setup:
    """A policy compiled, a corpus modelled, and the options a replay must repeat."""

    target: SimTarget
    model: TrafficModel
    policy_text: str
    rate: RateProcess
    window_s: float
    samples: tuple[Trace, ...]  # a few corpus traces for the corrupted-rules checks
    source_args: tuple[str, ...]  # policy path, --corpus, --budget, --rate for replay lines

    @classmethod
    def build(
        cls,
        policy: str | os.PathLike[str] | Policy,
        corpus: Corpus | str | os.PathLike[str],
        *,
        budget: float | None = None,
        window_s: float = 60.0,
        rate: float | None = None,
    ) -> Setup:
        from pytest_nectar.compiler.compile import compile_policies
        from pytest_nectar.corpus.load import load_corpus
        from pytest_nectar.policy.interpreter import PolicyEvaluator
        from pytest_nectar.policy.parser import load_policy
        from pytest_nectar.policy.printer import format_policy

        if not (math.isfinite(window_s) and window_s > 0):
            raise UsageError("the budget window must be a positive number of seconds", got=window_s)
        args: list[str] = []
        if isinstance(policy, Policy):
            text = format_policy(policy)
        else:
            args.append(os.fspath(policy))
            with open(policy, encoding="utf-8") as f:
                text = f.read()
            policy = load_policy(policy)
        if not isinstance(corpus, Corpus):
            args += ["--corpus", os.fspath(corpus)]
            corpus = load_corpus(corpus)
        if corpus.n_traces == 0:
            raise UsageError("the corpus has no traces to learn traffic from")
        compiled = compile_policies([policy])
        env = policy.effective_environment
        if budget is not None:
            args += ["--budget", repr(float(budget))]
        target = SimTarget(
            policy,
            compiled.rules_file,
            env,
            float(budget) if budget is not None else _budget(policy),
            compiled.text,
        )
        if rate is None:
            rate = corpus_rate(corpus)
        else:
            args += ["--rate", repr(float(rate))]
        if window_s != 60.0:
            args += ["--window", repr(float(window_s))]
        holds = PolicyEvaluator(policy).holds
        error = policy.error_match
        ids = {*DEFAULT_FIELDS.trace_id, "meta.trace_id"}
        model = TrafficModel.from_corpus(
            corpus,
            is_error=lambda t: holds(error, t),
            rekey=bool(ids & target.read_fields()),
        )
        samples = tuple(corpus.trace(i) for i in range(min(8, corpus.n_traces)))
        return cls(target, model, text, RateProcess(base=rate), window_s, samples, tuple(args))


def _budget(policy: Policy) -> float | None:
    b = policy.budget_per_second
    return None if b is None else float(b)


def corpus_rate(corpus: Corpus) -> float:
    """Traces per second of the corpus (weighted), or :data:`DEFAULT_RATE` without timestamps."""
    duration = corpus.duration_s
    if not math.isfinite(duration) or duration <= 0:
        return DEFAULT_RATE
    return float(corpus.weight.sum()) / duration
