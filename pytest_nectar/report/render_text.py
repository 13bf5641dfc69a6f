"""Terminal text: rich tables, colour on a terminal, plain text when piped.

Colour follows rich's detection (a terminal, ``NO_COLOR``, ``FORCE_COLOR``); piped output
is plain and laid out at a fixed width so the same report gives the same bytes.  Every
string is passed as :class:`rich.text.Text`, never as markup, with its control characters
escaped (:func:`pytest_nectar.escape.terminal`; rich itself strips only a few): corpus values
cannot style, move or retitle the terminal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final, TextIO

from rich.console import Console, Group, RenderableType
from rich.rule import Rule
from rich.table import Table as RichTable
from rich.text import Text

from pytest_nectar.escape import plain, terminal
from pytest_nectar.report.layout import Block, Bullets, Heading, Para

__all__ = ["PIPE_WIDTH", "render_blocks", "to_text"]

#: Width of the plain layout when the output is not a terminal.
PIPE_WIDTH: Final = 160
_STYLE: Final = {"alert": "bold red", "warn": "yellow", "ok": "green", "": ""}


def _plain(text: str) -> str:
    return terminal(plain(text))


def _renderable(block: Block) -> RenderableType:
    if isinstance(block, Heading):
        if block.level <= 2:
            return Rule(Text(_plain(block.text), style="bold"), align="left")
        return Text("\n" + _plain(block.text), style="bold underline")
    if isinstance(block, Para):
        return Text(_plain(block.text), style=_STYLE[block.tone])
    if isinstance(block, Bullets):
        lines = [Text("- " + _plain(i), style=_STYLE[block.tone]) for i in block.items]
        if block.omitted:
            lines.append(Text(f"- ... and {block.omitted} more", style="dim"))
        return Group(*lines)
    table = RichTable(show_edge=False, header_style="bold", pad_edge=False)
    right = block.numeric or (False,) * len(block.headers)
    for header, numeric in zip(block.headers, right, strict=True):
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for i, row in enumerate(block.rows):
        tone = block.tones[i] if i < len(block.tones) else ""
        table.add_row(*(Text(_plain(c)) for c in row), style=_STYLE[tone] or None)
    if block.omitted:
        return Group(table, Text(f"... and {block.omitted} more rows", style="dim"))
    return table


def render_blocks(blocks: Sequence[Block], stream: TextIO) -> None:
    """Print the blocks to ``stream`` (a terminal gets colour and its own width)."""
    probe = Console(file=stream)
    console = (
        probe
        if probe.is_terminal
        else Console(file=stream, width=PIPE_WIDTH, color_system=None, highlight=False)
    )
    for block in blocks:
        console.print(_renderable(block), highlight=False)


def to_text(blocks: Sequence[Block]) -> str:
    """The plain (piped) text of the blocks."""
    buffer = io.StringIO()
    render_blocks(blocks, buffer)
    return buffer.getvalue()
