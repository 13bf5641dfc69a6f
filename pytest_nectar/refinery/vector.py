"""The vectorised evaluator: Refinery's decision for every trace of a columnar corpus at once.

It gives exactly the reference evaluator's decision (:mod:`.reference`) for every trace;
differential tests hold it to that.  How (refinery-semantics.md 3-5):

- **Field resolution** per condition, over the sparse columns: ``Fields`` in order, the
  first *present* field of each row wins (``meta.*`` fields with dedicated storage only
  exist when non-zero), ``root.`` fields read the trace's root row and are skipped without
  one, ``?.NUM_DESCENDANTS`` is the trace length.  A condition becomes the value it takes
  on rows where no field resolved (``Matches(nil, false)``) plus the *exception* rows whose
  result differs; rows never need a dense value array.
- **Values** are judged per column entry by :mod:`.vector_conditions` (per distinct value,
  or numpy kernels for the numeric cases).
- **Trace scope**: each condition on any row (a scatter of the exception rows' traces, or a
  count against the trace length when missing fields satisfy it); ``has-root-span`` from
  the root row.  **Span scope**: one row satisfying every condition (row-set intersection).
- **First match** over the rules; "no rule matched" keeps at rate 1.  Outcomes: ``Drop``,
  ``SampleRate`` (missing means 0, a drop), downstream samplers' first-call rate with the
  trace key (computed only for the traces they decide, from just the key fields).
- **CheckNestedFields**: a gjson lookup runs only where direct resolution failed and can
  only hit through a list/dict value (Honeycomb JSON) or a dotted/escaped field name.  The
  traces where that is possible at all are decided by the reference evaluator instead
  (``CorpusDecisions.fallback``); a vectorised gjson is not worth its risk.

Rules are evaluated in two threads on big corpora (numpy releases the GIL).  Rules with
the same scope and conditions are evaluated once, and so is a trace-scope condition shared
by several rules.  **Probes** (:func:`evaluate_with_probes`: extra expressions given as
rules, such as the prover's error expression) are evaluated in the same pass, sharing the
field resolution, condition masks and identical rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, TypeAlias

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import (
    KIND_BOOL,
    KIND_INT,
    KIND_OTHER,
    KIND_STRING,
    Column,
    Corpus,
    StringPool,
)
from pytest_nectar.refinery.conditions import CompiledCondition
from pytest_nectar.refinery.gjson import first_key
from pytest_nectar.refinery.metadata import DERIVED_META, USER_AGENT
from pytest_nectar.refinery.reference import Decision, Evaluator, user_agent_error
from pytest_nectar.refinery.rules_model import RulesBasedSamplerConfig, RulesFile
from pytest_nectar.refinery.values import META_BOOL_FIELDS, META_INT64_FIELDS, META_STRING_FIELDS
from pytest_nectar.refinery.vector_conditions import column_kinds, condition_key, entry_matches
from pytest_nectar.refinery.vector_explain import (
    ConditionWitness,
    MatchExplanation,
    explain_match,
)
from pytest_nectar.refinery.vector_outcomes import (
    CorpusDecisions,
    FirstCalls,
    RuleTotals,
    decide_outcomes,
)

__all__ = [
    "ConditionWitness",
    "CorpusDecisions",
    "Decision",
    "MatchExplanation",
    "ProbedDecisions",
    "RuleTotals",
    "evaluate_corpus",
    "evaluate_with_probes",
    "explain_match",
    "rule_matches",
]

BoolArray = npt.NDArray[np.bool_]
Int64Array = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

#: Below this many rows one thread is faster than two.
_THREAD_ROWS: Final = 200_000


@dataclass
class _CondRows:
    """A condition per row: ``miss`` on unresolved rows, the opposite on exception rows.

    The exceptions are ``column.rows[sel]`` (one plain field: computed lazily, and
    testable at given rows without materialising them) or an explicit ``rows`` array.
    ``trace_level`` instead, for ``?.NUM_DESCENDANTS`` (the same value on every row).
    """

    def __init__(
        self,
        ctx: _Context,
        miss: bool,
        *,
        column: Column | None = None,
        sel: BoolArray | None = None,
        rows: Int64Array | None = None,
        sorted_rows: bool = True,
        trace_level: BoolArray | None = None,
    ) -> None:
        self.ctx = ctx
        self.miss = miss
        self.column = column
        self.sel = sel
        self._rows = rows
        self._sorted = sorted_rows
        self.trace_level = trace_level

    def rows(self) -> Int64Array:
        """The exception rows (unique; in no particular order)."""
        if self._rows is None:
            assert self.column is not None and self.sel is not None
            self._rows = self.column.rows[self.sel]
        return self._rows

    def sorted_rows(self) -> Int64Array:
        rows = self.rows()
        if not self._sorted:
            rows = self._rows = np.sort(rows)
            self._sorted = True
        return rows

    def traces(self) -> Int32Array:
        """The exception rows' traces."""
        if self._rows is None and self.column is not None:
            assert self.sel is not None
            return self.ctx.col_trace(self.column)[self.sel]
        return self.ctx.row_trace[self.rows()]

    def at(self, rows: Int64Array) -> BoolArray:
        """Which of the (sorted, unique) ``rows`` are exceptions."""
        if self.column is not None and self._rows is None:
            assert self.sel is not None
            col_rows = self.column.rows
            if len(col_rows) == 0:
                return np.zeros(len(rows), dtype=np.bool_)
            idx = np.minimum(np.searchsorted(col_rows, rows), len(col_rows) - 1)
            hit: BoolArray = (col_rows[idx] == rows) & self.sel[idx]
            return hit
        exc = self.sorted_rows()
        if len(exc) == 0:
            return np.zeros(len(rows), dtype=np.bool_)
        found: BoolArray = exc[np.minimum(np.searchsorted(exc, rows), len(exc) - 1)] == rows
        return found


