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
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.parts import pieces
from pytest_nectar.corpus.table import TraceTable
from pytest_nectar.refinery.rules_model import RulesFile
from pytest_nectar.refinery.vector import (
    CorpusDecisions,
    ProbedDecisions,
    evaluate_with_probes,
    rule_matches,
)
from pytest_nectar.refinery.vector_outcomes import FirstCalls

__all__ = ["evaluate_parted", "match_pieces", "merge_probed"]

Members = npt.NDArray[np.int64]


_ARRAYS = ("rule_index", "rate", "keep", "keep_probability", "fallback")


class _Merged:
    """The corpus's arrays, filled one partition at a time (never a second copy of them)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.filled = 0
        self.arrays: dict[str, npt.NDArray[Any]] = {}
        self.masks: list[npt.NDArray[np.bool_]] = []
        self.reasons: dict[str, int] = {}
        self.keys: dict[str, int] = {}
        self.rule_names: tuple[str, ...] = ()

    def add(self, part: ProbedDecisions, where: Members | slice) -> None:
        d = part.decisions
        if not self.arrays:
            self.rule_names = d.rule_names
            for name in _ARRAYS:
                self.arrays[name] = np.empty(self.n, dtype=getattr(d, name).dtype)
            self.arrays["reason_code"] = np.empty(self.n, dtype=np.int32)
            self.arrays["key_code"] = np.empty(self.n, dtype=np.int32)
            self.masks = [np.empty(self.n, dtype=np.bool_) for _ in part.probes]
        for name in _ARRAYS:
            self.arrays[name][where] = getattr(d, name)
        self.arrays["reason_code"][where] = _recode(d.reason_code, d.reasons, self.reasons)
        self.arrays["key_code"][where] = _recode(d.key_code, d.keys, self.keys)
        for mask, probed in zip(self.masks, part.probes, strict=True):
            mask[where] = probed
        self.filled += len(d)

    def result(self, trace_ids: Sequence[str]) -> ProbedDecisions:
        if self.filled != self.n or not self.arrays:
            raise ValueError("partition members do not cover the corpus")
        a = self.arrays
        decisions = CorpusDecisions(
            trace_ids=trace_ids,
            rule_names=self.rule_names,
            rule_index=a["rule_index"],
            rate=a["rate"],
            keep=a["keep"],
            keep_probability=a["keep_probability"],
            reason_code=a["reason_code"],
            reasons=tuple(self.reasons),
            key_code=a["key_code"],
            keys=tuple(self.keys),
            fallback=a["fallback"],
        )
        return ProbedDecisions(decisions, tuple(self.masks))


def _recode(codes: npt.NDArray[Any], table: tuple[str, ...], merged: dict[str, int]) -> Any:
    remap = np.array([merged.setdefault(v, len(merged)) for v in table], dtype=np.int32)
    return remap[codes] if len(table) else codes


def merge_probed(
    parts: Sequence[ProbedDecisions],
    trace_ids: Sequence[str],
    members: Sequence[Members] | None = None,
) -> ProbedDecisions:
    """Partition results as one corpus's decisions and probe masks.

    ``members[k]`` holds the corpus index of each trace of partition ``k`` (its local
    order); ``None``: the partitions are contiguous and given in corpus order.
    """
    if not parts:
        raise ValueError("no partition results to merge")
    if members is not None and len(members) != len(parts):
        raise ValueError("partition members do not cover the corpus")
    merged = _Merged(len(trace_ids))
    start = 0
    for k, part in enumerate(parts):
        n = len(part.decisions)
        if members is not None and len(members[k]) != n:
            raise ValueError("partition members do not cover the corpus")
        merged.add(part, slice(start, start + n) if members is None else members[k])
        start += n
    return merged.result(trace_ids)


def evaluate_parted(
    rules_file: RulesFile,
    corpus: TraceTable,
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
    merged = _Merged(corpus.n_traces)
    first_calls: FirstCalls = {}  # one evaluation: the same rules and now for every part
    for part, members in pieces(corpus):
        probed = evaluate_with_probes(
            rules_file, part, env, probes=probes, now=now, threads=threads, first_calls=first_calls
        )
        # Placed at once: no list of part results.
        merged.add(probed, slice(None) if members is None else members)
        del part, probed
    return merged.result(corpus.trace_ids)


def match_pieces(rules_file: RulesFile, corpus: TraceTable) -> npt.NDArray[np.bool_]:
    """Which traces any rule of ``rules_file`` matches on its own
    (:func:`~.vector.rule_matches`), a piece of the corpus at a time."""
    return match_each([rules_file], corpus)[0]


def match_each(rules_files: Sequence[RulesFile], corpus: TraceTable) -> list[npt.NDArray[np.bool_]]:
    """:func:`match_pieces` of every rules file, in one walk over the corpus's pieces (a
    corpus in partitions is read once, not once per rules file)."""
    out = [np.zeros(corpus.n_traces, dtype=np.bool_) for _ in rules_files]
    for part, members in pieces(corpus):
        where = slice(None) if members is None else members
        for rules_file, mask in zip(rules_files, out, strict=True):
            hit = np.zeros(part.n_traces, dtype=np.bool_)
            for matched in rule_matches(rules_file, part):
                hit |= matched
            mask[where] = hit
        del part
    return out
