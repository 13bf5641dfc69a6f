"""One entry point per report and format: ``text``, ``md``, ``html`` or ``json``.

``write_explain``/``write_diff`` print to a stream (text gets colour on a terminal);
``explain_document``/``diff_document`` return the document as a string (the ``-o FILE``
path, tests, and other commands that embed a report).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TextIO

from pytest_nectar.report import render_md
from pytest_nectar.report.document import DiffReport, ExplainReport
from pytest_nectar.report.layout import Block, Heading, explain_blocks
from pytest_nectar.report.layout_diff import diff_blocks

__all__ = ["FORMATS", "diff_document", "explain_document", "write_diff", "write_explain"]

FORMATS: Final = ("text", "md", "html", "json")
_CAPTIONS: Final = {
    "timeline": "Incoming and expected kept events per second over the corpus time line",
    "rules": "Share of the expected kept events, per rule",
    "services": "Effective sample rate per service",
}
_DIFF_CAPTIONS: Final = {
    "timeline": "Incoming, OLD and NEW expected kept events per second over the corpus time line",
    "rules": "Expected kept events per second per rule, OLD and NEW",
    "services": "Effective sample rate per service, OLD and NEW",
}


def _html_explain(reports: Sequence[ExplainReport]) -> str:
    from pytest_nectar.report.charts import charts
    from pytest_nectar.report.render_html import figure, html_document, render_blocks

    sections = []
    for report in reports:
        blocks = explain_blocks(report)
        if len(reports) == 1 and blocks and isinstance(blocks[0], Heading):
            blocks = blocks[1:]  # the page's <h1> says it: the title once
        sections.append(render_blocks(blocks))
        sections.extend(
            figure(chart, _CAPTIONS[chart], svg) for chart, svg in charts(report).items()
        )
    title = "Nectar report: " + ", ".join(r.title for r in reports)
    return html_document(title, sections)


def _blocks(reports: Sequence[ExplainReport], limit: int | None) -> list[Block]:
    out: list[Block] = []
    for report in reports:
        out.extend(explain_blocks(report, limit=limit))
    return out


def explain_document(reports: Sequence[ExplainReport], fmt: str) -> str:
    if fmt == "json":
        from pytest_nectar.report.render_json import explain_json

        return explain_json(reports)
    if fmt == "md":
        return render_md.fit(lambda limit: _blocks(reports, limit))
    if fmt == "html":
        return _html_explain(reports)
    from pytest_nectar.report.render_text import to_text

    return to_text(_blocks(reports, None))


def diff_document(report: DiffReport, fmt: str) -> str:
    if fmt == "json":
        from pytest_nectar.report.render_json import diff_json

        return diff_json(report)
    if fmt == "md":
        return render_md.fit(
            lambda limit: diff_blocks(report, limit=limit), render_md.COMMENT_BYTES
        )
    if fmt == "html":
        from pytest_nectar.report.charts import diff_charts
        from pytest_nectar.report.render_html import figure, html_document, render_blocks

        # The page's <h1> says the first heading: the title once.  OLD and NEW share each
        # chart's axes, drawn once.
        sections = [render_blocks(diff_blocks(report)[1:])]
        sections.extend(
            figure(f"diff-{chart}", _DIFF_CAPTIONS[chart], svg)
            for chart, svg in diff_charts(report).items()
        )
        return html_document(f"Nectar diff: {report.old} → {report.new}", sections)
    from pytest_nectar.report.render_text import to_text

    return to_text(diff_blocks(report))


def write_explain(reports: Sequence[ExplainReport], fmt: str, stream: TextIO) -> None:
    if fmt == "text":
        from pytest_nectar.report.render_text import render_blocks

        render_blocks(_blocks(reports, None), stream)
        return
    stream.write(explain_document(reports, fmt))


def write_diff(report: DiffReport, fmt: str, stream: TextIO) -> None:
    if fmt == "text":
        from pytest_nectar.report.render_text import render_blocks

        render_blocks(diff_blocks(report), stream)
        return
    stream.write(diff_document(report, fmt))