class _Context:
    """Per-evaluation caches over one corpus (safe to share between threads)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.n_rows = corpus.n_rows
        self.n_traces = corpus.n_traces
        self.offsets = corpus.trace_offsets
        self.lengths = np.diff(corpus.trace_offsets).astype(np.int64)
        self.row_trace = corpus.row_trace
        self.has_root = corpus.root_row >= 0
        self._matches: dict[tuple[object, ...], BoolArray] = {}
        self._kinds: dict[int, list[int]] = {}
        self._present: dict[str, BoolArray | None] = {}
        self._root_entries: dict[tuple[str, bool], Int64Array] = {}
        self._col_trace: dict[int, Int32Array] = {}
        self._satisfied: dict[tuple[object, ...], BoolArray] = {}
        self._derived: dict[str, Column] = {}
        lengths = self.lengths
        self.descendants = Column(
            name="?.NUM_DESCENDANTS",
            rows=np.arange(self.n_traces, dtype=np.int64),
            kind=np.full(self.n_traces, KIND_INT, dtype=np.uint8),
            ints=lengths,
            floats=lengths.astype(np.float64),
            codes=np.full(self.n_traces, -1, dtype=np.int32),
            strings=StringPool.from_strings([]),
        )

    def column(self, name: str) -> Column | None:
        """The corpus column ``name``; the router's ``meta.refinery.root`` and
        ``meta.trace_id`` (:mod:`.metadata`) are built from the root flags and trace ids."""
        if name not in DERIVED_META:
            return self.corpus.columns.get(name)
        found = self._derived.get(name)
        if found is None:
            found = self._derived[name] = _derived_column(self.corpus, name)
        return found

    def matches(self, column: Column, cc: CompiledCondition) -> BoolArray:
        key = (id(column), *condition_key(cc))
        out = self._matches.get(key)
        if out is None:
            kinds = self._kinds.get(id(column))
            if kinds is None:
                kinds = self._kinds[id(column)] = column_kinds(column)
            out = self._matches[key] = entry_matches(column, cc, kinds)
        return out

    def present(self, column: Column, key: str, is_meta: bool) -> BoolArray | None:
        """Which entries exist for Refinery (None: all); only special ``meta.*`` differ."""
        if not is_meta or key not in _SPECIAL_META:
            return None
        if key not in self._present:
            if key in META_STRING_FIELDS:
                empty = column.strings.index_of("")
                ok = column.kind == KIND_STRING
                self._present[key] = ok & (column.codes != empty) if empty >= 0 else ok
            elif key in META_BOOL_FIELDS:
                self._present[key] = column.kind == KIND_BOOL
            else:
                self._present[key] = (column.kind == KIND_INT) & (column.ints != 0)
        return self._present[key]

    def col_trace(self, column: Column) -> Int32Array:
        """Per entry of ``column``, its trace (once per column, shared by its conditions)."""
        out = self._col_trace.get(id(column))
        if out is None:
            out = self._col_trace[id(column)] = self.row_trace[column.rows]
        return out

    def root_entries(self, column: Column, key: str, is_meta: bool) -> Int64Array:
        """Per trace, the entry of ``column`` on the root row (-1: no root or absent)."""
        ckey = (key, is_meta)
        out = self._root_entries.get(ckey)
        if out is None:
            out = np.full(self.n_traces, -1, dtype=np.int64)
            with_root = np.flatnonzero(self.has_root)
            roots = self.corpus.root_row[with_root]
            if len(column):
                idx = np.minimum(np.searchsorted(column.rows, roots), len(column) - 1)
                found = column.rows[idx] == roots
                present = self.present(column, key, is_meta)
                if present is not None:
                    found &= present[idx]
                out[with_root[found]] = idx[found]
            self._root_entries[ckey] = out
        return out

    def expand(self, traces: Int64Array) -> Int64Array:
        """All rows of ``traces``."""
        starts = self.offsets[traces]
        lens = self.offsets[traces + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
        return shift + np.arange(total, dtype=np.int64)


_SPECIAL_META: Final = META_STRING_FIELDS | META_BOOL_FIELDS | META_INT64_FIELDS


def _derived_column(corpus: Corpus, name: str) -> Column:
    """``meta.refinery.root`` (bool, every row but logs) or ``meta.trace_id`` (every row)."""
    n = corpus.n_rows
    if name == "meta.trace_id":
        rows = np.arange(n, dtype=np.int64)
        return Column(
            name=name,
            rows=rows,
            kind=np.full(n, KIND_STRING, dtype=np.uint8),
            ints=np.zeros(n, dtype=np.int64),
            floats=np.zeros(n, dtype=np.float64),
            codes=corpus.row_trace.astype(np.int32),
            strings=StringPool.from_strings(list(corpus.trace_ids)),
        )
    keep = np.ones(n, dtype=np.bool_)
    signal = corpus.columns.get("meta.signal_type")
    if signal is not None:
        log = signal.strings.index_of("log")
        if log >= 0:
            keep[signal.rows[(signal.kind == KIND_STRING) & (signal.codes == log)]] = False
    rows = np.flatnonzero(keep).astype(np.int64)
    m = len(rows)
    return Column(
        name=name,
        rows=rows,
        kind=np.full(m, KIND_BOOL, dtype=np.uint8),
        ints=corpus.is_root[rows].astype(np.int64),
        floats=np.zeros(m, dtype=np.float64),
        codes=np.full(m, -1, dtype=np.int32),
        strings=StringPool.from_strings([]),
    )


def _condition_rows(ctx: _Context, cc: CompiledCondition) -> _CondRows:
    miss = cc.evaluate(None, False)
    if cc.computed_descendants:
        level = ctx.matches(ctx.descendants, cc) & (ctx.lengths > 0)
        return _CondRows(ctx, miss, trace_level=level)
    found = [(ctx.column(k), k, r, m) for k, r, m in cc.lookups]
    lookups = [(c, k, r, m) for c, k, r, m in found if c is not None]
    if len(lookups) == 1 and not lookups[0][2]:
        column, key, _, is_meta = lookups[0]
        matched = ctx.matches(column, cc)
        sel = ~matched if miss else matched
        present = ctx.present(column, key, is_meta)
        if present is not None:
            sel = sel & present
        return _CondRows(ctx, miss, column=column, sel=sel)
    if lookups and all(is_root for _, _, is_root, _ in lookups):
        # Every row reads the root span: one value per trace (Refinery's checkedOnlyRoot).
        level = np.full(ctx.n_traces, miss, dtype=np.bool_)
        unresolved = np.ones(ctx.n_traces, dtype=np.bool_)
        for column, key, _, is_meta in lookups:
            entries = ctx.root_entries(column, key, is_meta)
            now = np.flatnonzero(unresolved & (entries >= 0))
            level[now] = ctx.matches(column, cc)[entries[now]]
            unresolved[now] = False
        return _CondRows(ctx, miss, trace_level=level & (ctx.lengths > 0))
    parts: list[Int64Array] = []
    taken_rows: BoolArray | None = None
    taken_traces: BoolArray | None = None
    for n, (column, key, is_root, is_meta) in enumerate(lookups):
        matched = ctx.matches(column, cc)
        if is_root:
            entries = ctx.root_entries(column, key, is_meta)
            resolved = entries >= 0
            with_value = np.flatnonzero(resolved)
            rows = ctx.expand(with_value[matched[entries[with_value]] != miss])
            candidates = rows
        else:
            present = ctx.present(column, key, is_meta)
            rows = column.rows if present is None else column.rows[present]
            mm = matched if present is None else matched[present]
            candidates = rows[mm != miss]
        # Rows an earlier field resolved are not this field's (checked on candidates only).
        if taken_rows is not None:
            candidates = candidates[~taken_rows[candidates]]
        if taken_traces is not None:
            candidates = candidates[~taken_traces[ctx.row_trace[candidates]]]
        parts.append(candidates)
        if n == len(lookups) - 1:
            break
        if is_root:
            taken_traces = resolved if taken_traces is None else taken_traces | resolved
        else:
            if taken_rows is None:
                taken_rows = np.zeros(ctx.n_rows, dtype=np.bool_)
            taken_rows[rows] = True
    rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return _CondRows(ctx, miss, rows=rows, sorted_rows=len(parts) <= 1)


def _trace_satisfied(ctx: _Context, cond: _CondRows) -> BoolArray:
    if cond.trace_level is not None:
        return cond.trace_level
    if cond.miss:
        counts = np.bincount(cond.traces(), minlength=ctx.n_traces)
        return counts < ctx.lengths
    out = np.zeros(ctx.n_traces, dtype=np.bool_)
    out[cond.traces()] = True
    return out


def _condition_identity(cc: CompiledCondition) -> tuple[object, ...]:
    """Everything a condition's per-trace result depends on (equal: the same result)."""
    return (cc.fields, cc.computed_descendants, *condition_key(cc))


