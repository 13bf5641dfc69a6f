"""Load a report's corpus: what cannot be loaded is a :class:`Missing` entry, not an error.

The project session (:mod:`pytest_nectar.project.session`) loads the corpus once through
:func:`load_report_corpus` for ``nectar explain``, ``diff`` and ``propose``, and evaluates
each subject once; the reports are built from its results.  Loading shows a progress
display on a terminal (:mod:`.progress`), never in CI logs or when piped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_nectar.errors import NectarError
from pytest_nectar.report.document import Missing
from pytest_nectar.report.progress import Progress

if TYPE_CHECKING:
    from pytest_nectar.corpus.table import TraceTable

__all__ = ["load_report_corpus"]


def load_report_corpus(
    paths: Sequence[str], progress: Progress | None = None, *, partition_rows: int | None = None
) -> tuple[TraceTable | None, list[Missing]]:
    """The corpus, or None and why (an unreadable corpus is reported, not fatal); a large
    one in partitions (``partition_rows``, :mod:`pytest_nectar.corpus.sizing`; None: in
    memory whatever its size)."""
    from pytest_nectar.corpus.sizing import open_corpus

    if not paths:
        return None, []
    bar = progress or Progress(enabled=False)
    try:
        with bar.step(f"loading corpus {', '.join(paths)}"):
            corpus = open_corpus(list(paths), partition_rows=partition_rows)
    except NectarError as err:
        return None, [Missing("corpus figures", f"the corpus cannot be loaded: {err.message}")]
    gaps = []
    if corpus.skipped:
        gaps.append(
            Missing(
                f"{len(corpus.skipped)} skipped input record(s)",
                "they are not traces Refinery would see: " + str(corpus.skipped[0]),
            )
        )
    return corpus, gaps
