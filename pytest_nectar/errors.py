"""One error format for users: ``path:line:col: what is wrong; got <value>; hint``.

Every user-facing failure is a :class:`NectarError` (or a subclass) carrying a
:class:`Position`.  Front ends print :meth:`NectarError.render`, never a
traceback.  Standard library only: this module sits at the bottom of the layers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Self

from pytest_nectar.escape import terminal

__all__ = [
    "DEBUG_ENV",
    "INTERNAL_ERROR_EXIT",
    "NOTHING",
    "ClaudeError",
    "CompileError",
    "CorpusError",
    "Diagnostic",
    "EmptyCorpusError",
    "NectarError",
    "PolicyError",
    "Position",
    "RulesError",
    "UsageError",
    "internal_error",
]

#: Exit code of an unexpected exception (a bug in Nectar): not 1 "a check failed", not 2
#: "bad input".  pytest uses the same code for its own internal errors.
INTERNAL_ERROR_EXIT: Final = 3
#: Set to 1 to see a short trace under an internal error.
DEBUG_ENV: Final = "NECTAR_DEBUG"
_REPORT_HINT: Final = (
    "  this is a bug in Nectar, not in your input: please report the command and this "
    f"message (run it again with {DEBUG_ENV}=1 for a trace) on Nectar's issue tracker; "
    "security problems: see SECURITY.md"
)
_TRACE_FRAMES: Final = 8


class _Nothing:
    """Marks an error that has no offending value to show."""

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Final = _Nothing()


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where something is: a file, and 1-based line and column (0 when unknown)."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        if self.column <= 0:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"

    def shifted(self, lines: int = 0, columns: int = 0) -> Position:
        """This position moved by some lines and columns (for nested sources)."""
        return Position(self.path, self.line + lines, self.column + columns)


def _show(value: object) -> str:
    if isinstance(value, str):
        # Long values (a corpus attribute, a whole line) are cut so one error stays one line.
        text = value if len(value) <= 120 else value[:117] + "..."
        return repr(text)
    return repr(value)


#: The caret context shows at most this many characters of a long line (a 200 MB one-line
#: file must not be echoed whole).
CONTEXT_WIDTH: Final = 120


def _context(line: str, index: int) -> tuple[str, int]:
    """The part of ``line`` shown around character ``index``, and the caret's offset in it."""
    if len(line) <= CONTEXT_WIDTH:
        return line, index
    start = min(max(0, index - CONTEXT_WIDTH // 2), max(0, len(line) - CONTEXT_WIDTH))
    shown = line[start : start + CONTEXT_WIDTH]
    head = "..." if start > 0 else ""
    tail = "..." if start + CONTEXT_WIDTH < len(line) else ""
    return head + shown + tail, index - start + len(head)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A located finding: an error or a warning, in the one user-facing format."""

    severity: str  # "error" or "warning"
    code: str
    what: str
    position: Position | None = None
    got: object = NOTHING
    hint: str = ""
    source_line: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        parts = [self.what]
        if self.got is not NOTHING:
            parts.append(f"got {_show(self.got)}")
        if self.hint:
            parts.append(self.hint)
        text = "; ".join(parts)
        return f"{self.position}: {text}" if self.position is not None else text

    def render(self) -> str:
        """The message, and under it the source line with a caret at the column.

        For a terminal: control characters of the message and the source line (policy and
        corpus bytes) are shown escaped, and the caret counts the escapes before it.
        """
        message = self.message if self.severity == "error" else f"warning: {self.message}"
        lines = [terminal(message)]
        pos = self.position
        if self.source_line is not None and pos is not None and pos.column > 0:
            shown, index = _context(self.source_line.rstrip("\r\n"), pos.column - 1)
            src = shown.expandtabs(1)
            lines.append("    " + terminal(src, multiline=False))
            lines.append("    " + " " * len(terminal(src[:index], multiline=False)) + "^")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        pos = self.position
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "path": pos.path if pos else None,
            "line": pos.line if pos and pos.line > 0 else None,
            "column": pos.column if pos and pos.column > 0 else None,
            "hint": self.hint or None,
        }
        if self.got is not NOTHING:
            try:
                json.dumps(self.got)
                out["got"] = self.got
            except (TypeError, ValueError):
                out["got"] = repr(self.got)
        out.update(self.extra)
        return out


class NectarError(Exception):
    """Root of every error Nectar reports to a user."""

    code: str = "error"
    exit_code: int = 2

    def __init__(
        self,
        what: str,
        *,
        position: Position | None = None,
        got: object = NOTHING,
        hint: str = "",
        source_line: str | None = None,
        code: str | None = None,
    ) -> None:
        self.diagnostic = Diagnostic(
            "error",
            code or self.code,
            what,
            position=position,
            got=got,
            hint=hint,
            source_line=source_line,
        )
        super().__init__(self.diagnostic.message)

    @classmethod
    def from_diagnostic(cls, diagnostic: Diagnostic) -> Self:
        """The error a located finding (a checker's first error) is raised as."""
        return cls(
            diagnostic.what,
            position=diagnostic.position,
            got=diagnostic.got,
            hint=diagnostic.hint,
            source_line=diagnostic.source_line,
            code=diagnostic.code,
        )

    @property
    def position(self) -> Position | None:
        return self.diagnostic.position

    @property
    def message(self) -> str:
        return self.diagnostic.message

    def render(self) -> str:
        return self.diagnostic.render()


def internal_error(err: BaseException, *, debug: bool = False) -> str:
    """What the CLI and the pytest plugin show for an unexpected exception.

    ``nectar: internal error, please report: <type>: <message>`` and where to report it;
    with ``debug`` (``NECTAR_DEBUG=1``) also the last frames of the trace.  The message may
    quote input, so it is cut to one line and escaped for the terminal.
    """
    detail = terminal(" ".join(str(err).split()), multiline=False)
    if len(detail) > 300:
        detail = detail[:297] + "..."
    kind = type(err).__qualname__
    lines = [f"nectar: internal error, please report: {kind}: {detail}".rstrip(": "), _REPORT_HINT]
    if debug:
        import traceback

        trace = traceback.format_exception(err, limit=-_TRACE_FRAMES)
        lines.append(terminal("".join(trace).rstrip("\n")))
    return "\n".join(lines)


class UsageError(NectarError):
    """The command line itself is wrong."""

    code = "usage"


class PolicyError(NectarError):
    """A policy file does not parse or does not validate."""

    code = "policy"


class CorpusError(NectarError):
    """A trace file cannot be read."""

    code = "corpus"


class EmptyCorpusError(CorpusError):
    """A corpus folder holds no trace files (a fresh project: no traces yet).

    Its own type so that callers that treat "no traces yet" as unknown (the pytest plugin,
    the lock's corpus digest) catch it, not a message compared as text.
    """


class RulesError(NectarError):
    """A Refinery rules file is invalid (Refinery would refuse to load it)."""

    code = "rules"


class CompileError(NectarError):
    """A policy cannot be expressed exactly as Refinery rules."""

    code = "compile"


class ClaudeError(NectarError):
    """Talking to Claude failed, or its answer was unusable."""

    code = "claude"
