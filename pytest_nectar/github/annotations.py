"""Nectar diagnostics as GitHub Actions workflow commands and a Markdown findings table.

The deploy gate (``action/``) runs ``nectar prove --json`` and ``nectar compile --check`` and
hands their output here.  Three inputs are understood:

* ``nectar prove --json``: ``{"reports": [{"target", "properties": [...]}]}`` (see
  :func:`pytest_nectar.prover.proof_report.to_json`).  Each failed property is an error and each
  warned lint a warning, placed at a policy line: the row of the rule that decided a
  witness trace (the rule that dropped the errors), else the policy field the property is
  about (``error``, ``must_keep``, ``budget_per_second``, ``rules``).
* Any other JSON: a list of diagnostics, or ``"diagnostics"`` arrays at any depth, each in
  the shape of :meth:`pytest_nectar.errors.Diagnostic.to_json` (``severity``, ``message``,
  ``path``, ``line``, ``column``, ``code``).
* Text: Nectar's one error format on stderr, ``path:line:col: what; got ...; hint`` (a
  leading ``warning:`` marks a warning); caret lines and other text are ignored.

GitHub shows only a few annotations of each kind per step, so errors come first and the
rest are counted; the findings table in the step summary lists all of them.  Only the
policy parser is imported (lazily, to find rule lines).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "Annotation",
    "annotations_from_json",
    "annotations_from_prove",
    "annotations_from_text",
    "escape_data",
    "escape_property",
    "format_command",
    "main",
    "render_findings",
    "select_for_display",
]

LEVELS: tuple[str, ...] = ("error", "warning", "notice")
_SEVERITY_TO_LEVEL = {"error": "error", "fail": "error", "warning": "warning", "warn": "warning"}

# `path:line[:col]: message`, optionally preceded by `warning: ` (Diagnostic.render).
_LOCATED_LINE = re.compile(
    r"^(?P<warn>warning: )?(?P<path>[^\s:][^:]*?):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<msg>.+)$"
)


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command (after ``::``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``): data escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One finding to show on a file line of a pull request."""

    level: str  # "error", "warning" or "notice"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    title: str | None = None

    def sort_key(self) -> tuple[int, bool, str, int, int, str]:
        # Errors first; within a level, findings at a policy line before unlocated ones.
        return (
            LEVELS.index(self.level),
            self.file is None,
            self.file or "",
            self.line or 0,
            self.column or 0,
            self.message,
        )


def format_command(annotation: Annotation) -> str:
    """The workflow command line, e.g. ``::error file=p.toon,line=3,col=5,title=T::msg``."""
    props: list[str] = []
    if annotation.file:
        props.append(f"file={escape_property(annotation.file)}")
        if annotation.line:
            props.append(f"line={annotation.line}")
            if annotation.column:
                props.append(f"col={annotation.column}")
    if annotation.title:
        props.append(f"title={escape_property(annotation.title)}")
    head = f"::{annotation.level}"
    if props:
        head += " " + ",".join(props)
    return f"{head}::{escape_data(annotation.message)}"


def _location_prefix(path: str, line: int | None, column: int | None) -> str:
    if not line:
        return path
    if not column:
        return f"{path}:{line}"
    return f"{path}:{line}:{column}"


def _positive_int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def _from_diagnostic(item: dict[str, Any]) -> Annotation | None:
    message = item.get("message")
    if not isinstance(message, str) or not message:
        return None
    severity = str(item.get("severity", "error")).lower()
    level = _SEVERITY_TO_LEVEL.get(severity, "notice")
    path = item.get("path") if isinstance(item.get("path"), str) else None
    line = _positive_int(item.get("line"))
    column = _positive_int(item.get("column"))
    if path:
        # Diagnostic.message starts with its own location; the annotation already shows it.
        prefix = _location_prefix(path, line, column) + ": "
        if message.startswith(prefix):
            message = message[len(prefix) :]
    code = item.get("code")
    title = f"nectar: {code}" if isinstance(code, str) and code else "nectar"
    return Annotation(level, message, path, line, column if line else None, title)