def _trace_condition(ctx: _Context, cc: CompiledCondition) -> BoolArray:
    """Which traces satisfy ``cc`` on some row (shared by rules with the same condition).

    Callers must not modify the result.
    """
    key = _condition_identity(cc)
    out = ctx._satisfied.get(key)
    if out is None:
        # Concurrent threads may both compute it: a harmless duplicate.
        out = ctx._satisfied[key] = _trace_satisfied(ctx, _condition_rows(ctx, cc))
    return out


def _match_trace_scope(ctx: _Context, conditions: Sequence[CompiledCondition]) -> BoolArray:
    matched = np.ones(ctx.n_traces, dtype=np.bool_)
    for cc in conditions:
        if cc.is_has_root_span:
            matched &= ctx.has_root == cc.root_span_wanted
        else:
            matched &= _trace_condition(ctx, cc)
        if not matched.any():
            break
    return matched


def _match_span_scope(ctx: _Context, conditions: Sequence[CompiledCondition]) -> BoolArray:
    trace_ok = ctx.lengths > 0
    conds = []
    for cc in conditions:
        cond = _condition_rows(ctx, cc)
        if cond.trace_level is not None:
            trace_ok &= cond.trace_level
        else:
            conds.append(cond)
    # Start from a condition that names its satisfying rows (usually few), then test only
    # those rows against the others; all-negative rules count excluded rows per trace.
    conds.sort(key=lambda c: c.miss)
    if conds and not conds[0].miss:
        rows = conds[0].sorted_rows()
        rows = rows[trace_ok[ctx.row_trace[rows]]]
        for cond in conds[1:]:
            if len(rows) == 0:
                break
            hit = cond.at(rows)
            rows = rows[~hit] if cond.miss else rows[hit]
        out = np.zeros(ctx.n_traces, dtype=np.bool_)
        out[ctx.row_trace[rows]] = True
        return out
    if not conds:
        return trace_ok
    excluded = np.zeros(ctx.n_rows, dtype=np.bool_)
    for cond in conds:
        excluded[cond.rows()] = True
    counts = np.bincount(ctx.row_trace[np.flatnonzero(excluded)], minlength=ctx.n_traces)
    return (counts < ctx.lengths) & trace_ok


