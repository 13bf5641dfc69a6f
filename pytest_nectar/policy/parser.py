"""Policy files (TOON) -> :class:`~pytest_nectar.policy.model.Policy`.

The grammar is ``grammar/policy.lark``; indentation becomes ``_INDENT``/``_DEDENT`` tokens in
:class:`_Indenter`.  Parsing has two steps: the lark tree is turned into plain located pieces
(values, inline arrays, tables), then :func:`_assemble` maps them onto the policy fields,
checking the structure (unknown, missing and duplicate fields, row and cell counts). Match and
action cells are parsed by :mod:`pytest_nectar.policy.match_parser` with their file columns.
Meaning (``not`` exactness, sample rates, duplicates) is checked by
:mod:`pytest_nectar.policy.check`.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Final

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lark import PostLex

from pytest_nectar.errors import PolicyError, Position
from pytest_nectar.policy.match_parser import (
    decode_string,
    parse_action,
    parse_match,
    parse_sampler,
)
from pytest_nectar.policy.model import Commentary, CommentLine, Expr, Policy, PolicyComments, Rule
from pytest_nectar.policy.slips import row_slip

__all__ = ["POLICY_FIELDS", "RULE_COLUMNS", "load_policy", "parse_policy"]

#: Top-level fields in canonical order; the printer writes them in this order.
POLICY_FIELDS: Final = (
    "version",
    "name",
    "budget_per_second",
    "environment",
    "error",
    "must_keep",
    "check_nested_fields",
    "sampler",
    "rules",
)
_REQUIRED: Final = ("version", "name")
RULE_COLUMNS: Final = ("name", "description", "match", "action", "priority")
_REQUIRED_COLUMNS: Final = ("name", "match", "action", "priority")
_CELL_ESCAPES: Final = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
SUPPORTED_VERSION: Final = 1


class _IndentProblem(Exception):
    def __init__(self, what: str, line: int, column: int, got: object, hint: str) -> None:
        super().__init__(what)
        self.what, self.line, self.column, self.got, self.hint = what, line, column, got, hint


class _Indenter(PostLex):
    """Turns the indentation after each ``_NL`` into ``_INDENT``/``_DEDENT`` (2 spaces a level)."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        levels = [0]
        last: Token | None = None
        for token in stream:
            last = token
            if token.type != "_NL":
                yield token
                continue
            yield token
            indent = token.value.rsplit("\n", 1)[1]
            line = (token.end_line or 1) if token.end_line is not None else 1
            if "\t" in indent:
                raise _IndentProblem(
                    "tabs are not allowed in indentation",
                    line,
                    indent.index("\t") + 1,
                    indent,
                    "indent with 2 spaces per level",
                )
            width = len(indent)
            tok_args = (token.end_pos, line, width + 1, line, width + 1, token.end_pos)
            if width > levels[-1]:
                if width != levels[-1] + 2:
                    raise _IndentProblem(
                        "indentation must grow by 2 spaces per level",
                        line,
                        width + 1,
                        width,
                        f"indent this line by {levels[-1] + 2} spaces",
                    )
                levels.append(width)
                yield Token("_INDENT", indent, *tok_args)
                continue
            while width < levels[-1]:
                levels.pop()
                yield Token("_DEDENT", indent, *tok_args)
            if width != levels[-1]:
                raise _IndentProblem(
                    "indentation does not match any outer level",
                    line,
                    width + 1,
                    width,
                    f"indent this line by {levels[-1]} spaces",
                )
        while len(levels) > 1:
            levels.pop()
            end = last.end_pos if last is not None else 0
            yield Token("_DEDENT", "", end, 0, 0, 0, 0, end)


@functools.cache
def _lark() -> Lark:
    grammar = (
        resources.files("pytest_nectar.policy").joinpath("grammar/policy.lark").read_text("utf-8")
    )
    # cache=True: lark keeps the analysed LALR tables in a per-user temp file keyed by the
    # grammar's hash; building them takes seconds, loading them milliseconds (pytest runs).
    return Lark(grammar, parser="lalr", postlex=_Indenter(), propagate_positions=True, cache=True)


# --- located pieces -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Text:
    """A scalar value or cell: decoded text and the file column of each character."""

    text: str
    position: Position
    columns: tuple[int, ...]
    quoted: bool


@dataclass(frozen=True, slots=True)
class _Array:
    count: int
    count_position: Position
    items: tuple[_Text, ...]
    position: Position


