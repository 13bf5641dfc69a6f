"""Class 8 of issue 19: untrusted strings escaped for the medium they land in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nectar.escape import code, md_code, md_text, one_line, segments, terminal

#: Escape sequences an attacker would plant: OSC title, clear screen, C1 CSI, bidi override.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202eevil\r"
#: Markdown that would break a code span, render a remote image, a link, HTML, a mention.
MARKDOWN = "a`b ``c ![x](https://evil.example/p.png) [y](https://evil.example) <img src=x> @all"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_terminal_shows_every_control_character_escaped() -> None:
    assert terminal(HOSTILE) == "\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m\\u202eevil\\x0d"
    assert terminal("a\n\tb") == "a\n\tb"
    assert terminal("a\n\tb", multiline=False) == "a\\x0a\\x09b"


@given(st.text())
def test_terminal_output_has_no_control_characters(text: str) -> None:
    assert CONTROL.search(terminal(text)) is None
    assert CONTROL.search(one_line(text)) is None and "\n" not in one_line(text)


@given(st.text())
def test_code_spans_survive_any_value(value: str) -> None:
    fenced = md_code(value)
    fence = re.match("`+", fenced)
    assert fence is not None
    # The opening fence is longer than any backtick run inside, so nothing closes it early.
    inner = fenced[len(fence.group()) : -len(fence.group())]
    assert all(len(run) < len(fence.group()) for run in re.findall("`+", inner))
    assert [(True, value.replace("\ue000", "").replace("\ue001", ""))] == list(
        segments(code(value))
    ) or value.replace("\ue000", "").replace("\ue001", "") == ""


def test_markdown_text_renders_no_link_image_or_html() -> None:
    out = md_text(MARKDOWN)
    assert out == (
        "a\\`b \\`\\`c !\\[x\\](https://evil.example/p.png) \\[y\\](https://evil.example) "
        "&lt;img src=x&gt; &#64;all"
    )
    assert md_text("# title") == "\\# title" and md_text("1. item") == "1\\. item"
    assert md_code("a``b") == "```a``b```" and md_code("`x") == "`` `x ``"


def _corpus(path: Path, service: str, route: str, trace_id: str = "ab" * 16) -> Path:
    """One OTLP trace whose service name and route are hostile strings."""
    span = {
        "traceId": trace_id,
        "spanId": "cd" * 8,
        "name": "GET",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000005000000",
        "attributes": [
            {"key": "http.route", "value": {"stringValue": route}},
            {"key": "http.status", "value": {"intValue": "503"}},
        ],
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    doc = {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}
    path.write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return path


POLICY = """\
nectar_policy{version,name,budget_per_second,rules}:
  1
  hostile
  1000
  rules[2]{name,description,match,action,priority}:
    drop-all,Drop everything,true,drop,10
    rest,,true,keep,0