def _rule_matches(
    ctx: _Context, scope: str, conditions: tuple[CompiledCondition, ...] | None
) -> BoolArray:
    if conditions is None or scope not in ("", "trace", "span"):
        return np.ones(ctx.n_traces, dtype=np.bool_)
    if scope == "span":
        return _match_span_scope(ctx, conditions)
    return _match_trace_scope(ctx, conditions)


def _nested_traces(ctx: _Context, evaluator: Evaluator) -> BoolArray:
    """Traces where a CheckNestedFields lookup could find anything (a superset)."""
    affected = np.zeros(ctx.n_traces, dtype=np.bool_)
    seen: set[tuple[str, bool]] = set()
    for _, conditions in evaluator.compiled_rules:
        for cc in conditions or ():
            if cc.computed_descendants or cc.is_has_root_span:
                continue
            last_is_root = bool(cc.fields) and cc.fields[-1].startswith("root.")
            for name in cc.fields:
                first = first_key(name)
                if first is None:  # a wildcard may match any key: every trace
                    affected[:] = ctx.lengths > 0
                    return affected
                key, more = first
                if not more:
                    # A plain name was looked up directly on the same span, unless the
                    # nested lookup runs on the root span (Refinery's last-field quirk).
                    if key == name and not last_is_root:
                        continue
                    seen.add((key, False))
                else:
                    seen.add((key, True))
    for name, other_only in sorted(seen):
        column = ctx.column(name)
        if column is None:
            continue
        rows = column.rows[column.kind == KIND_OTHER] if other_only else column.rows
        affected[ctx.row_trace[rows]] = True
    return affected


