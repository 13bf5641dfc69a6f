"""The project session: settings, corpus and targets resolved once, each evaluated once.

Every front end asks a :class:`ProjectSession` for results instead of assembling its own
path from a file to a verdict::

    session = ProjectSession(load_settings().with_options(error=args.error), properties=...)
    result = session.result("policies/checkout.toon")   # parsed, compiled, proven once
    result.proof.results["error-preservation"], result.proof.context.error_mask

The path is the same for all of them: the subject is read, parsed and compiled once
(:mod:`pytest_nectar.report.subject`); the error expression in force is resolved with the one
precedence (:func:`~pytest_nectar.project.settings.resolve_error`); the target is built once
(:func:`~pytest_nectar.prover.target.build_target`); the corpus is loaded once per session
and evaluated once per target with every probe (:func:`pytest_nectar.prover.prove`).
``explain``, ``diff``, ``prove``, the pytest items and ``propose`` read that result.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_nectar.errors import CorpusError, NectarError, Position
from pytest_nectar.project.result import TargetResult
from pytest_nectar.project.settings import ProjectSettings, load_settings, resolve_error
from pytest_nectar.report.document import DiffReport, ExplainReport, Missing, SettingRow

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import TraceTable
    from pytest_nectar.policy.model import Expr
    from pytest_nectar.prover import ProofReport
    from pytest_nectar.prover.target import Target
    from pytest_nectar.report.progress import Progress
    from pytest_nectar.report.subject import Subject

__all__ = [
    "CorpusMode",
    "ProjectSession",
    "describe_policy_change",
    "diff_subjects",
    "explain_subject",
    "in_memory_session",
    "target_of",
]


class CorpusMode(enum.Enum):
    """How a front end wants corpus problems: raised, shown in the report, or skipped."""

    STRICT = "strict"  # nectar prove: an unreadable corpus is an input error (exit 2)
    REPORT = "report"  # explain/diff: what cannot be loaded is a Missing entry
    LENIENT = "lenient"  # pytest: bad records skipped and counted; no trace files: None


def target_of(
    subject: Subject,
    settings: ProjectSettings | None,
    *,
    env: str | None = None,
    budget: float | None = None,
) -> Target:
    """The prover's target for a subject that can be evaluated: the one builder."""
    from pytest_nectar.prover.target import build_target

    assert subject.rules_file is not None
    error, origin = resolve_error(settings, subject.policy)
    return build_target(
        subject.rules_file,
        subject.env if subject.kind == "policy" else env,
        name=subject.label,
        error=error,
        error_origin=origin,
        must_keep=subject.must_keep,
        budget=budget if budget is not None else subject.budget,
        policy=subject.policy,
        compiled=subject.compiled,
        notes=subject.compiled.notes if subject.compiled is not None else (),
        rules_path=subject.path,
    )


