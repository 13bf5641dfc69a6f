"""Reconcile: Refinery's recorded decisions in an exported corpus against Nectar's.

A Refinery writes its decision onto every span it sends (``collect/collect.go``
``sendTraces``, ``dealWithSentTrace``, ``mergeTraceAndSpanSampleRates`` at 64a874a):

=======================================  ========================================================
field                                    what it records
=======================================  ========================================================
``meta.refinery.reason``                 the sampler's reason (``AddRuleReasonToTrace``):
                                         ``rules/<scope>/<rule name>``, with ``:<sampler>``
                                         for a downstream sampler, ``no rule matched``,
                                         ``deterministic/chance``, ``emadynamic``...; a span
                                         that arrived after the decision has
                                         ``<reason> - late arriving span``; stress relief writes
                                         ``stress_relief/...`` and ``meta.stressed``
``meta.refinery.sample_key``             the dynamic samplers' key, when not empty
``meta.refinery.send_reason``            why the trace was sent then (not a decision)
``meta.refinery.original_sample_rate``   the span's incoming rate, when not 0
``meta.refinery.final_sample_rate``      ``max(1, incoming) * rate`` (not in dry run)
``meta.refinery.dryrun.kept``            dry run: the decision (every trace is sent)
``meta.dryrun.sample_rate``              dry run: ``max(1, incoming) * rate`` (this name,
                                         without ``refinery``)
=======================================  ========================================================

Without dry run only kept traces are exported, so each carries "kept".  Per trace Nectar
compares, where both sides say something: the **rule** (the reason string: rule name and
sampler), the **rate** (only for deterministic rates: rule ``SampleRate``, the deterministic
sampler, "no rule matched"; a dynamic sampler's rate depends on the traffic Refinery saw),
**keep** (where Nectar's decision is not random) and the **sample key**.  Nectar decides on
the corpus with the fields Refinery adds on the way out removed (they did not exist when
Refinery decided): the ones above, ``meta.refinery.local_hostname`` and the span counts.
Spans marked as late arrivals are left out of Nectar's decision: Refinery had decided
before they came.  Traces decided by stress relief are not compared (listed).  A corpus
without any of these fields is an error, never a pass: there is no evidence to reconcile.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pytest_nectar.corpus.from_traces import corpus_from_traces
from pytest_nectar.corpus.table import Corpus
from pytest_nectar.errors import CorpusError
from pytest_nectar.refinery.reference import Decision
from pytest_nectar.refinery.rules_model import RulesFile
from pytest_nectar.refinery.vector import evaluate_corpus
from pytest_nectar.trace import Trace

__all__ = ["ASPECTS", "Mismatch", "Reconciliation", "Recorded", "reconcile"]

REASON: Final = "meta.refinery.reason"
SAMPLE_KEY: Final = "meta.refinery.sample_key"
ORIGINAL: Final = "meta.refinery.original_sample_rate"
FINAL: Final = "meta.refinery.final_sample_rate"
DRYRUN_KEPT: Final = "meta.refinery.dryrun.kept"
DRYRUN_RATE: Final = "meta.dryrun.sample_rate"
STRESSED: Final = "meta.stressed"
LATE: Final = " - late arriving span"
#: Fields Refinery adds when it sends a span: rules never saw them.
OUTGOING: Final = frozenset(
    {
        REASON,
        SAMPLE_KEY,
        ORIGINAL,
        FINAL,
        DRYRUN_KEPT,
        DRYRUN_RATE,
        STRESSED,
        "meta.refinery.send_reason",
        "meta.refinery.local_hostname",
        "meta.span_count",
        "meta.span_event_count",
        "meta.span_link_count",
        "meta.event_count",
    }
)
_DYNAMIC: Final = (
    "dynamic",
    "emadynamic",
    "emathroughput",
    "windowedthroughput",
    "totalthroughput",
)
ASPECTS: Final = ("rule", "rate", "keep", "key")


@dataclass(frozen=True, slots=True)
class Recorded:
    """What Refinery wrote on a trace's spans (None: it wrote nothing about that aspect)."""

    reason: str | None
    key: str | None
    rate: int | None
    kept: bool | None
    dry_run: bool
    #: why the spans contradict each other (then the trace disagrees), or None
    conflict: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One trace where Refinery's record and Nectar's decision differ."""

    trace_id: str
    aspects: tuple[str, ...]
    refinery: Recorded
    nectar: Decision

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "aspects": list(self.aspects),
            "refinery": self.refinery.to_json(),
            "nectar": self.nectar.to_json(),
        }


@dataclass(frozen=True)
class Reconciliation:
    """Agreement figures and every disagreement."""

    traces: int
    compared: int
    agreed: int
    #: per aspect: (traces compared on it, traces agreeing)
    aspects: Mapping[str, tuple[int, int]]
    mismatches: tuple[Mismatch, ...]
    #: traces not compared, with the reason (no decision fields, stress relief)
    not_compared: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "compared": self.compared,
            "agreed": self.agreed,
            "aspects": {k: {"compared": c, "agreed": a} for k, (c, a) in self.aspects.items()},
            "mismatches": [m.to_json() for m in self.mismatches],
            "not_compared": [{"trace_id": t, "why": w} for t, w in self.not_compared],
        }


def _per_trace(corpus: Corpus, name: str) -> list[dict[int, object]]:
    """Per trace, the values of column ``name`` by row (empty when absent)."""
    out: list[dict[int, object]] = [{} for _ in range(corpus.n_traces)]
    column = corpus.columns.get(name)
    if column is None:
        return out
    rows = column.rows.tolist()
    traces = corpus.row_trace[column.rows].tolist()
    for entry, (row, t) in enumerate(zip(rows, traces, strict=True)):
        out[t][row] = column.value_at(entry)
    return out


def _whole(value: object) -> int | None:
    """An integral rate (Refinery writes int64; a JSON export may give a float)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _record(
    reasons: dict[int, object],
    keys: dict[int, object],
    originals: dict[int, object],
    finals: dict[int, object],
    kept: dict[int, object],
    dry_rates: dict[int, object],
) -> Recorded | None:
    texts = {r for r in reasons.values() if isinstance(r, str) and r}
    dry_run = any(isinstance(k, bool) for k in kept.values())
    if not texts and not dry_run:
        return None
    conflicts = []
    decided = {t[: -len(LATE)] if t.endswith(LATE) else t for t in texts}
    decided.discard("late arriving span")  # a late span whose trace's reason was lost
    reason = None
    if len(decided) > 1:
        conflicts.append(f"spans record {len(decided)} reasons")
    elif decided:
        reason = next(iter(decided))
    key_set = {k for k in keys.values() if isinstance(k, str)}
    key = None
    if len(key_set) > 1:
        conflicts.append(f"spans record {len(key_set)} sample keys")
    elif reason is not None:
        key = next(iter(key_set), "")  # written only when not empty
    rates: set[int] = set()
    for row, total in (dry_rates if dry_run else finals).items():
        # mergeTraceAndSpanSampleRates: total = max(1, incoming) * rate, and the original
        # is written only when the incoming rate was not 0
        incoming = max(1, _whole(originals.get(row, 0)) or 0)
        n = _whole(total)
        if n is None or n % incoming:
            conflicts.append(f"sample rate {total!r} is not a multiple of {incoming}")
            continue
        rates.add(n // incoming)
    if len(rates) > 1:
        conflicts.append(f"spans record {len(rates)} sample rates")
    flags = {k for k in kept.values() if isinstance(k, bool)}
    if len(flags) > 1:
        conflicts.append("spans record both kept and dropped")
    return Recorded(
        reason=reason,
        key=key,
        rate=next(iter(rates)) if len(rates) == 1 else None,
        kept=(next(iter(flags)) if len(flags) == 1 else None) if dry_run else True,
        dry_run=dry_run,
        conflict="; ".join(conflicts) or None,
    )


def _dynamic(reason: str) -> bool:
    return (
        reason.rsplit(":", 1)[-1] in _DYNAMIC
        if reason.startswith("rules/")
        else (reason in _DYNAMIC)
    )


def _differences(rec: Recorded, dec: Decision) -> tuple[list[str], list[str]]:
    """(aspects compared, aspects that differ)."""
    compared: list[str] = []
    differ: list[str] = []

    def check(aspect: str, same: bool) -> None:
        compared.append(aspect)
        if not same:
            differ.append(aspect)

    if rec.reason is not None:
        check("rule", rec.reason == dec.reason)
    if rec.rate is not None and not _dynamic(dec.reason):
        check("rate", rec.rate == dec.rate)
    if rec.kept is not None and dec.keep is not None:
        check("keep", rec.kept == dec.keep)
    elif rec.kept is not None and dec.keep_probability == 0.0:
        check("keep", not rec.kept)
    if rec.key is not None:
        check("key", rec.key == dec.key)
    return compared, differ


def _late_rows(corpus: Corpus) -> set[int]:
    """Rows Refinery marked as arriving after its decision (they did not take part in it)."""
    column = corpus.columns.get(REASON)
    if column is None:
        return set()
    late = {
        int(column.rows[entry])
        for entry in range(len(column))
        if isinstance(text := column.value_at(entry), str)
        and (text.endswith(LATE) or text == LATE.removeprefix(" - "))
    }
    return late


def _without_rows(corpus: Corpus, rows: set[int]) -> Corpus:
    """The corpus without ``rows`` (every trace kept, in order, even when left empty)."""
    traces = []
    for t in range(corpus.n_traces):
        start = int(corpus.trace_offsets[t])
        trace = corpus.trace(t)
        kept = tuple(s for i, s in enumerate(trace.spans) if start + i not in rows)
        traces.append(Trace(trace.trace_id, kept))
    return corpus_from_traces(traces, weights=corpus.weight.tolist(), digest=corpus.digest)


def reconcile(rules_file: RulesFile, corpus: Corpus, env: str | None = None) -> Reconciliation:
    """Compare every trace's recorded decision with Nectar's (see the module docstring).

    Raises:
        CorpusError: no trace carries Refinery's decision fields (zero evidence).
    """
    cols = [
        _per_trace(corpus, name)
        for name in (REASON, SAMPLE_KEY, ORIGINAL, FINAL, DRYRUN_KEPT, DRYRUN_RATE)
    ]
    stressed = _per_trace(corpus, STRESSED)
    records = [_record(*(c[t] for c in cols)) for t in range(corpus.n_traces)]
    if not any(r is not None for r in records):
        raise CorpusError(
            "the corpus has no Refinery decision fields: nothing to reconcile",
            position=None,
            got=", ".join(corpus.sources[:3]) or None,
            hint=f"export spans Refinery sent with RefineryTelemetry.AddRuleReasonToTrace "
            f"({REASON}) or in dry run ({DRYRUN_KEPT})",
        )
    stripped = dataclasses.replace(
        corpus, columns={k: v for k, v in corpus.columns.items() if k not in OUTGOING}
    )
    late = _late_rows(corpus)
    if late:
        stripped = _without_rows(stripped, late)
    decisions = evaluate_corpus(rules_file, stripped, env)
    counts = {a: [0, 0] for a in ASPECTS}
    mismatches: list[Mismatch] = []
    not_compared: list[tuple[str, str]] = []
    compared = agreed = 0
    for t, rec in enumerate(records):
        tid = corpus.trace_ids[t]
        if rec is None:
            not_compared.append((tid, "no Refinery decision fields"))
            continue
        if (rec.reason or "").startswith("stress_relief/") or True in stressed[t].values():
            not_compared.append((tid, "decided by stress relief, not by the rules"))
            continue
        dec = decisions.decision(t)
        aspects, differ = _differences(rec, dec)
        if rec.conflict is not None:
            differ.append("record")
        if not aspects and rec.conflict is None:
            not_compared.append((tid, "no comparable aspect"))
            continue
        compared += 1
        for a in aspects:
            counts[a][0] += 1
            counts[a][1] += a not in differ
        if differ:
            mismatches.append(Mismatch(tid, tuple(differ), rec, dec))
        else:
            agreed += 1
    return Reconciliation(
        traces=corpus.n_traces,
        compared=compared,
        agreed=agreed,
        aspects={a: (c[0], c[1]) for a, c in counts.items()},
        mismatches=tuple(mismatches),
        not_compared=tuple(not_compared),
    )
