"""Markdown: fits a pull-request comment and ``$GITHUB_STEP_SUMMARY``.

GitHub accepts 65,536 characters in a comment and 1 MiB in a step summary.  Lists and
tables are capped at :data:`ROW_LIMIT` rows (the rest counted), cells are cut at
:data:`CELL_LIMIT` characters, and if a document is still larger than :data:`MAX_BYTES`
it is laid out again with fewer rows, so the output stays under 1 MiB whatever the corpus.
Corpus values and policy text are untrusted: every string is escaped (:mod:`pytest_nectar.escape`)
so it cannot break the table or a code span, render a link or a remote image, inject HTML or
mention people.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from pytest_nectar.escape import md_code, md_text, segments
from pytest_nectar.report.layout import Block, Bullets, Heading, Para, Table

__all__ = ["CELL_LIMIT", "MAX_BYTES", "ROW_LIMIT", "fit", "render_blocks"]

ROW_LIMIT: Final = 50
CELL_LIMIT: Final = 300
#: Below GitHub's 1 MiB step-summary limit, with room for the Action's own lines.
MAX_BYTES: Final = 900 * 1024
#: Below GitHub's comment limit (65,536 characters), with room for the Action's own lines:
#: the diff is posted as a PR comment.
COMMENT_BYTES: Final = 60 * 1024
_TONE: Final = {"alert": "**", "warn": "", "ok": "", "": ""}
_ICON: Final = {"alert": ":x: ", "warn": ":warning: ", "ok": ":white_check_mark: ", "": ""}


def _escape(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 3] + "..."
    return "".join(md_code(part) if is_code else md_text(part) for is_code, part in segments(text))


def _table(table: Table) -> list[str]:
    right = table.numeric or (False,) * len(table.headers)
    lines = [
        "| " + " | ".join(_escape(h) for h in table.headers) + " |",
        "|" + "|".join("---:" if r else "---" for r in right) + "|",
    ]
    for i, row in enumerate(table.rows):
        tone = table.tones[i] if i < len(table.tones) else ""
        cells = [_escape(c) for c in row]
        if tone == "alert" and cells:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    if table.omitted:
        lines.append(f"\n_... and {table.omitted} more rows (see the JSON report)._")
    return lines


def render_blocks(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + _escape(block.text))
        elif isinstance(block, Para):
            mark = _TONE[block.tone]
            out.append(f"{_ICON[block.tone]}{mark}{_escape(block.text)}{mark}")
        elif isinstance(block, Bullets):
            icon = _ICON[block.tone]
            out.append("\n".join(f"- {icon}{_escape(i)}" for i in block.items))
            if block.omitted:
                out[-1] += f"\n- _... and {block.omitted} more_"
        else:
            out.append("\n".join(_table(block)))
        out.append("")
    return "\n".join(out)


def fit(layout: Callable[[int], Sequence[Block]], max_bytes: int = MAX_BYTES) -> str:
    """Render ``layout(limit)`` with the largest row limit that fits ``max_bytes``."""
    text = ""
    for limit in (ROW_LIMIT, 20, 10, 5, 1):
        text = render_blocks(layout(limit))
        if len(text.encode("utf-8")) <= max_bytes:
            return text
    raw = text.encode("utf-8")[: max_bytes - 100].decode("utf-8", "ignore")
    return raw + "\n\n_... report cut at the size limit._\n"