@dataclass(frozen=True, slots=True)
class _Table:
    key: str
    position: Position
    count: int
    count_position: Position
    columns: tuple[tuple[str, Position], ...]
    rows: tuple[tuple[Position, tuple[_Text, ...]], ...]
    end_position: Position


_Value = _Text | _Array | _Table


class _Reader:
    """Walks the lark tree; positions are shifted up one line (the parser sees a leading NL)."""

    def __init__(self, path: str, lines: Sequence[str]) -> None:
        self.path = path
        self.lines = lines

    def pos(self, token: Any) -> Position:
        return Position(self.path, (token.line or 2) - 1, token.column or 1)

    def line(self, position: Position) -> str | None:
        index = position.line - 1
        return self.lines[index] if 0 <= index < len(self.lines) else None

    def error(self, what: str, position: Position, *, got: object, hint: str = "") -> PolicyError:
        return PolicyError(
            what, position=position, got=got, hint=hint, source_line=self.line(position)
        )

    def text(self, token: Any) -> _Text:
        pos = self.pos(token)
        raw = str(token)
        if token.type == "QUOTED":
            try:
                text, offsets = decode_string(raw[1:-1], escapes=_CELL_ESCAPES)
            except ValueError as err:
                off = int(err.args[0])
                bad = Position(pos.path, pos.line, pos.column + 1 + off)
                raise self.error(
                    "invalid escape in quoted value",
                    bad,
                    got=raw[1 + off : 3 + off],
                    hint=r"TOON escapes are \" \\ \n \r \t",
                ) from None
            columns = (*(pos.column + 1 + o for o in offsets), pos.column + len(raw) - 1)
            return _Text(text, pos, columns, True)
        text = raw.rstrip()
        return _Text(text, pos, tuple(pos.column + i for i in range(len(text) + 1)), False)

    def value(self, tree: Tree[Any]) -> _Text:
        return self.text(tree.children[0])

    def cells(self, tree: Tree[Any], line_pos: Position) -> tuple[_Text, ...]:
        out: list[_Text] = []
        for cell in tree.children:
            if cell.children and cell.children[0] is not None:
                out.append(self.text(cell.children[0]))
            else:
                # an empty cell: place it where it would be (the comma before it, or the row start)
                column = cell.meta.column if not cell.meta.empty else line_pos.column
                where = Position(self.path, line_pos.line, column)
                out.append(_Text("", where, (where.column,), False))
        return tuple(out)

    def count(self, token: Any) -> int:
        text = str(token)
        if len(text.lstrip("0")) > 18:
            raise self.error(
                "array length out of range",
                self.pos(token),
                got=text,
                hint="write the number of items that follow",
            )
        return int(text)

    def array(self, key_token: Any, tokens: Sequence[Any]) -> _Array:
        count_token, cells = tokens[0], tokens[1]
        count_pos = self.pos(count_token)
        pos = self.pos(key_token) if key_token is not None else count_pos
        items = self.cells(cells, count_pos)
        if len(items) == 1 and items[0].text == "" and not items[0].quoted:
            items = ()
        return _Array(self.count(count_token), count_pos, items, pos)

    def table(self, tree: Tree[Any]) -> _Table:
        key, count_token, *rest = tree.children
        columns: list[tuple[str, Position]] = []
        rows: list[tuple[Position, tuple[_Text, ...]]] = []
        for child in rest:
            if child.data == "column":
                token = child.children[0]
                columns.append((str(token), self.pos(token)))
            else:
                row_pos = Position(self.path, child.meta.line - 1, child.meta.column)
                rows.append((row_pos, self.cells(child.children[0], row_pos)))
        end = rows[-1][0] if rows else self.pos(key)
        return _Table(
            str(key),
            self.pos(key),
            self.count(count_token),
            self.pos(count_token),
            tuple(columns),
            tuple(rows),
            end,
        )

    def entries(self, tree: Any) -> tuple[Any, list[tuple[str, Position, _Value]]]:
        """The policy key token and its fields as (name, where the name is, value)."""
        head = tree.children[0]
        out: list[tuple[str, Position, _Value]] = []
        if tree.data == "keyed_policy":
            for entry in tree.children[1:]:
                if entry.data == "keyed_scalar":
                    key = entry.children[0]
                    out.append((str(key), self.pos(key), self.value(entry.children[1])))
                elif entry.data == "keyed_array":
                    key = entry.children[0]
                    array = self.array(key, entry.children[1:])
                    out.append((str(key), self.pos(key), array))
                else:
                    table = self.table(entry)
                    out.append((table.key, table.position, table))
            return head, out
        header = [c for c in tree.children[1:] if c.data == "header_field"]
        values = [c for c in tree.children[1:] if c.data != "header_field"]
        names = [(str(h.children[0]), self.pos(h.children[0])) for h in header]
        seen: dict[str, Position] = {}
        for name, where in names:
            if name in seen:
                raise self.error(
                    "duplicate field in the policy header",
                    where,
                    got=name,
                    hint=f"{name} is already listed at column {seen[name].column}",
                )
            seen[name] = where
            _check_known(self, name, where)
        for index, node in enumerate(values):
            piece: _Value
            if node.data == "positional_scalar":
                piece = self.value(node.children[0])
            elif node.data == "positional_array":
                piece = self.array(None, node.children)
            else:
                piece = self.table(node)
            if index >= len(names):
                where = piece.position
                raise self.error(
                    "more values than the policy header lists",
                    where,
                    got=piece.text if isinstance(piece, _Text) else _kind(piece),
                    hint=f"the header lists {len(names)} fields: {','.join(n for n, _ in names)}",
                )
            out.append((names[index][0], piece.position, piece))
        if len(values) < len(names):
            name, where = names[len(values)]
            raise self.error(
                "missing value line for a header field",
                where,
                got=name,
                hint=f"the header lists {len(names)} fields but {len(values)} values follow",
            )
        return head, out