class ProjectSession:
    """One run's settings, corpus and results; everything computed at most once."""

    def __init__(
        self,
        settings: ProjectSettings | None = None,
        *,
        env: str | None = None,
        budget: float | None = None,
        properties: Sequence[str] | None = None,
        seed: int | None = None,
        corpus_mode: CorpusMode = CorpusMode.REPORT,
        corpus_paths: Sequence[str] | None = None,
        progress: Progress | None = None,
        validate: bool = True,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.env = env
        self.budget = budget
        self.properties = tuple(properties) if properties else None
        self.seed = seed
        self.corpus_mode = corpus_mode
        self.progress = progress
        #: False: rules files load as Refinery started with ``--no-validate`` does.
        self.validate = validate
        if corpus_paths is None:
            corpus_paths = [str(p) for p in self.settings.corpus or ()]
        self.corpus_paths = tuple(corpus_paths)
        self._corpus: TraceTable | None = None
        self._corpus_loaded = False
        self._corpus_error: NectarError | None = None
        self._missing: tuple[Missing, ...] = ()
        self._subjects: dict[str, Subject] = {}
        # Keyed by identity; the subject is kept so that its id cannot be reused.
        self._results: dict[int, tuple[Subject, TargetResult]] = {}

    # -- the corpus -----------------------------------------------------------------------

    @property
    def corpus_label(self) -> str | None:
        return ", ".join(self.corpus_paths) if self.corpus_paths else None

    def corpus(self) -> TraceTable | None:
        """The corpus, loaded once (None: none configured, or not loadable in REPORT mode).

        Raises:
            CorpusError: STRICT and LENIENT modes, when it cannot be loaded (every call).
        """
        if not self._corpus_loaded:
            self._corpus_loaded = True
            try:
                self._corpus = self._load_corpus()
            except NectarError as err:
                self._corpus_error = err
        if self._corpus_error is not None:
            raise self._corpus_error
        return self._corpus

    def use_corpus(self, corpus: TraceTable | None) -> None:
        """Evaluate on a corpus the caller already loaded (the Python API, ``propose``)."""
        self._corpus, self._corpus_loaded, self._corpus_error = corpus, True, None

    def corpus_missing(self) -> tuple[Missing, ...]:
        """What a report should say about the corpus (REPORT mode)."""
        self.corpus()
        return self._missing

    def _load_corpus(self) -> TraceTable | None:
        from pytest_nectar.corpus.sizing import open_corpus
        from pytest_nectar.errors import EmptyCorpusError

        paths = list(self.corpus_paths)
        if not paths:
            return None
        rows = self.settings.partition_rows
        if self.corpus_mode is CorpusMode.REPORT:
            from pytest_nectar.report.analysis import load_report_corpus

            corpus, gaps = load_report_corpus(paths, self.progress, partition_rows=rows)
            self._missing = tuple(gaps)
            return corpus
        if self.corpus_mode is CorpusMode.STRICT:
            return open_corpus(paths, partition_rows=rows)
        for path in paths:
            if not Path(path).exists():
                raise CorpusError(
                    "configured corpus does not exist",
                    position=Position(path),
                    hint="set [tool.nectar] corpus or --nectar-corpus to a trace file or folder",
                )
        # Bad records are skipped and counted, so the proofs run on what is readable.
        workers = 1 if os.environ.get("PYTEST_XDIST_WORKER") else 0
        try:
            return open_corpus(paths, partition_rows=rows, skip_bad=True, workers=workers)
        except EmptyCorpusError:
            return None  # a fresh project (nectar init): no traces yet, proofs unknown

    # -- subjects and results -------------------------------------------------------------

    def subject(self, spec: str) -> Subject:
        """``spec`` read, parsed and compiled once."""
        from pytest_nectar.report.subject import load_subject

        found = self._subjects.get(spec)
        if found is None:
            if self.validate or spec.endswith(".toon"):
                found = load_subject(spec, env=self.env)
            else:
                found = self._unvalidated(spec)
            self._subjects[spec] = found
        return found

    def _unvalidated(self, spec: str) -> Subject:
        """A rules file decoded as Refinery's ``--no-validate`` start does (no validation).

        Raises:
            NectarError: it cannot be decoded, or has no sampler for the destination.
        """
        from pytest_nectar.compiler.compile import load_rules_or_policy
        from pytest_nectar.refinery import rules_model as rm
        from pytest_nectar.refinery.reference import Evaluator
        from pytest_nectar.report.subject import Subject

        rules_file = load_rules_or_policy(spec, validate=False)
        evaluator = Evaluator(rules_file, self.env)  # a missing destination: RulesError
        sampler = evaluator.sampler
        names: tuple[str | None, ...] = ()
        if isinstance(sampler, rm.RulesBasedSamplerConfig):
            names = tuple(r.name for r in sampler.rules or ())
        return Subject(
            label=spec,
            kind="rules",
            rules_file=rules_file,
            env=evaluator.destination,
            origins=names,
            path=spec,
        )

    def result(self, spec: str) -> TargetResult:
        return self.evaluate(self.subject(spec))

    def evaluate(self, subject: Subject, *, name: str | None = None) -> TargetResult:
        """The subject evaluated on the session's corpus, once.

        ``name`` replaces the target's name and witness path (the pytest items show paths
        relative to the project root).
        """
        key = id(subject)
        found = self._results.get(key)
        if found is not None:
            return found[1]
        original = subject
        error, _ = resolve_error(self.settings, subject.policy)
        subject = replace(subject, error=error)  # the expression in force, for the report
        if subject.rules_file is None:
            result = TargetResult(subject, None, None)
        else:
            result = self._prove(subject, name)
        self._results[key] = (original, result)
        return result

    def _prove(self, subject: Subject, name: str | None) -> TargetResult:
        from pytest_nectar.prover.universal import DEFAULT_SEED

        try:
            target = target_of(subject, self.settings, env=self.env, budget=self.budget)
        except NectarError as err:
            return TargetResult(subject, None, None, err)
        if name is not None:
            target = replace(target, name=name, rules_path=name)
        try:
            corpus = self.corpus()
        except NectarError:
            corpus = None  # the all-traces proofs still run; the caller reports the error
        try:
            if self.progress is not None:
                with self.progress.step(f"evaluating {subject.label}"):
                    proof = self._run(target, corpus, DEFAULT_SEED)
            else:
                proof = self._run(target, corpus, DEFAULT_SEED)
        except NectarError as err:
            return TargetResult(subject, target, None, err)
        return TargetResult(subject, target, proof)

    def _run(self, target: Target, corpus: TraceTable | None, default_seed: int) -> ProofReport:
        from pytest_nectar.prover import prove

        return prove(
            target,
            corpus=corpus,
            properties=self.properties,
            window_s=self.settings.window_s,
            seed=self.seed if self.seed is not None else default_seed,
            cluster=self.settings.cluster,
            cluster_storage=self.settings.cluster_storage,
            corpus_paths=self.corpus_paths,
            traffic=self.settings.traffic,
        )

    # -- what the front ends read ---------------------------------------------------------

    def explain(self, subject: Subject) -> ExplainReport:
        result = self.evaluate(subject)
        report = result.explain(
            self._report_corpus(), corpus_label=self.corpus_label, missing=self.corpus_missing()
        )
        return replace(report, settings=self.setting_rows())

    def setting_rows(self) -> tuple[SettingRow, ...]:
        """The effective settings and where each came from, for the reports."""
        rows = []
        for key, resolved in self.settings.to_json().items():
            origin = resolved["from"]
            rows.append(SettingRow(key, resolved["value"], origin["source"], origin["where"]))
        return tuple(rows)

    def diff(self, old: Subject, new: Subject) -> DiffReport:
        """OLD and NEW evaluated on the one corpus and compared (corpus and all traces)."""
        from pytest_nectar.report.diff import build_diff

        corpus = self._report_corpus()
        sides = []
        for subject in (old, new):
            result = self.evaluate(subject)
            side = result.explain(corpus, corpus_label=self.corpus_label)
            side = replace(side, settings=self.setting_rows())
            sides.append((result.subject, side, result.proof))
        report = build_diff(sides[0], sides[1], corpus, corpus_label=self.corpus_label)
        gaps = self.corpus_missing()
        return replace(report, missing=gaps + report.missing) if gaps else report

    def _report_corpus(self) -> TraceTable | None:
        try:
            return self.corpus()
        except NectarError:
            return None


def in_memory_session(
    corpus: TraceTable | None,
    corpus_label: str | None,
    window_s: float,
    error: Expr | None = None,
    progress: Progress | None = None,
) -> ProjectSession:
    """A session over a corpus already loaded (the Python API and ``propose``): no config
    file is read; ``error`` plays ``[tool.nectar] error`` (a policy's own wins)."""
    from pytest_nectar.project.settings import Source, default_settings

    settings = default_settings().with_values(Source.CONFIG, window_s=window_s, error=error)
    session = ProjectSession(
        settings, corpus_paths=[corpus_label] if corpus_label else [], progress=progress
    )
    session.use_corpus(corpus)
    return session


def explain_subject(
    subject: Subject,
    corpus: TraceTable | None,
    *,
    corpus_label: str | None,
    window_s: float = 60.0,
    missing: Sequence[Missing] = (),
    progress: Progress | None = None,
) -> ExplainReport:
    """Evaluate ``subject`` on ``corpus`` once and build its explain report."""
    session = in_memory_session(corpus, corpus_label, window_s, progress=progress)
    return session.evaluate(subject).explain(corpus, corpus_label=corpus_label, missing=missing)


def diff_subjects(
    old: Subject,
    new: Subject,
    corpus: TraceTable | None,
    *,
    corpus_label: str | None,
    window_s: float = 60.0,
    error: Expr | None = None,
    progress: Progress | None = None,
) -> DiffReport:
    """Evaluate both sides on ``corpus`` once each and compare them."""
    return in_memory_session(corpus, corpus_label, window_s, error, progress).diff(old, new)


def describe_policy_change(
    old_text: str, new_text: str, corpus: TraceTable | None = None, *, path: str = "policy.toon"
) -> str:
    """One line for a commit or PR: what NEW changes against OLD (on ``corpus`` if given).

    Raises:
        NectarError: a side is not a policy that parses.
    """
    from pytest_nectar.report.layout_diff import diff_summary
    from pytest_nectar.report.subject import subject_from_text

    old = subject_from_text(old_text, f"{path} (current)", name=path)
    new = subject_from_text(new_text, f"{path} (proposed)", name=path)
    parts = []
    if old.policy is not None and new.policy is not None:
        before = {r.name: r for r in old.policy.rules}
        after = {r.name: r for r in new.policy.rules}
        for word, names in (
            ("added", [r for r in after if r not in before]),
            ("removed", [r for r in before if r not in after]),
            ("changed", [r for r in after if r in before and after[r] != before[r]]),
        ):
            if names:
                parts.append(f"rules {word}: {', '.join(names)}")
    report = diff_subjects(old, new, corpus, corpus_label="corpus" if corpus else None)
    return "; ".join([*parts, diff_summary(report)])
