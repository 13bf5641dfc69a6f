"""What each pytest item checks, and how its failure reads.

One function per item kind; each takes the
:class:`~pytest_nectar.pytest_plugin.items.NectarItem`, reads the session's shared analysis,
returns on success, calls ``pytest.skip`` when the check does not apply (with the reason), and
raises :class:`~pytest_nectar.pytest_plugin.items.PolicyFailure` with a report a policy author
can act on: the property and its meaning, the verdict, witnesses with the deciding rule and the
matched conditions, the counterexample of an all-traces proof, and a one-line replay command.
Facts for the terminal summary go into ``item.nectar_facts``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pytest

from pytest_nectar.errors import NectarError, UsageError
from pytest_nectar.policy.error_criteria import error_match
from pytest_nectar.pytest_plugin.items import PolicyFailure, rerun_line

if TYPE_CHECKING:
    from pytest_nectar.project.expectations import Expectation
    from pytest_nectar.prover import ProofReport
    from pytest_nectar.prover.properties import PropertyResult, Witness
    from pytest_nectar.pytest_plugin.items import NectarItem
    from pytest_nectar.pytest_plugin.session import PolicyAnalysis

__all__ = ["check_for", "check_parse", "expectation_check"]

_WITNESS_DIR: Final = ".nectar-cache/witnesses"
_SAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


def _analysis(item: NectarItem) -> PolicyAnalysis:
    return item.session_state.analysis(item.path)


def _skip(reason: str) -> NoReturn:
    """Skip, reported at the item's policy line rather than at this module's."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _limit(item: NectarItem) -> int:
    n = item.session_state.settings.witnesses
    return max(n, 10) if item.config.get_verbosity() > 0 else n


def _fail(item: NectarItem, lines: Sequence[str], detail: Sequence[str] = ()) -> PolicyFailure:
    return PolicyFailure("\n".join([*lines, rerun_line(item)]), "\n".join(detail))


def _policy_error(item: NectarItem, err: NectarError) -> PolicyFailure:
    return _fail(item, [err.render()])


# --- parse ------------------------------------------------------------------------------


def check_parse(item: NectarItem) -> None:
    analysis = _analysis(item)
    if analysis.policy is None:
        assert analysis.error is not None
        raise _policy_error(item, analysis.error)
    policy = analysis.policy
    item.nectar_facts.update(
        policy=policy.name,
        rules=[r.name for r in sorted(policy.rules, key=lambda r: -r.priority)],
        budget=policy.budget_per_second,
    )


# --- prover properties ------------------------------------------------------------------


def _result_of(report: ProofReport, prop: str) -> PropertyResult | None:
    return report.results.get(prop)


def _witness_file(item: NectarItem, witness: Witness, spans: Sequence[Any] | None) -> str | None:
    """Write a counterexample's trace where ``nectar decide`` can read it; its display path."""
    if spans is None:
        return None
    from pytest_nectar.trace_json import write_trace_file

    settings = item.session_state.settings
    name = _SAFE.sub("_", f"{Path(item.path).stem}-{witness.trace_id or 'counterexample'}")
    path = settings.root / _WITNESS_DIR / f"{name[:120]}.json"
    try:
        write_trace_file(path, witness.trace_id, spans)
    except OSError:
        return None
    return settings.display(path)