_Job: TypeAlias = tuple[str, "tuple[CompiledCondition, ...] | None"]


def _job_key(job: _Job) -> tuple[object, ...]:
    """Jobs with equal keys match the same traces (see :func:`_rule_matches`)."""
    scope, conditions = job
    if conditions is None or scope not in ("", "trace", "span"):
        return ("everything",)
    kind = "span" if scope == "span" else "trace"
    return (kind, *(_condition_identity(cc) for cc in conditions))


def _rule_jobs(evaluator: Evaluator) -> list[_Job]:
    if not isinstance(evaluator.sampler, RulesBasedSamplerConfig):
        return []
    return [(rule.scope or "", conds) for rule, conds in evaluator.compiled_rules]


def rule_matches(
    rules_file: RulesFile, corpus: Corpus, env: str | None = None, *, threads: int = 2
) -> tuple[BoolArray, ...]:
    """Per rule of the destination, which traces it matches on its own (no first-match).

    Exact except for CheckNestedFields traces (see :func:`evaluate_corpus`).
    """
    evaluator = Evaluator(rules_file, env)
    jobs = [(rule.scope or "", conds) for rule, conds in evaluator.compiled_rules]
    unique = _run_jobs(_Context(corpus), jobs, threads, lambda _: None)
    seen: set[int] = set()
    out = []
    for job in jobs:
        matched = unique[_job_key(job)]
        # Identical rules share one array: hand each caller an array of its own.
        out.append(matched.copy() if id(matched) in seen else matched)
        seen.add(id(matched))
    return tuple(out)


def _run_jobs(
    ctx: _Context,
    jobs: Sequence[_Job],
    threads: int,
    first: Callable[[dict[tuple[object, ...], BoolArray]], None],
    n_first: int | None = None,
) -> dict[tuple[object, ...], BoolArray]:
    """Each distinct job's matches, by :func:`_job_key`.

    ``first`` is called once the first ``n_first`` jobs (default: all) are done, while the
    others may still run in the pool: the caller overlaps its own work with theirs.
    """
    keyed: dict[tuple[object, ...], _Job] = {}
    for job in jobs:
        keyed.setdefault(_job_key(job), job)
    cut = len(jobs) if n_first is None else n_first
    first_keys = {_job_key(job) for job in jobs[:cut]}
    out: dict[tuple[object, ...], BoolArray] = {}
    if threads > 1 and ctx.n_rows >= _THREAD_ROWS and len(keyed) > 1:
        # Column caches are filled concurrently; a duplicate computation is harmless.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = {k: pool.submit(_rule_matches, ctx, *job) for k, job in keyed.items()}
            for k in first_keys:
                out[k] = futures[k].result()
            first(out)
            for k, future in futures.items():
                out[k] = future.result()
        return out
    for k in first_keys:
        out[k] = _rule_matches(ctx, *keyed[k])
    first(out)
    for k, job in keyed.items():
        if k not in out:
            out[k] = _rule_matches(ctx, *job)
    return out


