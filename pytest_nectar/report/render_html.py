"""HTML: one self-contained file (inline CSS, inline SVG charts, a few lines of script).

The blocks are the same as the text and Markdown reports (:mod:`.layout`); charts come
from :mod:`.charts` (matplotlib, imported only here).  Every string from a policy or corpus
is HTML-escaped; a Content-Security-Policy forbids any network access, so the file opens
offline and cannot leak anything.  The script only makes tables sortable by a click.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Final

from pytest_nectar.escape import segments
from pytest_nectar.report.layout import Block, Bullets, Heading, Para, Table

__all__ = ["html_document", "render_blocks"]

_CSP: Final = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
)
_STYLE: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:2px solid #d08c00;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0 1em;width:100%}
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}
th{background:#f6f1e4;cursor:pointer;text-align:left}td.num{text-align:right;white-space:nowrap}
tr.alert td,p.alert,li.alert{color:#b00020;font-weight:600}tr.warn td,li.warn{color:#8a5a00}
p.ok{color:#1e7b34}code{background:#f3f3f3;padding:0 .2em}figure{margin:1em 0}
figcaption{font-weight:600;margin-bottom:.3em}svg{max-width:100%;height:auto}
"""
_SCRIPT: Final = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var text = row.cells[column].textContent.replace(/[,%]/g, "");
        var number = parseFloat(text);
        return isNaN(number) ? text : number;
      };
      var ascending = th.getAttribute("data-order") !== "asc";
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = x < y ? -1 : x > y ? 1 : 0;
        return ascending ? order : -order;
      });
      th.setAttribute("data-order", ascending ? "asc" : "desc");
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _text(text: str) -> str:
    """Escape every part, and show the code spans of the layout as code."""
    return "".join(
        f"<code>{html.escape(part)}</code>" if is_code else html.escape(part)
        for is_code, part in segments(text)
    )


def _table(table: Table) -> str:
    right = table.numeric or (False,) * len(table.headers)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    rows = []
    for i, row in enumerate(table.rows):
        tone = table.tones[i] if i < len(table.tones) else ""
        cells = "".join(
            f'<td class="num">{_text(c)}</td>' if r else f"<td>{_text(c)}</td>"
            for c, r in zip(row, right, strict=True)
        )
        rows.append(f'<tr class="{tone}">{cells}</tr>' if tone else f"<tr>{cells}</tr>")
    more = f"<p><em>... and {table.omitted} more rows</em></p>" if table.omitted else ""
    return (
        f'<table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def render_blocks(blocks: Sequence[Block]) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            out.append(f"<h{level}>{_text(block.text)}</h{level}>")
        elif isinstance(block, Para):
            cls = f' class="{block.tone}"' if block.tone else ""
            out.append(f"<p{cls}>{_text(block.text)}</p>")
        elif isinstance(block, Bullets):
            cls = f' class="{block.tone}"' if block.tone else ""
            items = "".join(f"<li{cls}>{_text(i)}</li>" for i in block.items)
            if block.omitted:
                items += f"<li><em>... and {block.omitted} more</em></li>"
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(_table(block))
    return "\n".join(out)


def figure(chart_id: str, caption: str, svg: str) -> str:
    return (
        f'<figure id="chart-{html.escape(chart_id)}"><figcaption>{html.escape(caption)}'
        f"</figcaption>{svg}</figure>"
    )


def html_document(title: str, sections: Sequence[str]) -> str:
    """A complete HTML page holding the already-rendered ``sections``."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n"
        + "\n".join(sections)
        + f"\n<script>{_SCRIPT}</script>\n</body></html>\n"
    )
