"""A proposal as a ``git am``-ready patch and as a pull-request body.

Deterministic: the same proposal gives the same bytes (the date is fixed unless the
caller passes one, e.g. from ``SOURCE_DATE_EPOCH``).  Rationale text comes from the model,
so it is untrusted, and so are the intent and the corpus names in the change summary: control
characters are dropped and line breaks flattened (:func:`pytest_nectar.escape.one_line`);
lines that ``git am`` would read as the end of the message (``---``, ``diff -``, ``Index:``)
or ``git mailsplit`` as a new message (``From ``) are indented, scissors (``>8``) are broken
up so ``git am --scissors`` cannot drop the message above them, and the last paragraph is
always Nectar's own provenance line, so no untrusted line is ever read as a trailer
(``Signed-off-by:``, ``Co-authored-by:``).  Markdown is escaped in the pull-request body.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime
from typing import Final

from pytest_nectar import __version__
from pytest_nectar.claude.client import Rationale
from pytest_nectar.escape import md_code, md_text, one_line, terminal

__all__ = [
    "DEFAULT_AUTHOR",
    "FIXED_DATE",
    "format_patch",
    "patch_subject",
    "pr_body",
    "unified_diff",
]

DEFAULT_AUTHOR: Final = "nectar propose <nectar@localhost>"
FIXED_DATE: Final = datetime(2000, 1, 1, tzinfo=UTC)
_NO_NEWLINE: Final = "\\ No newline at end of file\n"
_MAX_SUBJECT: Final = 72
#: What git mailinfo counts as scissors ("-- >8 --" cuts the message under --scissors).
_SCISSORS: Final = re.compile(r">8|8<|>%|%<")


def patch_subject(intent: str) -> str:
    """One line: ``policy: <intent>``, whitespace collapsed, cut at a word near 72 chars."""
    words = one_line(intent)
    subject = f"policy: {words}" if words else "policy: update"
    if len(subject) > _MAX_SUBJECT:
        cut = subject[: _MAX_SUBJECT - 1]
        cut = cut.rsplit(" ", 1)[0] if " " in cut[8:] else cut
        subject = cut.rstrip(" ,.;:") + "…"
    return subject


def _blob_id(text: str | None) -> str:
    if text is None:
        return "0" * 40
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def unified_diff(path: str, old: str | None, new: str) -> str:
    """A git-style diff of one file (``old`` None means the file is new)."""
    old_lines = (old or "").splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    header = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        header += ["new file mode 100644\n", f"index {'0' * 40}..{_blob_id(new)}\n"]
        header += ["--- /dev/null\n", f"+++ b/{path}\n"]
    else:
        header += [f"index {_blob_id(old)}..{_blob_id(new)} 100644\n"]
        header += [f"--- a/{path}\n", f"+++ b/{path}\n"]
    body: list[str] = []
    hunks = difflib.unified_diff(old_lines, new_lines, n=3)
    for line in hunks:
        if line.startswith(("--- ", "+++ ")) and not body:
            continue  # difflib's own file headers; ours are above
        if line.startswith("@@"):
            body.append(line)
            continue
        body.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    if not body:
        return ""
    return "".join(header + body)


def _counts(diff: str) -> tuple[int, int]:
    lines = diff.splitlines()
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    return added, removed


def _diffstat(diffs: Sequence[tuple[str, str]]) -> str:
    width = max(len(path) for path, _ in diffs)
    out: list[str] = []
    total_added = total_removed = 0
    for path, diff in diffs:
        added, removed = _counts(diff)
        total_added, total_removed = total_added + added, total_removed + removed
        bar = "+" * min(added, 40) + "-" * min(removed, 40)
        out.append(f" {path:<{width}} | {added + removed} {bar}")
    ins = f", {total_added} insertion{'s' if total_added != 1 else ''}(+)" if total_added else ""
    dels = (
        f", {total_removed} deletion{'s' if total_removed != 1 else ''}(-)" if total_removed else ""
    )
    files = f"{len(diffs)} file{'s' if len(diffs) != 1 else ''} changed"
    return "\n".join(out) + f"\n {files}{ins}{dels}\n"


def _safe_body_line(line: str) -> str:
    # git am ends the message at "---" or a diff header; mailsplit starts a mail at "From ".
    line = _SCISSORS.sub(lambda m: m.group()[0] + " " + m.group()[1], line)
    if re.match(r"(---|diff -|Index: |From |>*From )", line):
        return " " + line
    return line


def _wrap(text: str, width: int = 72, indent: str = "  ") -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = indent + word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def format_patch(
    *,
    path: str,
    old: str | None,
    new: str,
    intent: str,
    rationale: Sequence[Rationale],
    diff_summary: str = "",
    verification: Sequence[str] = (),
    author: str = DEFAULT_AUTHOR,
    date: datetime | None = None,
    verified: bool = True,
    also: Sequence[tuple[str, str | None, str]] = (),
) -> str:
    """One mbox message that ``git am`` turns into a commit changing ``path`` to ``new``.

    ``also`` lists more files the commit changes, as ``(path, old, new)`` (the refreshed
    rules file and lock); unchanged ones are left out.
    """
    diffs = [(path, unified_diff(path, old, new))]
    diffs += [(p, unified_diff(p, o, n)) for p, o, n in also if o != n]
    diff = "".join(d for _, d in diffs)
    subject = patch_subject(intent)
    if subject.isascii():
        subject_header = subject
    else:
        subject_header = Header(subject, "utf-8", maxlinelen=998).encode()
    body: list[str] = [f"Intent: {one_line(intent)}", ""]
    if rationale:
        body.append("Rationale:")
        for item in rationale:
            body.extend(_wrap(one_line(f"- {item.rule}: {item.why}")))
        body.append("")
    if diff_summary.strip():
        body.append("Change summary:")
        body.extend(one_line(line) for line in diff_summary.rstrip("\n").splitlines())
        body.append("")
    if verification:
        body.append("Verification:")
        body.extend(f"- {one_line(line)}" for line in verification)
        body.append("")
    body.append(_provenance(verified))
    when = format_datetime(date or FIXED_DATE)
    lines = [
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001",
        f"From: {author}",
        f"Date: {when}",
        f"Subject: [PATCH] {subject_header}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        *(_safe_body_line(line.rstrip()) for line in body),
        "---",
        _diffstat(diffs).rstrip("\n"),
        "",
    ]
    return "\n".join(lines) + "\n" + diff + "-- \nnectar " + __version__ + "\n\n"


def _provenance(verified: bool) -> str:
    if verified:
        return f"Proposed by Claude with nectar propose {__version__}; verified by Nectar."
    return f"Proposed by Claude with nectar propose {__version__}; NOT verified (--force)."


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def pr_body(
    *,
    intent: str,
    path: str,
    rationale: Sequence[Rationale],
    diff_summary: str = "",
    diff_markdown: str = "",
    verification: Sequence[str] = (),
    model: str = "",
    rounds: int = 1,
    verified: bool = True,
) -> str:
    """Markdown for the pull request that carries the patch.

    ``diff_summary`` is one line (or plain text, shown fenced); ``diff_markdown`` is the
    ``nectar diff`` report already rendered as Markdown (its cells escaped), shown as is.
    """
    out = [
        "## Policy proposal",
        "",
        f"> {md_text(intent)}",
        "",
        f"Changes {md_code(path)}. Written by Claude"
        + (f" ({md_code(model)})" if model else "")
        + f" with `nectar propose` in {rounds} round{'s' if rounds != 1 else ''}.",
        "",
        "Verified by Nectar before this pull request was opened."
        if verified
        else "**Warning: this proposal did NOT pass verification; it was written with `--force`.**",
        "",
    ]
    if rationale:
        out += ["### Rationale", "", "| Rule | Why |", "| --- | --- |"]
        out += [f"| {md_text(r.rule)} | {md_text(r.why)} |" for r in rationale]
        out.append("")
    if verification:
        out += ["### Verification", ""]
        out += [f"- {md_text(line)}" for line in verification]
        out.append("")
    if diff_summary.strip() or diff_markdown.strip():
        out += ["### Change summary", ""]
    if diff_summary.strip():
        fence = _fence(diff_summary)
        out += [fence + "text", terminal(diff_summary.rstrip("\n")), fence, ""]
    if diff_markdown.strip():
        out += [diff_markdown.strip("\n"), ""]
    out.append("Review the diff before merging: Claude wrote it, Nectar checked it.")
    return "\n".join(out) + "\n"