@dataclass(frozen=True, eq=False)
class ProbedDecisions:
    """The decisions, and per probe which traces it matches (any of its rules, on its own)."""

    decisions: CorpusDecisions
    probes: tuple[BoolArray, ...]


def _require_user_agent(evaluator: Evaluator, corpus: Corpus) -> None:
    """:func:`~.reference.require_user_agent` over the whole corpus at once."""
    where = evaluator.user_agent_reader
    if where is None:
        return
    column = corpus.columns.get(USER_AGENT)
    if column is None:
        if corpus.n_rows:
            raise user_agent_error(where)
        return
    empty = column.strings.index_of("")
    usable = (column.kind == KIND_STRING) & (column.codes != empty)
    if int(usable.sum()) < corpus.n_rows:
        raise user_agent_error(where)


def evaluate_corpus(
    rules_file: RulesFile,
    corpus: Corpus,
    env: str | None = None,
    *,
    now: float = 0.0,
    threads: int = 2,
) -> CorpusDecisions:
    """Refinery's decision for every trace of ``corpus``, as the reference would give it.

    ``env`` picks the destination (``__default__`` when absent, as Refinery does); ``now``
    is the time of the stateless downstream samplers' first call (see ``Evaluator``).
    Raises ``RulesError`` where the reference would (no sampler for the destination, a
    DeterministicSampler with rate 0 deciding a trace).
    """
    return evaluate_with_probes(rules_file, corpus, env, now=now, threads=threads).decisions


def evaluate_with_probes(
    rules_file: RulesFile,
    corpus: Corpus,
    env: str | None = None,
    *,
    probes: Sequence[RulesFile] = (),
    now: float = 0.0,
    threads: int = 2,
    first_calls: FirstCalls | None = None,
) -> ProbedDecisions:
    """:func:`evaluate_corpus`, and in the same pass which traces each probe matches.

    A probe is a rules file whose default destination's rules stand for an expression (it
    holds where any rule matches on its own, as :func:`rule_matches` decides, so
    CheckNestedFields traces are not set apart).  Probes share the pass's field
    resolution, condition masks, and the result of any rule identical to one of theirs.
    The returned arrays are the caller's, but must be treated as read-only.
    """
    evaluator = Evaluator(rules_file, env)
    _require_user_agent(evaluator, corpus)
    probe_jobs = [_rule_jobs(Evaluator(probe)) for probe in probes]
    ctx = _Context(corpus)
    n = corpus.n_traces
    rule_index = np.full(n, -1, dtype=np.int32)
    fallback = np.zeros(n, dtype=np.bool_)
    jobs = _rule_jobs(evaluator)
    decided: list[CorpusDecisions] = []

    def decide(done: dict[tuple[object, ...], BoolArray]) -> None:
        # Runs while the pool may still evaluate probe-only rules.
        if isinstance(evaluator.sampler, RulesBasedSamplerConfig):
            undecided = np.ones(n, dtype=np.bool_)
            for i, job in enumerate(jobs):
                won = done[_job_key(job)] & undecided
                rule_index[won] = i
                undecided &= ~won
            if evaluator.sampler.check_nested_fields:
                fallback[:] = _nested_traces(ctx, evaluator)
        decided.append(decide_outcomes(evaluator, corpus, rule_index, fallback, now, first_calls))

    all_jobs = [*jobs, *(job for pj in probe_jobs for job in pj)]
    results = _run_jobs(ctx, all_jobs, threads, decide, n_first=len(jobs))
    masks = []
    for pj in probe_jobs:
        mask = np.zeros(n, dtype=np.bool_)
        for job in pj:
            mask |= results[_job_key(job)]
        masks.append(mask)
    return ProbedDecisions(decided[0], tuple(masks))
