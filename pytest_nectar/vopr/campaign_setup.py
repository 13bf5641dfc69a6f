"""What every campaign of one run shares: the policy, its compiled rules, the traffic model.

The traffic rate is, in order: ``--rate`` (traces/s); the ``traffic`` setting (the
production rate the corpus stands for, traces/s or events/s); the corpus's own, learned per
capture (``corpus/captures.py``: a corpus of captures years apart is not one long quiet
window; the prover's budget reads it the same way).  A corpus without usable timestamps
assumes :data:`DEFAULT_RATE` and says so; a corpus whose captures all last an instant has
no rate at all, which is an error with the reason rather than a simulation of nothing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from pytest_nectar.corpus.captures import learn_rate
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import UsageError
from pytest_nectar.policy.model import Policy
from pytest_nectar.project.settings import ProjectSettings, Source, Traffic, resolve_error
from pytest_nectar.trace import Trace
from pytest_nectar.vopr.clock import RateProcess
from pytest_nectar.vopr.refinery_sim import SimTarget
from pytest_nectar.vopr.traffic import DEFAULT_FIELDS, TrafficModel

__all__ = ["DEFAULT_RATE", "Setup", "corpus_rate", "traffic_rate"]

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
    rate_note: str = ""  # where the traffic rate came from (shown with every result)

    @classmethod
    def build(
        cls,
        policy: str | os.PathLike[str] | Policy,
        corpus: Corpus | str | os.PathLike[str] | list[str],
        *,
        budget: float | None = None,
        window_s: float = 60.0,
        rate: float | None = None,
        traffic: Traffic | None = None,
        settings: ProjectSettings | None = None,
    ) -> Setup:
        """``settings`` supply the error expression as ``prove`` resolves it (None: the
        policy's own, else the default error criteria)."""
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
            paths = corpus if isinstance(corpus, list) else [os.fspath(corpus)]
            for path in paths:
                args += ["--corpus", path]
            corpus = load_corpus(paths)
        if corpus.n_traces == 0:
            raise UsageError("the corpus has no traces to learn traffic from")
        compiled = compile_policies([policy])
        env = policy.effective_environment
        if budget is not None:
            args += ["--budget", repr(float(budget))]
        error, origin = resolve_error(settings, policy)
        if origin.source is Source.COMMAND_LINE and settings is not None and settings.error:
            args += ["--error", settings.error]  # a replay line must judge by the same error
        target = SimTarget(
            policy,
            compiled.rules_file,
            env,
            float(budget) if budget is not None else _budget(policy),
            compiled.text,
            error,
        )
        if rate is None:
            rate, note = traffic_rate(corpus, traffic)
            if traffic is not None:
                args += ["--traffic", str(traffic)]
        else:
            args += ["--rate", repr(float(rate))]
            note = "given by --rate"
        if window_s != 60.0:
            args += ["--window", repr(float(window_s))]
        holds = PolicyEvaluator(policy).holds
        ids = {*DEFAULT_FIELDS.trace_id, "meta.trace_id"}
        model = TrafficModel.from_corpus(
            corpus,
            is_error=lambda t: holds(error, t),
            rekey=bool(ids & target.read_fields()),
        )
        samples = tuple(corpus.trace(i) for i in range(min(8, corpus.n_traces)))
        return cls(
            target, model, text, RateProcess(base=rate), window_s, samples, tuple(args), note
        )


def _budget(policy: Policy) -> float | None:
    b = policy.budget_per_second
    return None if b is None else float(b)


def corpus_rate(corpus: Corpus) -> float:
    """The corpus's traces per second while recording (per capture), else
    :data:`DEFAULT_RATE` when it has no capture long enough to learn a rate from."""
    learned = learn_rate(corpus).traces_per_s
    return learned if learned is not None else DEFAULT_RATE


def traffic_rate(corpus: Corpus, traffic: Traffic | None = None) -> tuple[float, str]:
    """Traces per second to simulate, and how they were found.

    Raises:
        UsageError: the corpus has timestamps but no capture longer than an instant, and no
            ``traffic`` says what it stands for: there is no rate to simulate.
    """
    learned = learn_rate(corpus)
    if traffic is not None and traffic.unit == "traces":
        return traffic.amount, f"traffic {traffic} (the traffic setting)"
    if traffic is not None:
        per_trace = float(corpus.n_rows) / max(corpus.n_traces, 1)
        return (
            traffic.amount / per_trace,
            f"traffic {traffic} / {per_trace:.4g} events per corpus trace",
        )
    if learned.traces_per_s is not None:
        return learned.traces_per_s, f"the corpus's rate, {learned.why}"
    if not learned.captures:
        return DEFAULT_RATE, (
            f"assumed {DEFAULT_RATE:g} traces/s: {learned.why}; set traffic to say what the "
            "corpus stands for"
        )
    raise UsageError(
        "the corpus yields no traffic to simulate",
        got=learned.why,
        hint='set traffic (e.g. "2000 traces/s") or pass --rate',
    )