def _kind(piece: _Value) -> str:
    if isinstance(piece, _Table):
        return f"{piece.key}[{piece.count}]{{...}}"
    if isinstance(piece, _Array):
        return f"[{piece.count}]: ..."
    return piece.text


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    listing = ", ".join(known)
    return f"did you mean {close[0]}? known: {listing}" if close else f"known: {listing}"


def _check_known(reader: _Reader, name: str, where: Position) -> None:
    if name not in POLICY_FIELDS:
        raise reader.error(
            "unknown policy field", where, got=name, hint=_suggest(name, POLICY_FIELDS)
        )


# --- assembling the policy ------------------------------------------------------------------


def _scalar(reader: _Reader, name: str, piece: _Value) -> _Text:
    if not isinstance(piece, _Text):
        raise reader.error(
            f"{name} must be a single value", piece.position, got=_kind(piece), hint=""
        )
    return piece


def _int(reader: _Reader, name: str, piece: _Value) -> int:
    text = _scalar(reader, name, piece)
    value = text.text.strip()
    if not value.isascii() or not value.isdigit():
        raise reader.error(
            f"{name} must be a whole number", text.position, got=text.text, hint="e.g. 10000"
        )
    if not _fits_int64(value):
        raise reader.error(f"{name} out of range", text.position, got=text.text, hint=_INT64_HINT)
    return int(value)


_INT64_HINT: Final = "the largest allowed is 9223372036854775807 (a Go int64)"


def _fits_int64(digits: str) -> bool:
    """Whether unsigned decimal ``digits`` fit an int64, without converting huge ones."""
    digits = digits.lstrip("0") or "0"
    return len(digits) <= 19 and int(digits) < 2**63


def _match(reader: _Reader, text: _Text) -> Expr:
    return parse_match(
        text.text,
        position=text.position,
        columns=text.columns,
        source_line=reader.line(text.position),
    )


def _rules(reader: _Reader, piece: _Value) -> tuple[Rule, ...]:
    if not isinstance(piece, _Table):
        raise reader.error(
            "rules must be a table",
            piece.position,
            got=_kind(piece),
            hint="write rules[N]{name,description,match,action,priority}: and one row per rule",
        )
    if piece.key != "rules":
        raise reader.error(
            "expected the rules table here",
            piece.position,
            got=piece.key,
            hint="the table is written rules[N]{name,description,match,action,priority}:",
        )
    index: dict[str, int] = {}
    for i, (column, where) in enumerate(piece.columns):
        if column not in RULE_COLUMNS:
            raise reader.error(
                "unknown rules column", where, got=column, hint=_suggest(column, RULE_COLUMNS)
            )
        if column in index:
            raise reader.error("duplicate rules column", where, got=column, hint="")
        index[column] = i
    for column in _REQUIRED_COLUMNS:
        if column not in index:
            raise reader.error(
                "missing rules column",
                piece.position,
                got=column,
                hint="the columns are name,description,match,action,priority",
            )
    if piece.count != len(piece.rows):
        raise reader.error(
            "row count differs from the table header",
            piece.count_position,
            got=len(piece.rows),
            hint=f"rules[{piece.count}] declares {piece.count} rows; "
            f"make it rules[{len(piece.rows)}] or add the missing rows",
        )
    rules: list[Rule] = []
    for row_pos, cells in piece.rows:
        if len(cells) != len(piece.columns):
            _raise_row_slip(reader, row_pos)
            where = (
                cells[len(piece.columns)].position if len(cells) > len(piece.columns) else row_pos
            )
            raise reader.error(
                "wrong number of cells in row",
                where,
                got=len(cells),
                hint=f"the header has {len(piece.columns)} columns "
                f"({','.join(c for c, _ in piece.columns)}); quote a cell that holds a comma",
            )
        rules.append(_rule(reader, row_pos, cells, index))
    # evaluation order: priority descending, ties keep file order (sorted() is stable)
    return tuple(sorted(rules, key=lambda r: -r.priority))