"""


def _outside_code_spans(md: str) -> str:
    """The Markdown with its code spans cut out, as CommonMark reads them (a run of n
    backticks opens a span that the next run of exactly n backticks closes)."""
    out, at = [], 0
    while (m := re.compile("`+").search(md, at)) is not None:
        close = re.compile(f"(?<!`){m.group()}(?!`)").search(md, m.end())
        if close is None:
            out.append(md[at : m.end()])
            at = m.end()
            continue
        out.append(md[at : m.start()])
        at = close.end()
    return "".join(out) + md[at:]


def _nectar(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_nectar", *args],
        cwd=tmp, capture_output=True, text=True, check=False,
    )  # fmt: skip


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    _corpus(tmp_path / "c.jsonl", "svc" + HOSTILE + MARKDOWN, "/r" + HOSTILE)
    (tmp_path / "p.toon").write_text(POLICY, encoding="utf-8")
    return tmp_path


def test_terminal_commands_never_print_raw_escape_sequences(hostile: Path) -> None:
    runs = {
        "corpus stats": _nectar(hostile, "corpus", "stats", "c.jsonl", "--no-cache"),
        "explain": _nectar(hostile, "explain", "p.toon", "--corpus", "c.jsonl"),
        "replay": _nectar(hostile, "replay", "p.toon", "--corpus", "c.jsonl"),
        "prove": _nectar(hostile, "prove", "p.toon", "--corpus", "c.jsonl"),
    }
    for name, out in runs.items():
        assert out.returncode in (0, 1), (name, out.stderr)
        assert CONTROL.search(out.stdout + out.stderr) is None, name
    assert "svc\\x1b]0;pwned\\x07" in runs["corpus stats"].stdout
    assert "svc\\x1b]0;pwned\\x07" in runs["explain"].stdout


def test_explain_markdown_keeps_hostile_values_inert(hostile: Path) -> None:
    out = _nectar(hostile, "explain", "p.toon", "--corpus", "c.jsonl", "--format", "md")
    assert out.returncode == 0, out.stderr
    md = out.stdout
    assert CONTROL.search(md) is None
    outside = _outside_code_spans(md)
    assert "](https://" not in outside and "<img" not in outside and "@all" not in outside
    assert "](https://" in md  # the value is there, inside a code span or escaped
    # The service that loses all its traces is shown in a code span no backtick can close.
    line = next(x for x in md.splitlines() if "loses all its traces" in x)
    assert "```svc\\x1b]0;pwned\\x07" in line and _outside_code_spans(line).endswith(
        " loses all its traces"
    )
    html = _nectar(hostile, "explain", "p.toon", "--corpus", "c.jsonl", "--format", "html")
    assert "<img src=x>" not in html.stdout and "&lt;img src=x&gt;" in html.stdout


def test_error_caret_escapes_policy_bytes_and_stays_aligned(tmp_path: Path) -> None:
    bad = POLICY.replace("drop-all,Drop everything,true", 'x,y,"\x1b[2Jhttp.status >>> 5"')
    (tmp_path / "bad.toon").write_text(bad, encoding="utf-8")
    out = _nectar(tmp_path, "check", "bad.toon")
    assert out.returncode == 1
    assert CONTROL.search(out.stderr) is None and "\\x1b[2J" in out.stderr
    lines = out.stderr.splitlines()
    caret = next(i for i, x in enumerate(lines) if x.strip() == "^")
    source, mark = lines[caret - 1], lines[caret]
    column = int(lines[0].split(":")[2])  # bad.toon:LINE:COL: ...
    raw_before = bad.splitlines()[int(lines[0].split(":")[1]) - 1][: column - 1]
    assert source[mark.index("^")] == (source[4 + len(terminal(raw_before, multiline=False))])
    assert mark.index("^") == 4 + len(terminal(raw_before, multiline=False))


# What a hostile value can be made of: Markdown syntax, URLs, HTML, entities, control chars.
_PIECES = st.lists(
    st.sampled_from(
        [
            *"ab `*_[]()!<>&|~#-+=.1 \\:/@$\n\x1b",
            "https://x.y/p.png",
            "<img src=x>",
            "![x](",
            "&amp;",
        ]
    ),
    max_size=12,
).map("".join)


def _parse(markdown: str) -> list[Any]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(markdown)
    return [c for t in tokens if t.children for c in t.children]


@settings(max_examples=300)
@given(_PIECES)
def test_markdown_text_parses_back_to_the_value_and_nothing_else(value: str) -> None:
    """A real CommonMark parser reads md_text(value) as plain text equal to the value
    (whitespace runs as one space, control characters escaped): no link, image, HTML,
    emphasis, code span or block structure."""
    inline = _parse(md_text(value))
    assert {t.type for t in inline} <= {"text", "softbreak"}
    assert "".join(t.content for t in inline) == terminal(" ".join(value.split()), multiline=False)


@settings(max_examples=300)
@given(_PIECES)
def test_markdown_code_span_holds_exactly_the_value(value: str) -> None:
    inline = _parse("x " + md_code(value) + " y")
    spans = [t for t in inline if t.type == "code_inline"]
    assert len(spans) == 1
    assert spans[0].content == (terminal(value, multiline=False).replace("|", "\\|") or " ")