def _show_value(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _replay(item: NectarItem, witness: Witness, env: str) -> str:
    """The ``nectar decide`` command that replays a witness, with paths as the user sees them."""
    analysis = _analysis(item)
    settings = item.session_state.settings
    words = ["nectar", "decide", analysis.display]
    if witness.spans is not None:
        shown = _witness_file(item, witness, witness.spans)
        words += [shown] if shown is not None else ["TRACE.json"]
    else:
        for path in settings.corpus:
            words += ["--corpus", settings.display(path)]
        words += ["--trace-id", witness.trace_id]
    words += ["--env", env]
    return shlex.join(words)


def _property_failure(item: NectarItem, result: PropertyResult) -> PolicyFailure:
    analysis = _analysis(item)
    policy = analysis.require()
    from pytest_nectar.prover.proof_report import witness_lines

    limit = _limit(item)
    env = policy.effective_environment
    head = [
        f"{result.id}: {result.verdict.value.upper()} for policy {policy.name!r} "
        f"({analysis.display})",
        f"  property: {result.meaning}",
        f"  verdict: {result.summary}",
    ]
    shown = result.witnesses[:limit]
    if shown:
        total = max(result.total_failing, len(result.witnesses))
        head.append(f"  witnesses ({len(shown)} of {total}):")
        for witness in shown:
            replay = _replay(item, witness, env)
            head += [f"    {line}" for line in witness_lines(witness, replay=replay)]
    detail = [f"  {k}: {v}" for k, v in sorted(result.figures.items())]
    return _fail(item, head, ["figures:", *detail] if detail else [])


def _record(item: NectarItem, result: PropertyResult) -> None:
    item.nectar_facts["verdict"] = result.verdict.value
    item.nectar_facts["property"] = result.id
    item.user_properties.append(("nectar.verdict", result.verdict.value))
    item.nectar_facts["summary"] = result.summary
    item.nectar_facts["witnesses"] = [w.trace_id for w in result.witnesses]
    if result.figures:
        item.nectar_facts["figures"] = json.loads(json.dumps(result.figures, default=repr))


def _kept_share(report: ProofReport) -> dict[str, float]:
    """Expected kept share of the corpus traces (weighted by their incoming sample rate)."""
    corpus, decisions = report.corpus, report.decisions
    if corpus is None or decisions is None:
        return {}
    weights = corpus.weight
    total = float(weights.sum())
    if total <= 0:
        return {}
    kept = float((weights * decisions.keep_probability).sum())
    return {"kept_trace_share": kept / total}


def property_check(prop: str) -> Callable[[NectarItem], None]:
    def check(item: NectarItem) -> None:
        from pytest_nectar.prover.properties import Verdict

        analysis = _analysis(item)
        try:
            report = analysis.proof()
        except NectarError as err:
            raise _policy_error(item, err) from None
        result = _result_of(report, prop)
        if result is None:
            _skip(f"{prop}: not decided for this policy")
        _record(item, result)
        if prop == "budget":
            item.nectar_facts.update(_kept_share(report))
        if result.verdict is Verdict.PASS:
            return
        if result.verdict is Verdict.UNKNOWN:
            if analysis.corpus_error is not None:
                raise _policy_error(item, analysis.corpus_error)
            _skip(f"{prop}: unknown: {result.summary}")
        failure = _property_failure(item, result)
        if result.verdict is Verdict.WARN or result.severity == "warning":
            item.warn_or_fail(failure.text)
            return
        raise failure

    return check


# --- build checks -----------------------------------------------------------------------


def check_compiles(item: NectarItem) -> None:
    """The compiled rules load in Refinery (its validation); Nectar's warnings are lints."""
    from pytest_nectar.refinery.rules_reader import read_rules_text
    from pytest_nectar.refinery.rules_validate import validate_loaded
    from pytest_nectar.refinery.rules_writer import write_rules

    analysis = _analysis(item)
    try:
        text = write_rules(analysis.rules_file())
    except NectarError as err:
        raise _policy_error(item, err) from None
    where = f"<{analysis.display} compiled>"
    report = validate_loaded(read_rules_text(text, where))
    if report.errors:
        lines = [
            f"compiles: FAIL for {analysis.display}: Refinery would refuse the compiled rules",
            *(d.render() for d in report.errors[: _limit(item)]),
        ]
        raise _fail(item, lines, ["compiled rules:", text])
    item.nectar_facts["verdict"] = "pass"
    if report.warnings:
        item.warn_or_fail(
            f"compiles: {analysis.display}: the compiled rules load, with warnings:\n"
            + "\n".join(d.render() for d in report.warnings)
        )


def check_equivalence(item: NectarItem) -> None:
    analysis = _analysis(item)
    try:
        result = analysis.equivalence()
    except NectarError as err:
        raise _policy_error(item, err) from None
    if result is None:
        _skip("no corpus traces: none configured, or the corpus folder holds no trace files")
    item.nectar_facts["reached"] = dict(result.reached)
    item.nectar_facts["verdict"] = "pass" if not result.mismatch_count else "fail"
    if not result.mismatch_count:
        return
    sample = "" if result.checked == result.total else f" (an even sample of {result.total})"
    lines = [
        f"equivalence: FAIL for {analysis.display}: the compiled rules decide "
        f"{result.mismatch_count} of {result.checked} corpus traces{sample} "
        "unlike the policy",
    ]
    for m in result.mismatches[: _limit(item)]:
        lines += [
            f"  trace {m['trace_id']}:",
            f"      policy:   {m['policy']}",
            f"      compiled: {m['compiled']}",
        ]
    lines.append("  this is a compiler defect: please report it with the policy and the trace")
    raise _fail(item, lines)


def check_lockfile(item: NectarItem) -> None:
    """The committed rules file and lock are what ``nectar compile`` writes now."""
    state = item.session_state
    settings = state.settings
    rules, lock = settings.rules, settings.lock
    if rules is None or lock is None or not (rules.exists() or lock.exists()):
        _skip("no rules file and lock committed yet (nectar compile writes them)")
    _analysis(item).require()
    try:
        problems = state.lock_problems()
    except NectarError as err:
        raise _policy_error(item, err) from None
    item.nectar_facts["verdict"] = "fail" if problems else "pass"
    if problems:
        raise _fail(
            item,
            [
                f"lockfile: FAIL: {settings.display(rules)} and {settings.display(lock)} are "
                "not what the policies compile to now",
                *(f"  {p}" for p in problems),
                "  fix: run 'nectar compile' and commit both files",
            ],
        )


def check_policy_warnings(item: NectarItem) -> None:
    from pytest_nectar.policy.check import check_policy

    analysis = _analysis(item)
    policy = analysis.require()
    found = [d for d in check_policy(policy, source=analysis.source) if d.severity == "warning"]
    item.nectar_facts["verdict"] = "warn" if found else "pass"
    if found:
        item.warn_or_fail("\n".join(d.render() for d in found))


# --- simulation seeds -------------------------------------------------------------------


def check_vopr(item: NectarItem) -> None:
    from pytest_nectar.vopr import run_seed

    run = item.simulation
    assert run is not None, "a vopr item carries its campaign and seed"
    campaign, seed, seed_text = run.campaign, run.seed, run.seed_text
    analysis = _analysis(item)
    policy = analysis.require()
    settings = item.session_state.settings
    try:
        corpus = item.session_state.corpus()
    except NectarError as err:
        raise _policy_error(item, err) from None
    if corpus is None:
        _skip("a simulation learns its traffic from the corpus: none configured or empty")
    corpus = _in_memory(item, corpus, "a simulation learns its traffic from the corpus's rows")
    result = run_seed(
        policy,
        corpus,
        campaign,
        seed,
        window_s=settings.window_s,
        traffic=settings.project.traffic if settings.project is not None else None,
        settings=item.session_state.project().settings,  # the error as the prover reads it
    )
    passed = bool(getattr(result, "passed", False))
    problem = result.evidence()
    item.nectar_facts["verdict"] = "pass" if passed and problem is None else "fail"
    head = f"vopr: {{}} for {analysis.display}, campaign {campaign}, seed {seed_text}"
    if problem is not None and problem[0] == "error":
        raise _fail(item, [head.format("FAIL"), result.render()])
    if passed and problem is not None:
        item.nectar_facts["verdict"] = "warn"
        item.warn_or_fail(head.format("WARN") + "\n" + result.render())
        return
    if passed:
        return
    raise _fail(item, [head.format("FAIL"), result.render()])


# --- expectations -----------------------------------------------------------------------


def expectation_check(entry: Expectation | UsageError) -> Callable[[NectarItem], None]:
    def check(item: NectarItem) -> None:
        from pytest_nectar.project.expectations import check_expectation, explain_expected_rule

        if isinstance(entry, NectarError):
            raise _policy_error(item, entry)
        analysis = _analysis(item)
        names = [r.name for r in analysis.require().rules]
        if entry.rule_asserted and entry.rule is not None and entry.rule not in names:
            raise _fail(
                item,
                [
                    f"{entry.position}: expectation names a rule the policy does not have; "
                    f"got {entry.rule!r}; rules: {', '.join(names)} (or null for none)"
                ],
            )
        try:
            compiled = analysis.compiled()
            result = check_expectation(entry, compiled, analysis.rules_file())
        except NectarError as err:
            raise _policy_error(item, err) from None
        item.nectar_facts["expect_rule"] = result.rule
        if result.ok:
            return
        want = entry.decision + (f" (rate {entry.rate})" if entry.rate is not None else "")
        got = result.decision + (
            f" (rate {result.rate}, keep probability {result.keep_probability:g})"
            if result.decision == "sample"
            else ""
        )
        lines = [f"{entry.position}: expectation {entry.name!r} not met"]
        if entry.rule_asserted:
            lines.append(f"  expected rule {entry.rule!r}, decision {want}")
        else:
            lines.append(f"  expected decision {want}")
        lines.append(
            f"  got rule {result.rule!r} (compiled rule {result.compiled_rule!r}), decision {got}"
        )
        lines.append(f"  reason: {result.reason}")
        if entry.rule_asserted and entry.rule != result.rule:
            lines.append(f"  why {entry.rule!r} did not decide:")
            lines.extend(
                "    " + line
                for line in explain_expected_rule(entry, compiled, analysis.rules_file())
            )
        raise _fail(item, lines)

    return check


# --- corpus -----------------------------------------------------------------------------


def check_corpus_ingest(item: NectarItem) -> None:
    from collections import Counter

    state = item.session_state
    try:
        corpus = state.corpus()
    except NectarError as err:
        raise _policy_error(item, err) from None
    if corpus is None:
        _skip(
            f"{state.settings.corpus_display()} holds no trace files yet: add some (OTLP JSON, "
            "Jaeger, Zipkin or Honeycomb events) and the corpus proofs run"
        )
    item.nectar_facts["traces"] = corpus.n_traces
    other = [s for s in corpus.skipped if s.reason.startswith("non-trace record")]
    bad = [s for s in corpus.skipped if not s.reason.startswith("non-trace record")]
    item.user_properties.append(("nectar.skipped_non_trace", str(len(other))))
    if not bad:
        return
    reasons = Counter(s.reason for s in bad)
    lines = [
        f"corpus-ingest: FAIL: {len(bad)} record(s) of {state.settings.corpus_display()} "
        "could not be read and are not in the corpus",
        *(f"  {n} x {reason}" for reason, n in reasons.most_common(_MAX_REASONS)),
        "  examples:",
        *(f"    {s}" for s in bad[: _limit(item)]),
    ]
    raise _fail(item, lines)


_MAX_REASONS: Final = 10


def check_corpus_roots(item: NectarItem) -> None:
    corpus = _corpus_or_fail(item)
    import numpy as np

    rootless = [corpus.trace_ids[i] for i in np.flatnonzero(~corpus.has_root).tolist()]
    item.nectar_facts["rootless"] = len(rootless)
    if rootless:
        shown = ", ".join(rootless[: _limit(item)])
        item.warn_or_fail(
            f"corpus-roots: {len(rootless)} of {corpus.n_traces} traces have no root span "
            f"(e.g. {shown}); Refinery decides them without root fields ('root.' conditions "
            "are skipped, has_root is false)"
        )


def _corpus_or_fail(item: NectarItem) -> Any:
    try:
        corpus = item.session_state.corpus()
    except NectarError as err:
        raise _policy_error(item, err) from None
    if corpus is None:
        _skip("the corpus holds no trace files yet")
    return corpus


def _in_memory(item: NectarItem, corpus: Any, why: str) -> Any:
    """``corpus`` if it is held in memory; a corpus stored in partitions skips ``item``."""
    from pytest_nectar.corpus.table import Corpus

    if not isinstance(corpus, Corpus):
        rows = item.session_state.project().settings.partition_rows
        _skip(
            f"the corpus is stored in partitions (its input is estimated at over {rows} "
            f"events, [tool.nectar] partition_rows); {why}: raise partition_rows to hold it in "
            "memory"
        )
    return corpus


def _policy_fields(item: NectarItem) -> dict[tuple[str, ...], list[str]]:
    """Field groups the policies read -> the policies reading them.

    A group is one condition's fields: ``first(a, b)`` and aliases such as ``http.status``
    read whichever is present, so a group is missing only when none of its fields occurs.
    """
    from pytest_nectar.policy.model import And, Condition, Not, Or, SpanScope

    state = item.session_state
    out: dict[tuple[str, ...], set[str]] = {}

    def walk(expr: Any, who: str) -> None:
        if isinstance(expr, Condition):
            names = tuple(
                n.removeprefix("root.") for n in expr.field.names if not n.startswith("?.")
            )
            if names:
                out.setdefault(names, set()).add(who)
        elif isinstance(expr, Not):
            walk(expr.operand, who)
        elif isinstance(expr, And | Or):
            for e in expr.operands:
                walk(e, who)
        elif isinstance(expr, SpanScope):
            walk(expr.body, who)

    for path in state.policy_paths():
        analysis = state.analysis(path)
        if analysis.policy is None:
            continue
        p = analysis.policy
        for rule in p.rules:
            walk(rule.match, analysis.display)
        walk(error_match(p), analysis.display)
        for expr in p.must_keep or ():
            walk(expr, analysis.display)
    return {k: sorted(v) for k, v in sorted(out.items())}


def check_corpus_fields(item: NectarItem) -> None:
    from pytest_nectar.corpus.table import KIND_NAMES, KIND_NULL

    corpus = _corpus_or_fail(item)
    groups = _policy_fields(item)
    missing: list[str] = []
    mixed: dict[str, str] = {}
    for names, users in groups.items():
        who = ", ".join(users)
        present = [n for n in names if n in corpus.field_kinds]
        if not present:
            shown = names[0] if len(names) == 1 else "none of " + ", ".join(names)
            missing.append(f"  {shown} (read by {who}) never occurs in the corpus")
        for name in present:
            kinds = corpus.field_kinds[name]
            counts = {k: v for k, v in kinds.items() if k != KIND_NAMES[KIND_NULL]}
            if len(counts) > 1 and name not in mixed:
                examples = _type_examples(corpus, name)
                mixed[name] = (
                    f"  {name} (read by {who}) has several types: "
                    + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                    + (f"; e.g. {examples}" if examples else "")
                )
    item.nectar_facts["fields"] = len(groups)
    if missing or mixed:
        item.warn_or_fail(
            f"corpus-fields: of {len(groups)} fields (or field groups) the policies read, "
            f"{len(missing)} never occur and {len(mixed)} have mixed types:\n"
            + "\n".join(missing + list(mixed.values()))
        )


def _type_examples(corpus: Any, name: str) -> str:
    """One example value (and its trace) per type of a mixed field (the first partition
    holding each type, for a corpus stored in partitions)."""
    from pytest_nectar.corpus.parts import pieces
    from pytest_nectar.corpus.table import KIND_NAMES, KIND_NULL

    seen: dict[int, str] = {}
    for part, _ in pieces(corpus):
        column = part.columns.get(name)
        if column is None:
            continue
        for entry in range(len(column)):
            kind = int(column.kind[entry])
            if kind == KIND_NULL or kind in seen:
                continue
            trace = part.trace_ids[int(part.row_trace[int(column.rows[entry])])]
            seen[kind] = (
                f"{_show_value(column.value_at(entry))} ({KIND_NAMES[kind]}) in trace {trace}"
            )
            if len(seen) >= 4:
                return "; ".join(seen[k] for k in sorted(seen))
    return "; ".join(seen[k] for k in sorted(seen))


def corpus_has_decisions(state: Any) -> bool:
    """Whether the corpus carries Refinery's recorded decisions (``nectar reconcile``)."""
    from pytest_nectar.refinery.reconcile import DRYRUN_KEPT, REASON

    try:
        corpus = state.corpus()
    except NectarError:
        return False  # corpus-ingest reports it
    if corpus is None:
        return False
    return REASON in corpus.field_kinds or DRYRUN_KEPT in corpus.field_kinds


def check_corpus_reconcile(item: NectarItem) -> None:
    """``nectar reconcile`` of the policy's compiled rules against the recorded decisions."""
    from pytest_nectar.cli.reconcile import format_mismatch
    from pytest_nectar.refinery.reconcile import reconcile

    state = item.session_state
    corpus = _in_memory(item, _corpus_or_fail(item), "reconciling reads every event")
    paths = state.policy_paths()
    if len(paths) != 1:
        _skip(
            f"{len(paths)} policies: the corpus does not say which environment each trace "
            "went to; run 'nectar reconcile RULES --corpus PATH --env NAME' per environment"
        )
    analysis = state.analysis(paths[0])
    try:
        result = reconcile(analysis.rules_file(), corpus, analysis.compiled().environment)
    except NectarError as err:
        raise _policy_error(item, err) from None
    item.nectar_facts["reconciled"] = result.compared
    if result.ok:
        return
    raise _fail(
        item,
        [
            f"corpus-reconcile: FAIL: {len(result.mismatches)} of {result.compared} traces: "
            f"Refinery's recorded decision differs from {analysis.display}'s compiled rules",
            *(
                "  " + format_mismatch(m).replace("\n", "\n  ")
                for m in result.mismatches[: _limit(item)]
            ),
        ],
    )


# --- dispatch ---------------------------------------------------------------------------


def check_for(name: str, kind: str = "") -> Callable[[NectarItem], None]:
    """The check of an item named ``name`` (a property id, a build check, a lint, ...)."""
    fixed: dict[str, Callable[[NectarItem], None]] = {
        "parse": check_parse,
        "compiles": check_compiles,
        "equivalence": check_equivalence,
        "lockfile": check_lockfile,
        "policy-warnings": check_policy_warnings,
        "corpus-ingest": check_corpus_ingest,
        "corpus-roots": check_corpus_roots,
        "corpus-fields": check_corpus_fields,
        "corpus-reconcile": check_corpus_reconcile,
    }
    if name in fixed:
        return fixed[name]
    if kind == "vopr":
        return check_vopr
    return property_check(name)