def _rule(
    reader: _Reader, row_pos: Position, cells: Sequence[_Text], index: dict[str, int]
) -> Rule:
    name = cells[index["name"]]
    if not name.text.strip():
        raise reader.error("empty rule name", name.position, got=name.text, hint="name every rule")
    description = cells[index["description"]].text if "description" in index else ""
    priority = cells[index["priority"]]
    ptext = priority.text.strip()
    digits = ptext[1:] if ptext[:1] in "+-" else ptext
    if not digits.isascii() or not digits.isdigit():
        raise reader.error(
            "priority must be a whole number",
            priority.position,
            got=priority.text,
            hint="higher priorities are tried first, e.g. 100",
        )
    if not _fits_int64(digits):
        raise reader.error(
            "priority out of range", priority.position, got=priority.text, hint=_INT64_HINT
        )
    action = cells[index["action"]]
    return Rule(
        name=name.text,
        description=description or None,
        match=_match(reader, cells[index["match"]]),
        action=parse_action(
            action.text,
            position=action.position,
            columns=action.columns,
            source_line=reader.line(action.position),
        ),
        priority=int(ptext),
        position=row_pos,
        name_position=name.position,
        priority_position=priority.position,
    )


#: (present, absent, where, what, hint): the field combinations a policy may not have.
_EXCLUSIVE: Final = (
    (
        ("rules", "sampler"),
        (),
        "sampler",
        "a policy has rules or a sampler, not both",
        "an environment uses either a RulesBasedSampler (rules) or one sampler",
    ),
    (
        (),
        ("rules", "sampler"),
        "",
        "missing required policy field",
        "a policy needs version, name and rules (or a sampler, e.g. deterministic(1/10))",
    ),
    (
        ("sampler", "check_nested_fields"),
        (),
        "check_nested_fields",
        "check_nested_fields needs rules",
        "only a RulesBasedSampler reads CheckNestedFields; remove it",
    ),
)


def _check_sampler_or_rules(
    reader: _Reader, seen: dict[str, tuple[Position, _Value]], head: Position
) -> None:
    """A policy has rules or an environment sampler: exactly one, and no rules-only fields."""
    for present, absent, field, what, hint in _EXCLUSIVE:
        if all(f in seen for f in present) and not any(f in seen for f in absent):
            where = seen[field][0] if field else head
            raise reader.error(what, where, got=field or "rules", hint=hint)


