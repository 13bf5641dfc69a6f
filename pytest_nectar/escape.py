"""Untrusted text (corpus values, policy text, model output) made safe for where it lands.

One function per medium, so every front end escapes the same way (SECURITY.md):

* :func:`terminal`: C0 and C1 control characters (ESC, so also CSI and OSC sequences; BEL,
  CR, backspace), DEL and the bidirectional overrides are shown as ``\\xNN``/``\\uNNNN``
  escapes, so a value can neither move the cursor, retitle the window, clear the screen nor
  reorder what is shown.  Newlines and tabs are kept where the text is several lines.
* :func:`md_text` and :func:`md_code`: Markdown (GitHub flavour).  Text gets the characters
  Markdown reads as inline or block syntax backslash-escaped and ``<``, ``>``, ``&``, ``@``
  as entities, so ``![x](https://...)`` stays text, never a remote image, and no HTML
  passes; a code span gets a backtick fence longer than any run of backticks in the value.
* :func:`one_line`: text for a line-oriented format (a commit subject, a trailer-free
  message body): control characters dropped, line breaks flattened.

Reports mark code spans with :func:`code` (two private-use characters, removed from the
value first) rather than backticks, so a backtick in a value cannot end its span: each
renderer splits the text with :func:`segments` and escapes each part for its medium.
Standard library only: this module sits with the errors at the bottom of the layers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

__all__ = [
    "CODE_CLOSE",
    "CODE_OPEN",
    "code",
    "md_code",
    "md_text",
    "one_line",
    "plain",
    "segments",
    "terminal",
]

CODE_OPEN: Final = "\ue000"
CODE_CLOSE: Final = "\ue001"
#: C0 but tab and newline, DEL, C1, bidi embeddings/overrides/isolates, line/para separators.
_CONTROL: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)
_CONTROL_ALL: Final = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_MARKERS: Final = re.compile(f"[{CODE_OPEN}{CODE_CLOSE}]")
_SPAN: Final = re.compile(f"{CODE_OPEN}([^{CODE_CLOSE}]*){CODE_CLOSE}")
#: Characters Markdown reads as inline syntax anywhere in a line (emphasis, code, links and
#: images, tables, strike-through, math); ``<``, ``>``, ``&`` and ``@`` become entities.
_MD_INLINE: Final = re.compile(r"([\\`*_\[\]|~$])")
#: What starts a block (heading, list, quote, thematic break) at the start of a line.
_MD_BLOCK: Final = re.compile(r"^(\s*)([#+\-=])|^(\s*\d+)([.)])(?=\s|$)")
_BACKTICKS: Final = re.compile("`+")


def _escape_char(match: re.Match[str]) -> str:
    c = ord(match.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal(text: str, *, multiline: bool = True) -> str:
    """``text`` with every control character shown as an escape (newlines, tabs kept when
    ``multiline``)."""
    pattern = _CONTROL if multiline else _CONTROL_ALL
    return pattern.sub(_escape_char, text)


def one_line(text: str) -> str:
    """``text`` on one line: whitespace runs (line breaks too) become one space, other
    control characters are dropped."""
    return " ".join(_CONTROL_ALL.sub(lambda m: " " if m.group().isspace() else "", text).split())


def code(value: object) -> str:
    """``value`` marked as a code span for the report renderers (see :func:`segments`)."""
    return f"{CODE_OPEN}{_MARKERS.sub('', str(value))}{CODE_CLOSE}"


def segments(text: str) -> Iterator[tuple[bool, str]]:
    """``(is_code, part)`` pieces of a text built with :func:`code`."""
    at = 0
    for match in _SPAN.finditer(text):
        if match.start() > at:
            yield False, _MARKERS.sub("", text[at : match.start()])
        yield True, match.group(1)
        at = match.end()
    if at < len(text):
        yield False, _MARKERS.sub("", text[at:])


def plain(text: str) -> str:
    """The text without code-span marks (terminal reports show names as they are)."""
    return _MARKERS.sub("", text)


def md_text(text: str) -> str:
    """Markdown showing ``text`` literally: no emphasis, link, image, HTML or mention."""
    # Whitespace runs become one space, but a part's edges stay: it may sit beside a code span.
    text = _MD_INLINE.sub(r"\\\1", terminal(re.sub(r"\s+", " ", text), multiline=False))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_BLOCK.sub(_block_escape, text.replace("@", "&#64;"))


def _block_escape(match: re.Match[str]) -> str:
    """A backslash before the character that would start a heading, list or rule."""
    if match.group(2) is not None:
        return f"{match.group(1)}\\{match.group(2)}"
    return f"{match.group(3)}\\{match.group(4)}"


def md_code(value: str) -> str:
    """An inline code span showing ``value`` literally, whatever backticks it holds.

    Inside a code span Markdown reads no links, images or HTML; the fence is one backtick
    longer than the longest run in the value, padded with spaces when the value starts or
    ends with a backtick (CommonMark strips one space each side).  ``|`` is escaped for
    tables (GitHub reads ``\\|`` as a pipe inside a code span in a table cell).
    """
    value = terminal(value, multiline=False).replace("|", "\\|")
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(value)), default=0)
    fence = "`" * (longest + 1)
    if not value.strip(" "):  # CommonMark keeps a span of spaces as it is; none is empty
        return f"{fence}{value or ' '}{fence}"
    pad = " " if value.startswith(("`", " ")) or value.endswith(("`", " ")) else ""
    return f"{fence}{pad}{value}{pad}{fence}"
