"""A corpus evaluated partition by partition, and the partitions' decisions merged.

Every decision and probe match is per trace, made by a fresh sampler (see
:mod:`.vector_outcomes`): a trace's result never depends on which other traces share its
partition.  So evaluating the partitions one by one (or one per cluster worker) and putting
each trace's entry at its place in corpus order gives, entry for entry, the arrays the
evaluation of the whole corpus in memory gives.  Only the reason and sample-key tables
differ in the order their strings were first met; they are united and the codes
renumbered (codes are never shown, only the strings they stand for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.refinery.rules_model import RulesFile
from pytest_nectar.refinery.vector import (
    CorpusDecisions,
    ProbedDecisions,
    evaluate_with_probes,
    rule_matches,
)
from pytest_nectar.refinery.vector_outcomes import FirstCalls

if TYPE_CHECKING:
    from pytest_nectar.corpus.parts import PartedCorpus

__all__ = ["evaluate_parted", "match_parted", "merge_probed"]

Members = npt.NDArray[np.int64]


def _recode(codes: npt.NDArray[Any], table: tuple[str, ...], merged: dict[str, int]) -> Any:
    remap = np.array([merged.setdefault(v, len(merged)) for v in table], dtype=np.int32)
    return remap[codes] if len(table) else codes


def _place(
    parts: Sequence[npt.NDArray[Any]], members: Sequence[Members] | None, n: int
) -> npt.NDArray[Any]:
    if members is None:  # contiguous partitions in corpus order
        return np.concatenate(parts) if parts else np.empty(0)
    out = np.empty(n, dtype=parts[0].dtype)
    for values, where in zip(parts, members, strict=True):
        out[where] = values
    return out


def merge_probed(
    parts: Sequence[ProbedDecisions],
    trace_ids: tuple[str, ...],
    members: Sequence[Members] | None = None,
) -> ProbedDecisions:
    """Partition results as one corpus's decisions and probe masks.

    ``members[k]`` holds the corpus index of each trace of partition ``k`` (its local
    order); ``None``: the partitions are contiguous and given in corpus order.
    """
    if not parts:
        raise ValueError("no partition results to merge")
    n = len(trace_ids)
    if members is not None and sum(len(m) for m in members) != n:
        raise ValueError("partition members do not cover the corpus")
    reasons: dict[str, int] = {}
    keys: dict[str, int] = {}
    ds = [p.decisions for p in parts]

    def place(name: str) -> Any:
        return _place([getattr(d, name) for d in ds], members, n)

    reason_code = _place(
        [_recode(d.reason_code, d.reasons, reasons).astype(np.int32) for d in ds], members, n
    )
    key_code = _place([_recode(d.key_code, d.keys, keys).astype(np.int32) for d in ds], members, n)
    decisions = CorpusDecisions(
        trace_ids=trace_ids,
        rule_names=ds[0].rule_names,
        rule_index=place("rule_index"),
        rate=place("rate"),
        keep=place("keep"),
        keep_probability=place("keep_probability"),
        reason_code=reason_code,
        reasons=tuple(reasons),
        key_code=key_code,
        keys=tuple(keys),
        fallback=place("fallback"),
    )
    n_probes = len(parts[0].probes)
    masks = tuple(_place([p.probes[i] for p in parts], members, n) for i in range(n_probes))
    return ProbedDecisions(decisions, masks)


def evaluate_parted(
    rules_file: RulesFile,
    corpus: PartedCorpus,
    env: str | None = None,
    *,
    probes: Sequence[RulesFile] = (),
    now: float = 0.0,
    threads: int = 2,
) -> ProbedDecisions:
    """:func:`~.vector.evaluate_with_probes` on a corpus stored in partitions, streamed.

    One partition is mapped at a time and only its per-trace results are kept, so memory
    holds one partition's rows and the corpus's per-trace arrays, whatever the corpus size.
    """
    done: list[ProbedDecisions] = []
    members = []
    first_calls: FirstCalls = {}  # one evaluation: the same rules and now for every part
    for k in range(corpus.n_parts):
        part = corpus.part(k)
        probed = evaluate_with_probes(
            rules_file, part, env, probes=probes, now=now, threads=threads, first_calls=first_calls
        )
        # Keep numbers only: the partition's ids (and its mapped rows) can go.
        done.append(ProbedDecisions(_without_ids(probed.decisions), probed.probes))
        members.append(corpus.members(k))
        del part, probed
    return merge_probed(done, corpus.trace_ids, members)


def _without_ids(decisions: CorpusDecisions) -> CorpusDecisions:
    return replace(decisions, trace_ids=())


def match_parted(rules_file: RulesFile, corpus: PartedCorpus) -> npt.NDArray[np.bool_]:
    """Which traces any rule of ``rules_file`` matches on its own, streamed partition by
    partition (:func:`~.vector.rule_matches` on each)."""
    out = np.zeros(corpus.n_traces, dtype=np.bool_)
    for k in range(corpus.n_parts):
        part = corpus.part(k)
        hit = np.zeros(part.n_traces, dtype=np.bool_)
        for matched in rule_matches(rules_file, part):
            hit |= matched
        out[corpus.members(k)] = hit
        del part
    return out