def _assemble(reader: _Reader, head: Any, fields: list[tuple[str, Position, _Value]]) -> Policy:
    seen: dict[str, tuple[Position, _Value]] = {}
    for name, where, piece in fields:
        _check_known(reader, name, where)
        if name in seen:
            raise reader.error(
                "duplicate policy field",
                where,
                got=name,
                hint=f"{name} is already set on line {seen[name][0].line}",
            )
        seen[name] = (where, piece)
    head_pos = reader.pos(head)
    for name in _REQUIRED:
        if name not in seen:
            raise reader.error(
                "missing required policy field",
                head_pos,
                got=name,
                hint="a policy needs version, name and rules",
            )
    _check_sampler_or_rules(reader, seen, head_pos)
    version = _int(reader, "version", seen["version"][1])
    if version != SUPPORTED_VERSION:
        raise reader.error(
            "unsupported policy version",
            seen["version"][1].position,
            got=version,
            hint=f"this Nectar reads version {SUPPORTED_VERSION}",
        )
    name_text = _scalar(reader, "name", seen["name"][1])
    if not name_text.text.strip():
        raise reader.error("empty policy name", name_text.position, got="", hint="")
    budget = None
    if "budget_per_second" in seen:
        budget = _int(reader, "budget_per_second", seen["budget_per_second"][1])
    environment = None
    if "environment" in seen:
        env = _scalar(reader, "environment", seen["environment"][1])
        if not env.text.strip():
            raise reader.error(
                "empty environment", env.position, got="", hint="omit it to use __default__"
            )
        environment = env.text
    error = _match(reader, _scalar(reader, "error", seen["error"][1])) if "error" in seen else None
    must_keep = None
    if "must_keep" in seen:
        must_keep = _must_keep(reader, seen["must_keep"][1])
    nested = None
    if "check_nested_fields" in seen:
        flag = _scalar(reader, "check_nested_fields", seen["check_nested_fields"][1])
        if flag.text not in ("true", "false"):
            raise reader.error(
                "check_nested_fields must be true or false", flag.position, got=flag.text, hint=""
            )
        nested = flag.text == "true"
    sampler = None
    if "sampler" in seen:
        text = _scalar(reader, "sampler", seen["sampler"][1])
        sampler = parse_sampler(
            text.text,
            position=text.position,
            columns=text.columns,
            source_line=reader.line(text.position),
        )
    return Policy(
        version=version,
        name=name_text.text,
        rules=_rules(reader, seen["rules"][1]) if "rules" in seen else (),
        budget_per_second=budget,
        environment=environment,
        error=error,
        must_keep=must_keep,
        check_nested_fields=nested,
        sampler=sampler,
        position=head_pos,
        field_positions=tuple((name, piece.position) for name, (_, piece) in seen.items()),
    )


def _must_keep(reader: _Reader, piece: _Value) -> tuple[Expr, ...]:
    if not isinstance(piece, _Array):
        raise reader.error(
            "must_keep must be an inline array",
            piece.position,
            got=_kind(piece),
            hint='write must_keep[N]: "expr one",expr two (keyed form) or [N]: ... (positional)',
        )
    if piece.count != len(piece.items):
        raise reader.error(
            "item count differs from the array header",
            piece.count_position,
            got=len(piece.items),
            hint=f"[{piece.count}] declares {piece.count} items; quote an item that holds a comma",
        )
    return tuple(_match(reader, item) for item in piece.items)


# --- comments -----------------------------------------------------------------------------


def _attach_comments(policy: Policy, path: str, lines: Sequence[str]) -> Policy:
    """Hang each run of comment and blank lines on the element on the line below it.

    The grammar drops them with the newlines, but every other line of a policy that parsed is
    exactly one element (the ``nectar_policy`` line, a field, the rules header or a row), so
    the lines between two elements are the commentary of the second.  ``lines`` are split on
    ``\n`` only, as lark counts lines.
    """
    above: dict[int, Commentary] = {}
    pending: list[CommentLine] = []
    for number, raw in enumerate(lines, start=1):
        body = raw.rstrip("\r").strip(" \t")
        if body and not body.startswith("#"):
            if pending:
                above[number] = tuple(pending)
                pending = []
            continue
        column = len(raw) - len(raw.lstrip(" \t")) + 1 if body else 1
        pending.append(CommentLine(body.rstrip(" \t"), Position(path, number, column)))
    if not above and not pending:
        return policy
    rules = tuple(replace(r, comments=above.get(r.position.line, ())) for r in policy.rules)
    comments = PolicyComments(
        header=above.get(policy.position.line, ()),
        fields=tuple(
            (name, above[where.line])
            for name, where in policy.field_positions
            if where.line in above
        ),
        trailing=tuple(pending),
    )
    return replace(policy, rules=rules, comments=comments)


# --- entry points ---------------------------------------------------------------------------

_TOKEN_WORDS: Final = {
    "_NL": "the end of the line",
    "_INDENT": "an indented line",
    "_DEDENT": "a less indented line",
    "$END": "the end of the file",
    "POLICY_KEY": "nectar_policy",
    "QUOTED": 'a "quoted" value',
    "LINE": "a value",
    "CELL": "a cell",
    "COLUMN": "a field name",
    "KEY": "key: value",
    "ARRAY_KEY": "key[N]",
    "COUNT": "a count",
    "COMMA": "','",
    "COLON": "':'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
}


def _outside_policy(err: UnexpectedToken) -> bool:
    """True when the parser had finished the policy (only the end of the file could follow)."""
    return set(err.expected) <= {"$END", "_NL"} and err.token.column == 1


