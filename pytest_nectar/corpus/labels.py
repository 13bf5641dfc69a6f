"""Must-keep labels: traces a user marks as critical (a policy must never drop them).

Two sources, usable together:

* a **sidecar file** of trace ids, one per line, optionally followed by whitespace and a
  reason; ``#`` starts a comment, blank lines are ignored::

      # incidents we must always see
      4bf92f3577b34da6a3ce929d0e0e4736  INC-2231 checkout outage
      00f067aa0ba902b7

  Ids are compared exactly as Refinery sees ``trace.trace_id`` (lowercase hex, 16 digits
  when the high half is zero); ids that match no trace are reported, not dropped silently.
* a **span attribute** (``--must-keep-attribute nectar.must_keep``): a trace is must-keep
  when any of its events has that field with a value other than ``false``, ``"false"``,
  ``""``, ``0`` or null.  A string value other than ``"true"`` becomes the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pytest_nectar.corpus.table import KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STRING, Column
from pytest_nectar.errors import CorpusError, Position

__all__ = ["label_must_keep", "read_must_keep_file"]


def read_must_keep_file(path: Path) -> list[tuple[str, str, int]]:
    """``(trace id, reason, line)`` for every id of a sidecar file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CorpusError(
            "cannot read must-keep file", position=Position(str(path)), got=str(err)
        ) from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = body.split(None, 1)
        reason = parts[1].strip() if len(parts) > 1 else ""
        out.append((parts[0], reason, number))
    return out


def _attribute_marks(column: Column, row_trace: npt.NDArray[np.int32]) -> dict[int, str]:
    kind = column.kind
    truthy = np.zeros(len(column), dtype=bool)
    truthy |= (kind == KIND_BOOL) & (column.ints != 0)
    truthy |= (kind == KIND_INT) & (column.ints != 0)
    truthy |= (kind == KIND_FLOAT) & (column.floats != 0)
    reasons: dict[int, str] = {}
    strings = column.strings
    string_entries = np.flatnonzero(kind == KIND_STRING)
    for entry in string_entries.tolist():
        value = strings[int(column.codes[entry])]
        if value and value.lower() != "false":
            truthy[entry] = True
            if value.lower() != "true":
                reasons.setdefault(int(row_trace[column.rows[entry]]), value)
    out: dict[int, str] = {}
    for entry in np.flatnonzero(truthy).tolist():
        trace = int(row_trace[column.rows[entry]])
        if trace not in out:
            out[trace] = f"attribute {column.name}" + (
                f": {reasons[trace]}" if trace in reasons else ""
            )
    return out


def label_must_keep(
    trace_ids: tuple[str, ...],
    row_trace: npt.NDArray[np.int32],
    columns: Mapping[str, Column],
    *,
    must_keep_file: Path | None,
    must_keep_attribute: str | None,
    display_file: str = "",
) -> tuple[npt.NDArray[np.bool_], dict[int, str], tuple[str, ...]]:
    """The must-keep mask, a reason per marked trace, and sidecar ids matching no trace."""
    mask = np.zeros(len(trace_ids), dtype=bool)
    reasons: dict[int, str] = {}
    unmatched: list[str] = []
    if must_keep_file is not None:
        index = {tid: i for i, tid in enumerate(trace_ids)}
        where = display_file or str(must_keep_file)
        for trace_id, reason, line in read_must_keep_file(must_keep_file):
            t = index.get(trace_id)
            if t is None:
                unmatched.append(trace_id)
                continue
            mask[t] = True
            reasons.setdefault(t, f"{where}:{line}" + (f": {reason}" if reason else ""))
    if must_keep_attribute:
        column = columns.get(must_keep_attribute)
        if column is not None:
            for t, reason in _attribute_marks(column, row_trace).items():
                mask[t] = True
                reasons.setdefault(t, reason)
    return mask, dict(sorted(reasons.items())), tuple(unmatched)