def _diagnostic_dicts(doc: Any, *, in_list: bool = False) -> Iterator[dict[str, Any]]:
    if isinstance(doc, list):
        for entry in doc:
            if in_list and isinstance(entry, dict) and "message" in entry:
                yield entry
            else:
                yield from _diagnostic_dicts(entry)
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield from _diagnostic_dicts(value, in_list=key == "diagnostics")


def annotations_from_json(doc: Any) -> list[Annotation]:
    """Every diagnostic in a Nectar JSON document (a bare list, or ``diagnostics`` arrays)."""
    items = _diagnostic_dicts(doc, in_list=isinstance(doc, list))
    found = (_from_diagnostic(item) for item in items)
    return [a for a in found if a is not None]


_LEVEL_OF_VERDICT = {"fail": "error", "warn": "warning"}
_COMPILED_SUFFIX = re.compile(r"#\d+$")


@dataclass(frozen=True, slots=True)
class PolicyLines:
    """Where a policy's rules and top-level fields are written (1-based lines)."""

    rules: dict[str, int]
    fields: dict[str, int]
    header: int

    def of_rule(self, compiled_name: str) -> int | None:
        # The compiler names the parts of a split rule `<name>#2`, `<name>#3`...
        if compiled_name in self.rules:
            return self.rules[compiled_name]
        return self.rules.get(_COMPILED_SUFFIX.sub("", compiled_name))

    def of_property(self, property_id: str) -> int:
        """The line of the policy field the property checks (the prover's table says which)."""
        from pytest_nectar.prover.properties import KNOWN_PROPERTIES, Property

        field = Property(property_id).spec.policy_field if property_id in KNOWN_PROPERTIES else ""
        rules = self.fields.get("rules") or self.fields.get("sampler")  # a sampler-only policy
        return self.fields.get(field) or rules or self.header


def read_policy_lines(path: str) -> PolicyLines | None:
    """The lines of a ``.toon`` policy's rules and fields (None: unreadable or invalid)."""
    if not path.endswith(".toon"):
        return None
    from pytest_nectar.errors import NectarError
    from pytest_nectar.policy.parser import load_policy

    try:
        policy = load_policy(path)
    except (NectarError, OSError):
        return None
    rules = {r.name: r.position.line for r in policy.rules if r.position.line}
    fields = {k: p.line for k, p in policy.field_positions if p.line}
    return PolicyLines(rules, fields, policy.position.line or 1)


def _display_path(path: str) -> str:
    """Absolute paths below the working folder become relative (annotations need that)."""
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else Path(rel).as_posix()


def annotations_from_prove(
    doc: Any, locate: Callable[[str], PolicyLines | None] = read_policy_lines
) -> list[Annotation]:
    """One annotation per failed property (error) or warned lint (warning), at policy lines.

    A property whose witnesses were decided by rules gets one annotation per deciding rule,
    at that rule's row; otherwise one at the field the property is about.
    """
    out: list[Annotation] = []
    reports = doc.get("reports") if isinstance(doc, dict) else None
    for report in reports if isinstance(reports, list) else []:
        if not isinstance(report, dict) or not isinstance(report.get("target"), str):
            continue
        target: str = report["target"]
        lines = locate(target)
        shown = _display_path(target)
        for prop in report.get("properties") or []:
            if not isinstance(prop, dict):
                continue
            level = _LEVEL_OF_VERDICT.get(str(prop.get("verdict")))
            if level is None:
                continue
            pid = str(prop.get("id", "property"))
            message = f"{pid}: {prop.get('summary', '')}".rstrip(": ")
            title = f"nectar: {pid}"
            if lines is None:
                out.append(Annotation(level, message, shown, None, None, title))
                continue
            at: list[int] = []
            for witness in prop.get("witnesses") or []:
                rule = witness.get("rule") if isinstance(witness, dict) else None
                line = lines.of_rule(rule) if isinstance(rule, str) else None
                if line is not None and line not in at:
                    at.append(line)
            for line in at or [lines.of_property(pid)]:
                out.append(Annotation(level, message, shown, line, None, title))
    return out


def _is_prove_document(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("reports"), list)


def annotations_from_text(text: str) -> list[Annotation]:
    """Every located line of Nectar's one error format in ``text``."""
    out: list[Annotation] = []
    for raw in text.splitlines():
        match = _LOCATED_LINE.match(raw.rstrip())
        if match is None:
            continue
        level = "warning" if match["warn"] else "error"
        column = int(match["col"]) if match["col"] else None
        out.append(
            Annotation(level, match["msg"], match["path"], int(match["line"]), column, "nectar")
        )
    return out