def _raise_row_slip(reader: _Reader, row: Position) -> None:
    """A rules row with an unquoted ',' or '"', or no match cell: say how to write it."""
    slip = row_slip(reader.lines, row.line - 1)
    if slip is not None:
        where = Position(reader.path, row.line, slip.offset + 1)
        raise reader.error(slip.what, where, got=slip.got, hint=slip.hint)


def _syntax_error(err: UnexpectedInput, reader: _Reader, text: str) -> PolicyError:
    line = max(1, (err.line if err.line and err.line > 0 else 2) - 1)
    column = err.column if err.column and err.column > 0 else 1
    where = Position(reader.path, line, column)
    source = reader.line(where) or ""
    _raise_row_slip(reader, where)
    if isinstance(err, UnexpectedToken):
        expected = set(err.expected)
        token = err.token
        got = str(token).strip("\r\n") if token.type not in ("_INDENT", "_DEDENT") else ""
        if token.type == "_NL":
            got = ""
        if line > 1 and _outside_policy(err):
            return reader.error(
                "trailing content after the policy",
                where,
                got=source.strip(),
                hint="a file holds one nectar_policy; indent this line if it belongs to it",
            )
        if token.type == "$END" and line <= 1 and not text.strip():
            return reader.error("empty policy file", where, got="", hint="start with nectar_policy")
        if "POLICY_KEY" in expected:
            return reader.error(
                "a policy starts with nectar_policy",
                where,
                got=source.strip(),
                hint="write nectar_policy{version,name,budget_per_second,rules}: "
                "or nectar_policy: as the first line",
            )
        if token.type == "_INDENT":
            return reader.error(
                "unexpected indentation",
                where,
                got=source.strip(),
                hint="indent by 2 spaces per level",
            )
        wanted = ", ".join(sorted({_TOKEN_WORDS.get(n, n) for n in expected}))
        what = "unexpected end of line" if token.type == "_NL" else "unexpected text"
        if token.type == "_DEDENT":
            what = "this block ends too early"
        return reader.error(what, where, got=got or source.strip(), hint=f"expected {wanted}")
    assert isinstance(err, UnexpectedCharacters)
    at = err.pos_in_stream or 0
    char = text[at - 1] if 0 < at <= len(text) else ""
    if char == '"':
        return reader.error(
            "unterminated quoted value", where, got=source[column - 1 :], hint='close it with "'
        )
    wanted = ", ".join(sorted({_TOKEN_WORDS.get(n, n) for n in err.allowed}))
    if "KEY" in err.allowed:
        return reader.error(
            "expected key: value",
            where,
            got=source.strip(),
            hint="keyed fields are written key: value",
        )
    return reader.error("unexpected character", where, got=char, hint=f"expected {wanted}")


#: Larger policies are refused before parsing (which takes seconds per 10 MB): real ones are
#: a few KiB, and a mistake (a corpus passed as a policy) should cost nothing.
MAX_POLICY_CHARS: Final = 8 * 1024 * 1024


def parse_policy(text: str, *, path: str = "<policy>") -> Policy:
    """Parse a policy file's text.

    Raises:
        PolicyError: at the line and column of the first syntax or structure problem.
    """
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(
            "policy file is too large",
            position=Position(path),
            got=f"{len(text)} characters",
            hint=f"the limit is {MAX_POLICY_CHARS}; a policy is normally a few KiB",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    reader = _Reader(path, lines)
    # A leading newline lets comments and blank lines open the file; positions shift back.
    source = "\n" + text + ("" if text.endswith("\n") else "\n")
    try:
        tree = _lark().parse(source)
    except _IndentProblem as err:
        where = Position(path, err.line - 1, err.column)
        raise reader.error(err.what, where, got=err.got, hint=err.hint) from None
    except UnexpectedInput as err:
        raise _syntax_error(err, reader, text) from None
    root: Any = tree.children[0]
    head, fields = reader.entries(root)
    policy = _assemble(reader, head, fields)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not open another
    return _attach_comments(policy, path, lines)


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and parse a policy file (UTF-8).

    Raises:
        PolicyError: the file cannot be read or does not parse.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as err:
        raise PolicyError(
            "policy file is not UTF-8", position=Position(name), got=str(err.reason)
        ) from None
    except OSError as err:
        raise PolicyError(
            "cannot read policy file", position=Position(name), got=err.strerror or str(err)
        ) from None
    return parse_policy(text, path=name)
