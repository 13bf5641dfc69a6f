"""What a reviewer reads first in a diff: verdicts that change, the text that changed, and
the corpus decisions that move, grouped by (OLD rule -> NEW rule).

Everything here reads results already computed (the two sides' explain reports and their
one corpus evaluation each); nothing is evaluated.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from pytest_nectar.prover.properties import ALL_TRACES
from pytest_nectar.report.document import DecisionGroup, ExplainReport, PolicyLine, VerdictChange

__all__ = ["GROUP_EXAMPLES", "decision_groups", "policy_diff", "verdict_changes"]

#: Trace ids shown per decision group (all are counted).
GROUP_EXAMPLES: Final = 3
#: Unchanged lines shown around each change.
CONTEXT_LINES: Final = 1
_SEVERITY: Final = {"pass": 0, None: 1, "unknown": 1, "warn": 2, "fail": 3}


def verdict_changes(old: ExplainReport, new: ExplainReport) -> tuple[VerdictChange, ...]:
    """Every property of either side, the changed ones first (worse before better)."""
    before = {v.id: v for v in old.verdicts}
    after = {v.id: v for v in new.verdicts}
    ids = [v.id for v in new.verdicts] + [v.id for v in old.verdicts if v.id not in after]
    rows = []
    for pid in ids:
        o, nw = before.get(pid), after.get(pid)
        rows.append(
            VerdictChange(
                property=pid,
                scope="all traces" if pid in ALL_TRACES else "corpus",
                old_verdict=o.verdict if o else None,
                new_verdict=nw.verdict if nw else None,
                new_summary=nw.summary if nw else "",
                changed=(o.verdict if o else None) != (nw.verdict if nw else None),
            )
        )

    def order(row: VerdictChange) -> tuple[int, int]:
        worse = _SEVERITY.get(row.new_verdict, 1) - _SEVERITY.get(row.old_verdict, 1)
        return (0 if row.changed else 1, -worse)

    return tuple(sorted(rows, key=order))  # stable: the policy's own order within a kind


def policy_diff(old: str | None, new: str | None) -> tuple[PolicyLine, ...]:
    """OLD and NEW side by side around each change (a replaced line faces its replacement);
    a row of two None line numbers marks unchanged lines left out."""
    if old is None or new is None or old == new:
        return ()
    a, b = old.splitlines(), new.splitlines()
    out: list[PolicyLine] = []
    groups = difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(CONTEXT_LINES)
    for k, group in enumerate(groups):
        if k or (group and (group[0][1] > 0 or group[0][3] > 0)):
            out.append(PolicyLine(None, "...", None, "...", False))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [PolicyLine(i + 1, a[i], j + 1, b[j], False)
                        for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]  # fmt: skip
                continue
            for k2 in range(max(i2 - i1, j2 - j1)):
                i, j = i1 + k2, j1 + k2
                out.append(
                    PolicyLine(
                        i + 1 if i < i2 else None, a[i] if i < i2 else "",
                        j + 1 if j < j2 else None, b[j] if j < j2 else "",
                        True,
                    )
                )  # fmt: skip
    return tuple(out)


def decision_groups(
    trace_ids: Sequence[str],
    rules: tuple[Sequence[str | None], Sequence[str | None]],
    probability: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    events: npt.NDArray[np.float64],
    seconds: float | None,
) -> tuple[DecisionGroup, ...]:
    """Traces whose deciding rule or keep probability changes, grouped by (OLD rule, NEW
    rule); the group whose kept events change most comes first."""
    (r_old, r_new), (p_old, p_new) = rules, probability
    members: dict[tuple[str | None, str | None], list[int]] = {}
    for i in range(len(trace_ids)):
        if r_old[i] != r_new[i] or p_old[i] != p_new[i]:
            members.setdefault((r_old[i], r_new[i]), []).append(i)
    out = []
    for (before, after), idx in members.items():
        at = np.asarray(idx, dtype=np.int64)
        kept_old = float((events[at] * p_old[at]).sum())
        kept_new = float((events[at] * p_new[at]).sum())
        out.append(
            DecisionGroup(
                old_rule=before,
                new_rule=after,
                traces=len(idx),
                examples=tuple(trace_ids[i] for i in idx[:GROUP_EXAMPLES]),
                old_keep_probability=(float(p_old[at].min()), float(p_old[at].max())),
                new_keep_probability=(float(p_new[at].min()), float(p_new[at].max())),
                old_kept_events=kept_old,
                new_kept_events=kept_new,
                old_kept_events_per_s=kept_old / seconds if seconds else None,
                new_kept_events_per_s=kept_new / seconds if seconds else None,
            )
        )
    out.sort(key=lambda g: (-abs(g.new_kept_events - g.old_kept_events), -g.traces,
                            str(g.old_rule), str(g.new_rule)))  # fmt: skip
    return tuple(out)
