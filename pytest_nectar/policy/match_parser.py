"""Match expressions and actions: text -> model, with positions inside the policy file.

The grammar is ``grammar/match.lark`` (LALR).  The transformer below only builds
:mod:`pytest_nectar.policy.model` objects; all meaning is checked in
:mod:`pytest_nectar.policy.check`.
A match expression usually lives in one cell of a policy row, so the caller passes where the
cell starts (and, for a quoted cell, the column of every decoded character) and every error
and node position points at the exact column in the file.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any, Final, TypeVar

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from pytest_nectar.errors import PolicyError, Position
from pytest_nectar.policy.model import (
    DURATION_UNITS,
    KEYWORD_NAMES,
    Action,
    And,
    AvgDynamic,
    Condition,
    Datatype,
    Deterministic,
    Drop,
    Duration,
    Dynamic,
    EnvironmentSampler,
    Expr,
    FieldName,
    FieldRef,
    HasRootSpan,
    Keep,
    KeyField,
    ListLiteral,
    Literal,
    MatchAll,
    Not,
    Operator,
    Or,
    Sample,
    SamplerParam,
    Scalar,
    SpanScope,
    Throughput,
    TotalThroughput,
    WindowedThroughput,
    infer_datatype,
)
from pytest_nectar.policy.slips import Slip, match_slip, percent_sample

__all__ = [
    "MAX_EXPR_CHARS",
    "MAX_EXPR_DEPTH",
    "SourceMap",
    "decode_string",
    "parse_action",
    "parse_match",
    "parse_sampler",
]

_INT64 = 2**63
#: The deepest nesting of ``not``/``!``, ``span(...)``, ``and`` and ``or`` in one expression.
#: Every later stage (checker, printer, compiler, prover) walks the tree recursively, so the
#: limit is enforced once, here; plain parentheses do not nest the tree and are not limited.
MAX_EXPR_DEPTH: Final = 64
_NESTING_RULES: Final = frozenset({"or_expr", "and_expr", "negation", "span_scope"})
#: Parsing costs tens of microseconds a token, so one cell of megabytes would take minutes
#: before any limit is seen; real expressions are well under a KiB.
MAX_EXPR_CHARS: Final = 64 * 1024
#: Longer integer literals are out of range without converting them (Python refuses to
#: convert over 4,300 digits); 64-bit values have at most 20 digits after leading zeros.
_MAX_DIGITS: Final = 40
_DATATYPES: Final = {"string": Datatype.STRING, "int": Datatype.INT, "float": Datatype.FLOAT}
_DATATYPES["bool"] = Datatype.BOOL
_ACTIONS_HINT: Final = (
    "expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), "
    "dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by "
    "FIELD, ...) or total_throughput(N/s by FIELD, ...)"
)
_K = TypeVar("_K", Throughput, Dynamic, AvgDynamic, WindowedThroughput, TotalThroughput)
_ENVIRONMENT_ONLY: Final = ("deterministic",)
_PER_SECOND_GOAL: Final = "a throughput goal (traces per second)"
_SAMPLERS_HINT: Final = (
    "expected deterministic(1/N), dynamic(N by FIELD, ...), throughput(N/s by FIELD, ...), "
    "avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) "
    "or total_throughput(N/s by FIELD, ...)"
)

#: How syntax errors name the grammar's terminals.
_DESCRIBE: Final = {
    "NAME": "a field name",
    "QUOTED_NAME": "a `backquoted` field name",
    "DQ_STRING": 'a "string"',
    "SQ_STRING": "a 'string'",
    "NUMBER": "a number",
    "EQ_OP": "'='",
    "NE_OP": "'!='",
    "ORD_OP": "'>', '>=', '<' or '<='",
    "CONTAINS": "'contains'",
    "DOES_NOT_CONTAIN": "'does-not-contain'",
    "STARTS_WITH": "'starts-with'",
    "MATCHES": "'matches'",
    "IN": "'in'",
    "NOT_IN": "'not-in'",
    "EXISTS": "'exists'",
    "NOT_EXISTS": "'not-exists'",
    "NOT": "'not'",
    "BANG": "'!'",
    "_OR": "'or'",
    "_OR_SYMBOL": "'||'",
    "_AND": "'and'",
    "_AND_SYMBOL": "'&&'",
    "TRUE": "'true'",
    "DEFAULT": "'default_errors'",
    "FALSE": "'false'",
    "SPAN": "'span'",
    "HAS_ROOT": "'has_root'",
    "FIRST": "'first'",
    "AS": "'as'",
    "KEEP": "'keep'",
    "DROP": "'drop'",
    "SAMPLE": "'sample'",
    "THROUGHPUT": "'throughput'",
    "DYNAMIC": "'dynamic'",
    "DETERMINISTIC": "'deterministic'",
    "AVG_DYNAMIC": "'avg_dynamic'",
    "WINDOWED_THROUGHPUT": "'windowed_throughput'",
    "TOTAL_THROUGHPUT": "'total_throughput'",
    "BY": "'by'",
    "PER_SECOND": "'/s'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "SLASH": "'/'",
    "$END": "the end",
}

_NAME_START: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS: Final = _NAME_START | frozenset("0123456789.-")
_ESCAPES: Final = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
#: Escapes inside a `backquoted` name: any field name Refinery accepts can be written.
_NAME_ESCAPES: Final = {"`": "`", "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


class SourceMap:
    """Maps an offset in a piece of text to its :class:`Position` in the file."""

    def __init__(
        self,
        position: Position,
        columns: Sequence[int] | None = None,
        source_line: str | None = None,
    ) -> None:
        self.position = position
        self.columns = columns
        self.source_line = source_line

    def at(self, offset: int) -> Position:
        base = self.position
        if self.columns is not None and self.columns:
            index = min(max(offset, 0), len(self.columns) - 1)
            extra = max(0, offset - (len(self.columns) - 1))
            return Position(base.path, base.line, self.columns[index] + extra)
        return Position(base.path, base.line, base.column + offset if base.column > 0 else 0)

    def error(self, what: str, offset: int, *, got: object, hint: str = "") -> PolicyError:
        return PolicyError(
            what, position=self.at(offset), got=got, hint=hint, source_line=self.source_line
        )


def decode_string(body: str, *, escapes: dict[str, str] | None = None) -> tuple[str, list[int]]:
    """Undo backslash escapes; returns the text and, per output char, its offset in ``body``.

    Raises ``ValueError(offset)`` at an unknown escape.
    """
    table = _ESCAPES if escapes is None else escapes
    out: list[str] = []
    offsets: list[int] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1] if i + 1 < len(body) else ""
            if nxt == "u" and escapes is None:
                digits = body[i + 2 : i + 6]
                if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                    raise ValueError(i)
                out.append(chr(int(digits, 16)))
                offsets.append(i)
                i += 6
                continue
            if nxt not in table:
                raise ValueError(i)
            out.append(table[nxt])
            offsets.append(i)
            i += 2
            continue
        out.append(ch)
        offsets.append(i)
        i += 1
    return "".join(out), offsets


@functools.cache
def _lark() -> Lark:
    grammar = (
        resources.files("pytest_nectar.policy").joinpath("grammar/match.lark").read_text("utf-8")
    )
    # cache=True: see policy.parser._lark (the LALR tables load from a per-user temp file).
    return Lark(
        grammar,
        parser="lalr",
        start=["match", "action", "sampler"],
        propagate_positions=True,
        cache=True,
    )


def _offset(item: Tree[Any] | Token) -> int:
    if isinstance(item, Token):
        return item.start_pos or 0
    return item.meta.start_pos if not item.meta.empty else 0


@dataclass(frozen=True, slots=True)
class _Cast:
    """``as T``; ``datatype`` None means ``as untyped``."""

    datatype: Datatype | None


class _Builder:
    """One ``b_<rule>`` method per grammar rule or alias; each returns a model object.

    A plain bottom-up walk (like a lark ``Transformer``) that also hands each method its
    tree, whose ``meta`` gives the source offset.
    """

    def __init__(self, source: SourceMap) -> None:
        self.src = source

    def _at(self, item: Tree[Any] | Token) -> Position:
        return self.src.at(_offset(item))

    def transform(self, tree: Tree[Any]) -> Any:
        children = [self.transform(c) if isinstance(c, Tree) else c for c in tree.children]
        return getattr(self, "b_" + str(tree.data))(tree, children)

    # --- match ---
    def b_match(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        result: Expr = ch[0]
        return result

    def b_or_expr(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return Or(tuple(ch), self._at(tree))

    def b_and_expr(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return And(tuple(ch), self._at(tree))

    def b_negation(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return Not(ch[1], self._at(ch[0]))

    def b_span_scope(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return SpanScope(ch[1], self._at(ch[0]))

    def b_match_all(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return MatchAll(self._at(ch[0]))

    def b_default_errors(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return default_errors_expr(self._at(ch[0]))

    def b_has_root(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        value = ch[2].value if len(ch) == 3 else True
        return HasRootSpan(bool(value), self._at(ch[0]))

    def _condition(
        self, tree: Tree[Any], field: FieldRef, op: Operator, value: Any, cast: _Cast | None
    ) -> Condition:
        datatype = infer_datatype(op, value) if cast is None else cast.datatype
        return Condition(field, op, value, datatype, field.position)

    def b_comparison(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        token: Token = ch[1]
        ops = {"=": Operator.EQ, "==": Operator.EQ, "!=": Operator.NE, ">": Operator.GT}
        ops.update({">=": Operator.GE, "<": Operator.LT, "<=": Operator.LE})
        cast = ch[3] if len(ch) > 3 else None
        return self._condition(tree, ch[0], ops[str(token)], ch[2], cast)

    def b_string_match(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        cast = ch[3] if len(ch) > 3 else None
        return self._condition(tree, ch[0], Operator(str(ch[1])), ch[2], cast)

    def b_member(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        cast = ch[3] if len(ch) > 3 else None
        return self._condition(tree, ch[0], Operator.IN, ch[2], cast)

    def b_not_member(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        rest = [c for c in ch[1:] if not isinstance(c, Token)]
        cast = rest[1] if len(rest) > 1 else None
        return self._condition(tree, ch[0], Operator.NOT_IN, rest[0], cast)

    def b_exists(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return Condition(ch[0], Operator.EXISTS, None, None, ch[0].position)

    def b_not_exists(self, tree: Tree[Any], ch: list[Any]) -> Expr:
        return Condition(ch[0], Operator.NOT_EXISTS, None, None, ch[0].position)

    def b_field(self, tree: Tree[Any], ch: list[Any]) -> FieldRef:
        return FieldRef((ch[0],), ch[0].position)

    def b_first_present(self, tree: Tree[Any], ch: list[Any]) -> FieldRef:
        return FieldRef(tuple(ch[1:]), self._at(ch[0]))

    def b_plain_name(self, tree: Tree[Any], ch: list[Any]) -> FieldName:
        name = str(ch[0])
        return FieldName(name, name in KEYWORD_NAMES, self._at(ch[0]))

    def b_quoted_name(self, tree: Tree[Any], ch: list[Any]) -> FieldName:
        token: Token = ch[0]
        return FieldName(self._decode(token, _NAME_ESCAPES), True, self._at(token))

    def b_cast(self, tree: Tree[Any], ch: list[Any]) -> _Cast:
        token: Token = ch[1]
        name = str(token)
        if name == "untyped":
            return _Cast(None)
        if name not in _DATATYPES:
            raise self.src.error(
                "unknown datatype",
                _offset(token),
                got=name,
                hint="write as string, as int, as float, as bool or as untyped",
            )
        return _Cast(_DATATYPES[name])

    def b_list(self, tree: Tree[Any], ch: list[Any]) -> ListLiteral:
        return ListLiteral(tuple(ch), self._at(tree))

    def b_string(self, tree: Tree[Any], ch: list[Any]) -> Literal:
        return Literal(self._decode(ch[0], None), self._at(ch[0]))

    def b_raw_string(self, tree: Tree[Any], ch: list[Any]) -> Literal:
        return Literal(str(ch[0])[1:-1], self._at(ch[0]))

    def b_number(self, tree: Tree[Any], ch: list[Any]) -> Literal:
        return Literal(self._number(ch[0]), self._at(ch[0]))

    def b_bool(self, tree: Tree[Any], ch: list[Any]) -> Literal:
        return Literal(str(ch[0]) == "true", self._at(ch[0]))

    # --- actions ---
    def b_keep(self, tree: Tree[Any], ch: list[Any]) -> Action:
        return Keep(self._at(ch[0]))

    def b_drop(self, tree: Tree[Any], ch: list[Any]) -> Action:
        return Drop(self._at(ch[0]))

    def b_sample(self, tree: Tree[Any], ch: list[Any]) -> Action:
        token: Token = ch[1]
        value = self._number(token)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.src.error(
                "sample rate must be a number", _offset(token), got=str(token), hint=_ACTIONS_HINT
            )
        return Sample(Decimal(str(token)).normalize(), None, self._at(ch[0]))

    def _reciprocal(self, ch: list[Any], word: str, hint: str) -> int:
        """The N of ``word(1/N)``."""
        one, denominator = ch[1], ch[2]
        if str(one) != "1":
            raise self.src.error(
                f"{word}(A/N) needs 1 as the numerator", _offset(one), got=str(one), hint=hint
            )
        return self._whole(denominator, f"the N of {word}(1/N)")

    def _keyed(self, ch: list[Any], cls: type[_K], what: str, *, per_second: bool) -> _K:
        """``word(GOAL[/s] [by keys] [, params])``: the goal, then the key fields and params."""
        goal = self._whole(ch[1], what)
        at = 3 if per_second else 2
        keys, params = ch[at] if len(ch) > at else ((), ())
        return cls(goal, keys, params, self._at(ch[0]))

    def b_sample_reciprocal(self, tree: Tree[Any], ch: list[Any]) -> Action:
        rate = self._reciprocal(ch, "sample", "write sample(1/N) to keep 1 trace in N")
        return Sample(None, rate, self._at(ch[0]))

    def b_throughput(self, tree: Tree[Any], ch: list[Any]) -> Action:
        return self._keyed(ch, Throughput, _PER_SECOND_GOAL, per_second=True)

    def b_dynamic(self, tree: Tree[Any], ch: list[Any]) -> Action:
        return self._keyed(ch, Dynamic, "a dynamic goal sample rate", per_second=False)

    # --- environment samplers ---
    def b_deterministic(self, tree: Tree[Any], ch: list[Any]) -> EnvironmentSampler:
        hint = "write deterministic(1/N) to keep 1 trace in N, chosen by trace id"
        return Deterministic(self._reciprocal(ch, "deterministic", hint), self._at(ch[0]))

    def b_avg_dynamic(self, tree: Tree[Any], ch: list[Any]) -> EnvironmentSampler:
        what = "an avg_dynamic goal sample rate"
        return self._keyed(ch, AvgDynamic, what, per_second=False)

    def b_windowed_throughput(self, tree: Tree[Any], ch: list[Any]) -> EnvironmentSampler:
        return self._keyed(ch, WindowedThroughput, _PER_SECOND_GOAL, per_second=True)

    def b_total_throughput(self, tree: Tree[Any], ch: list[Any]) -> EnvironmentSampler:
        return self._keyed(ch, TotalThroughput, _PER_SECOND_GOAL, per_second=True)

    def b_keyed_args(
        self, tree: Tree[Any], ch: list[Any]
    ) -> tuple[tuple[KeyField, ...], tuple[SamplerParam, ...]]:
        keys: list[KeyField] = []
        params: list[SamplerParam] = []
        for item in ch[1:]:
            if isinstance(item, KeyField):
                if params:
                    raise PolicyError(
                        "a key field after a named parameter",
                        position=item.position,
                        got=item.name,
                        hint="list the key fields first, then name=value parameters",
                        source_line=self.src.source_line,
                    )
                keys.append(item)
            else:
                params.append(item)
        return tuple(keys), tuple(params)

    def b_param_args(
        self, tree: Tree[Any], ch: list[Any]
    ) -> tuple[tuple[KeyField, ...], tuple[SamplerParam, ...]]:
        return (), tuple(ch)

    def b_key(self, tree: Tree[Any], ch: list[Any]) -> KeyField:
        token: Token = ch[0]
        if token.type == "QUOTED_NAME":
            return KeyField(self._decode(token, _NAME_ESCAPES), self._at(token))
        return KeyField(str(token), self._at(token))

    def b_param(self, tree: Tree[Any], ch: list[Any]) -> SamplerParam:
        return SamplerParam(str(ch[0]), ch[2], self._at(ch[0]))

    # --- helpers ---
    def _decode(self, token: Token, escapes: dict[str, str] | None) -> str:
        text = str(token)
        try:
            return decode_string(text[1:-1], escapes=escapes)[0]
        except ValueError as err:
            offset = int(err.args[0])
            raise self.src.error(
                "invalid escape in string",
                _offset(token) + 1 + offset,
                got=text[1 + offset : 3 + offset],
                hint=r"escapes are \" \\ \n \r \t and \uXXXX; "
                r"a 'single-quoted' string takes backslashes as they are (regexes)"
                if escapes is None
                else r"escapes in backquotes are \` \\ \n \r \t",
            ) from None

    def _number(self, token: Token) -> Scalar:
        text = str(token)
        offset = _offset(token)
        for unit in sorted(DURATION_UNITS, key=len, reverse=True):
            if text.endswith(unit) and not text[-len(unit) - 1].isalpha():
                try:
                    amount = Decimal(text[: -len(unit)])
                except InvalidOperation:  # pragma: no cover - the token regex rules it out
                    break
                return self._duration(amount, unit, text, offset)
        if any(c in text for c in ".eE"):
            value = float(text)
            if value in (float("inf"), float("-inf")):
                raise self.src.error(
                    "number out of range", offset, got=text, hint="Refinery values are float64"
                )
            return value
        digits = text.lstrip("+-").lstrip("0")
        number = int(text) if len(digits) <= _MAX_DIGITS else _INT64
        if not -_INT64 <= number < _INT64:
            raise self.src.error(
                "integer out of range", offset, got=text, hint="Refinery integers are 64-bit"
            )
        return number

    def _duration(self, amount: Decimal, unit: str, text: str, offset: int) -> Duration:
        # duration_ms is a float64: beyond its range (or Decimal's exponents) is an error.
        if amount.is_finite() and amount and amount.adjusted() > 300:
            raise self.src.error(
                "duration out of range",
                offset,
                got=text,
                hint="Refinery compares duration_ms as a float64",
            )
        try:
            duration = Duration(amount.normalize(), unit)
            ms = duration.milliseconds
        except ArithmeticError:
            ms = float("inf")
        if ms in (float("inf"), float("-inf")):
            raise self.src.error(
                "duration out of range",
                offset,
                got=text,
                hint="Refinery compares duration_ms as a float64",
            )
        return duration

    def _whole(self, token: Token, what: str) -> int:
        value = self._number(token)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.src.error(
                f"{what} must be a whole number >= 1", _offset(token), got=str(token)
            )
        return value


def _describe(names: set[str] | frozenset[str]) -> str:
    described = sorted({_DESCRIBE.get(n, n) for n in names if not n.startswith("__")})
    return ", ".join(described)


def _trailing_name(text: str) -> tuple[int, str] | None:
    """The field name (plain or in backquotes) that ``text`` ends with: start and name.

    A backwards scan, linear in the name: a regex search for "a name, then the end" retried
    from every start position and took quadratic time on a 20 KB name (issue 19).
    """
    end = len(text.rstrip())
    if end == 0:
        return None
    if text[end - 1] == "`":
        start = text.rfind("`", 0, end - 1)
        return None if start < 0 else (start, text[start:end])
    start = end
    while start > 0 and text[start - 1] in _NAME_CHARS:
        start -= 1
    while start < end and text[start] not in _NAME_START:
        start += 1
    return None if start == end else (start, text[start:end])


def _syntax_error(err: UnexpectedInput, text: str, src: SourceMap, kind: str) -> PolicyError:
    offset = err.pos_in_stream if err.pos_in_stream is not None else len(text)
    if isinstance(err, UnexpectedCharacters):
        char = text[offset] if offset < len(text) else ""
        if char in "\"'`":
            return src.error(
                "unterminated quote", offset, got=text[offset:], hint=f"close it with {char}"
            )
        return src.error(
            f"unexpected character in {kind}",
            offset,
            got=char,
            hint=f"expected {_describe(err.allowed)}" if kind == "match expression" else "",
        )
    expected: set[str] = set()
    got: str = ""
    if isinstance(err, UnexpectedToken):
        expected = set(err.expected)
        got = str(err.token)
        if err.token.type == "$END":
            offset = len(text)
    elif isinstance(err, UnexpectedEOF):  # pragma: no cover - LALR reports $END tokens instead
        expected = set(err.expected)
        offset = len(text)
    if kind == "action":
        word = text.strip().split("(")[0].strip()
        if word in _ENVIRONMENT_ONLY:
            hint = (
                f"{word}(...) is an environment sampler, not a rule action: write it as the "
                "policy's sampler setting instead of a rules table"
            )
            return src.error("invalid action", offset, got=text.strip(), hint=hint)
        return src.error("invalid action", offset, got=text.strip(), hint=_ACTIONS_HINT)
    if kind == "sampler":
        return src.error("invalid sampler", offset, got=text.strip(), hint=_SAMPLERS_HINT)
    ends = {"$END", "RPAR", "_OR", "_AND", "_OR_SYMBOL", "_AND_SYMBOL"}
    before = (
        _trailing_name(text[:offset])
        if "EXISTS" in expected and isinstance(err, UnexpectedToken) and err.token.type in ends
        else None
    )
    if before is not None:
        return src.error(
            "a field alone is not a condition",
            before[0],
            got=before[1],
            hint='compare it (x = 1, x != "a", x > 5) or test it (x exists, x not exists)',
        )
    if offset >= len(text):
        return src.error(
            "the match expression ends too early",
            offset,
            got=text,
            hint=f"expected {_describe(expected)}",
        )
    return src.error(
        "unexpected token in match expression",
        offset,
        got=got,
        hint=f"expected {_describe(expected)}",
    )


def _parse(text: str, start: str, src: SourceMap, kind: str) -> Any:
    if not text.strip():
        hints = {"match expression": "write true to match every trace", "sampler": _SAMPLERS_HINT}
        raise src.error(f"empty {kind}", 0, got=text, hint=hints.get(kind, _ACTIONS_HINT))
    if len(text) > MAX_EXPR_CHARS:
        raise src.error(
            f"{kind} is too long",
            0,
            got=f"{len(text)} characters",
            hint=f"the limit is {MAX_EXPR_CHARS}; split it into several rules",
        )
    if kind == "action":
        percent = percent_sample(text)
        if isinstance(percent, Slip):
            raise src.error(percent.what, percent.offset, got=percent.got, hint=percent.hint)
        text = percent or text  # sample(1%) is sample(1/100)
    try:
        tree = _lark().parse(text, start=start)
    except UnexpectedInput as err:
        offset = err.pos_in_stream if err.pos_in_stream is not None else len(text)
        slip = match_slip(text, offset) if kind == "match expression" else None
        if slip is not None:
            raise src.error(slip.what, slip.offset, got=slip.got, hint=slip.hint) from None
        raise _syntax_error(err, text, src, kind) from None
    _check_depth(tree, src)
    return _Builder(src).transform(tree)


def _check_depth(tree: Tree[Any], src: SourceMap) -> None:
    """Refuse nesting beyond :data:`MAX_EXPR_DEPTH` (an iterative walk: no recursion here)."""
    stack: list[tuple[Tree[Any], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in _NESTING_RULES:
            depth += 1
            if depth > MAX_EXPR_DEPTH:
                raise src.error(
                    "match expression is nested too deeply",
                    _offset(node),
                    got=depth,
                    hint=f"Nectar reads at most {MAX_EXPR_DEPTH} levels of "
                    "not, !, span(...), and, or",
                )
        stack.extend((c, depth) for c in node.children if isinstance(c, Tree))


def parse_match(
    text: str,
    *,
    position: Position,
    columns: Sequence[int] | None = None,
    source_line: str | None = None,
) -> Expr:
    """Parse one match expression.

    Args:
        text: the expression.
        position: where its first character is in the file.
        columns: for text decoded from a quoted cell, the file column of each character.
        source_line: the file line, shown under errors with a caret.

    Raises:
        PolicyError: with the line and column of the problem.
    """
    result: Expr = _parse(
        text, "match", SourceMap(position, columns, source_line), "match expression"
    )
    return result


def parse_action(
    text: str,
    *,
    position: Position,
    columns: Sequence[int] | None = None,
    source_line: str | None = None,
) -> Action:
    """Parse one action cell (``keep``, ``sample(0.01)``, ``throughput(...)``, ...)."""
    result: Action = _parse(text, "action", SourceMap(position, columns, source_line), "action")
    return result


_CRITERIA_AT: Final = Position("<default error criteria>")


@functools.cache
def criterion_expr(text: str) -> Expr:
    """A default error criterion's expression (``policy/error_table.py``), parsed once."""
    return parse_match(text, position=_CRITERIA_AT)


def default_errors_expr(position: Position = _CRITERIA_AT) -> Expr:
    """What the keyword ``default_errors`` stands for: every default criterion, or-ed, labelled
    so that the printer writes the keyword back."""
    from pytest_nectar.policy.error_table import DEFAULT_CRITERIA, DEFAULT_KEYWORD

    operands = tuple(criterion_expr(c.text) for c in DEFAULT_CRITERIA)
    return Or(operands, position, label=DEFAULT_KEYWORD)


def parse_sampler(
    text: str,
    *,
    position: Position,
    columns: Sequence[int] | None = None,
    source_line: str | None = None,
) -> EnvironmentSampler:
    """Parse a policy's ``sampler`` value (``deterministic(1/100)``, ``dynamic(...)``, ...)."""
    result: EnvironmentSampler = _parse(
        text, "sampler", SourceMap(position, columns, source_line), "sampler"
    )
    return result