def rebase_path(annotation: Annotation, prefix: str) -> Annotation:
    """Make a path relative to the repository root when Nectar ran in ``prefix``."""
    if not annotation.file or not prefix or prefix == ".":
        return annotation
    path = annotation.file
    if os.path.isabs(path):
        return annotation
    joined = PurePosixPath(prefix) / PurePosixPath(path)
    parts: list[str] = []
    for part in joined.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return Annotation(
        annotation.level,
        annotation.message,
        "/".join(parts),
        annotation.line,
        annotation.column,
        annotation.title,
    )


def deduplicate(annotations: Iterable[Annotation]) -> list[Annotation]:
    """Sorted, errors first, each finding once (JSON and stderr often repeat one another)."""
    seen: set[tuple[str, str | None, int | None, str]] = set()
    out: list[Annotation] = []
    for a in sorted(annotations, key=Annotation.sort_key):
        key = (a.level, a.file, a.line, a.message)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


def select_for_display(
    annotations: Sequence[Annotation], per_level: int
) -> tuple[list[Annotation], int]:
    """The first ``per_level`` of each level (GitHub shows few per step) and how many were cut."""
    counts = dict.fromkeys(LEVELS, 0)
    shown: list[Annotation] = []
    for a in annotations:
        if counts[a.level] < per_level:
            shown.append(a)
        counts[a.level] += 1
    return shown, len(annotations) - len(shown)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_findings(annotations: Sequence[Annotation]) -> str:
    """A Markdown section listing every finding (the step summary's complete list)."""
    if not annotations:
        return ""
    lines = [
        "### Findings",
        "",
        "| level | where | message |",
        "| --- | --- | --- |",
    ]
    for a in annotations:
        where = _location_prefix(a.file, a.line, a.column) if a.file else ""
        where_cell = f"`{_cell(where)}`" if where else ""
        lines.append(f"| {a.level} | {where_cell} | {_cell(a.message)} |")
    return "\n".join(lines) + "\n"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_nectar.github.annotations",
        description="Turn Nectar diagnostics into GitHub workflow commands.",
    )
    parser.add_argument("--json", action="append", default=[], metavar="FILE", type=Path)
    parser.add_argument("--text", action="append", default=[], metavar="FILE", type=Path)
    parser.add_argument(
        "--path-prefix", default="", help="directory Nectar ran in, relative to the repository"
    )
    parser.add_argument(
        "--error", action="append", default=[], metavar="TEXT", help="an unlocated error"
    )
    parser.add_argument("--per-level", type=int, default=10, metavar="N")
    parser.add_argument("--findings", type=Path, metavar="FILE", help="append Markdown here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    found: list[Annotation] = []
    for path in args.json:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            # Not JSON (an older nectar, or a crash): still surface its located lines.
            found.extend(annotations_from_text(text))
            continue
        if _is_prove_document(doc):
            found.extend(annotations_from_prove(doc))
        else:
            found.extend(annotations_from_json(doc))
    for path in args.text:
        if path.exists():
            found.extend(annotations_from_text(path.read_text(encoding="utf-8")))
    found.extend(Annotation("error", text, title="nectar") for text in args.error)
    found = [
        a if a.file is None else dataclasses.replace(a, file=_display_path(a.file)) for a in found
    ]
    every = deduplicate(rebase_path(a, args.path_prefix) for a in found)
    shown, cut = select_for_display(every, args.per_level)
    commands = [format_command(a) for a in shown]
    if cut:
        commands.append(
            format_command(Annotation("notice", f"{cut} more findings in the step summary"))
        )
    out = "".join(c + "\n" for c in commands)
    sys.stdout.write(out)
    # act discards annotations; a copy in a file lets tests (and curious users) see them.
    copy = os.environ.get("NECTAR_ANNOTATIONS_FILE")
    if copy:
        with open(copy, "a", encoding="utf-8") as handle:
            handle.write(out)
    if args.findings is not None:
        with args.findings.open("a", encoding="utf-8") as handle:
            handle.write(render_findings(every))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
