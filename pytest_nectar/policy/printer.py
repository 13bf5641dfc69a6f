"""The canonical text of a policy (what ``nectar fmt`` writes).

The canonical form is the positional header form of the seed example, so that example is
already canonical byte for byte:

* ``nectar_policy{...}:`` lists the fields that are set, in :data:`POLICY_FIELDS` order;
* one value per line, indented 2 spaces; ``must_keep`` as ``[N]: a,b``;
* ``rules[N]{name,description,match,action,priority}:`` with rows in evaluation order
  (priority descending), indented 4 spaces;
* TOON quoting only where the parser needs it; match expressions in their canonical spelling
  (``=`` for ``==``, ``and``/``or``/``not`` for ``&&``/``||``/``!``, ``as T`` only when the
  datatype differs from the one the literal implies);
* full-line ``#`` comments above the element they were written above (the policy line, a
  field's value line, the rules header, a row: a row's comments move with the row), at that
  element's indentation; comments after the last line go last, at the rows' indentation.
  Blank lines among them are kept, but at most one in a row, none at the start of a block
  (the file, the field values, the rows) and none at the end of the file.

Printing then parsing gives an equal policy, and printing is idempotent.
"""

from __future__ import annotations

import re
from typing import Final

from pytest_nectar.policy.layout import Layout
from pytest_nectar.policy.model import (
    KEYWORD_NAMES,
    Action,
    And,
    AvgDynamic,
    Commentary,
    Condition,
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
    Policy,
    Sample,
    SamplerParam,
    SpanScope,
    infer_datatype,
    sampler_goal,
    sampler_word,
)
from pytest_nectar.policy.parser import POLICY_FIELDS, RULE_COLUMNS

__all__ = [
    "format_action",
    "format_match",
    "format_policy",
    "format_sampler",
    "quote_cell",
    "quote_value",
]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*\Z")
_ARRAY_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\[")
_OPS: Final = {Operator.NOT_IN: "not in", Operator.NOT_EXISTS: "not exists"}
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _escape(text: str, quote: str) -> str:
    out = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def _needs_quotes(text: str) -> bool:
    return (
        not text
        or text != text.strip()
        or text[0] in '"#'
        or '"' in text
        or "\\" in text
        or _CONTROL.search(text) is not None
    )


def quote_cell(text: str) -> str:
    """A table or inline-array cell, TOON-quoted only when needed."""
    if _needs_quotes(text) or "," in text:
        return f'"{_escape(text, chr(34))}"'
    return text


def quote_value(text: str) -> str:
    """A value on its own line, TOON-quoted only when needed."""
    if _needs_quotes(text) or text[0] == "[" or _ARRAY_KEY.match(text):
        return f'"{_escape(text, chr(34))}"'
    return text


# --- match expressions ------------------------------------------------------------------


def _field_name(part: FieldName) -> str:
    if part.verbatim or not _NAME.match(part.text) or part.text in KEYWORD_NAMES:
        return "`" + _escape(part.text, "`") + "`"
    return part.text


def _field(ref: FieldRef) -> str:
    if len(ref.parts) == 1:
        return _field_name(ref.parts[0])
    return "first(" + ", ".join(_field_name(p) for p in ref.parts) + ")"


def _literal(lit: Literal, single: frozenset[tuple[int, int]] = frozenset()) -> str:
    v = lit.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Duration):
        return v.go_string()
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    raw_ok = "'" not in v and not _CONTROL.search(v)
    if raw_ok and ("\\" in v or (lit.position.line, lit.position.column) in single):
        return f"'{v}'"  # raw form: regexes stay readable, and a file's 'quotes' stay
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", _escape(v, '"')) + '"'


def _value(value: Literal | ListLiteral, single: frozenset[tuple[int, int]]) -> str:
    if isinstance(value, ListLiteral):
        return "[" + ", ".join(_literal(i, single) for i in value.items) + "]"
    return _literal(value, single)


def _condition(cond: Condition, single: frozenset[tuple[int, int]]) -> str:
    op = _OPS.get(cond.operator, cond.operator.value)
    text = f"{_field(cond.field)} {op}"
    if cond.value is not None:
        text += " " + _value(cond.value, single)
    if cond.datatype != infer_datatype(cond.operator, cond.value):
        text += " as " + (cond.datatype.value if cond.datatype is not None else "untyped")
    return text


_PRECEDENCE: Final = {Or: 1, And: 2, Not: 3}


def _expr(expr: Expr, context: int, single: frozenset[tuple[int, int]] = frozenset()) -> str:
    """``context`` is the precedence of the parent; children that bind looser get parens."""
    own = _PRECEDENCE.get(type(expr), 4)
    if isinstance(expr, Or) and expr.label is not None:
        return expr.label  # a keyword (``default_errors``) that parses back to the same expression
    if isinstance(expr, Or | And):
        joiner = " or " if isinstance(expr, Or) else " and "
        text = joiner.join(
            _expr(op, own + 1 if type(op) is type(expr) else own, single) for op in expr.operands
        )
    elif isinstance(expr, Not):
        text = "not " + _expr(expr.operand, own, single)
    elif isinstance(expr, SpanScope):
        text = "span(" + _expr(expr.body, 0, single) + ")"
    elif isinstance(expr, HasRootSpan):
        text = "has_root" if expr.value else "has_root = false"
    elif isinstance(expr, MatchAll):
        text = "true"
    else:
        text = _condition(expr, single)
    return f"({text})" if own < context else text


def format_match(expr: Expr, layout: Layout | None = None) -> str:
    """The canonical spelling of a match expression (``layout``: keep its literals' quotes)."""
    return _expr(expr, 0, layout.single_quoted if layout is not None else frozenset())


# --- actions ----------------------------------------------------------------------------


def _key(key: KeyField) -> str:
    if _NAME.match(key.name) and key.name != "by":
        return key.name
    return "`" + _escape(key.name, "`") + "`"


def _sampler_args(keys: tuple[KeyField, ...], params: tuple[SamplerParam, ...]) -> str:
    shown = [f"{p.name}={_literal(p.value)}" for p in params]
    if keys:
        return " by " + ", ".join([_key(k) for k in keys] + shown)
    return "".join(", " + s for s in shown)


def format_action(action: Action) -> str:
    """The canonical spelling of an action."""
    if isinstance(action, Keep):
        return "keep"
    if isinstance(action, Drop):
        return "drop"
    if isinstance(action, Sample):
        if action.denominator is not None:
            return f"sample(1/{action.denominator})"
        assert action.probability is not None
        return f"sample({format(action.probability.normalize(), 'f')})"
    return format_sampler(action)


def format_sampler(sampler: EnvironmentSampler) -> str:
    """The canonical spelling of a policy's environment sampler."""
    if isinstance(sampler, Deterministic):
        return f"deterministic(1/{sampler.sample_rate})"
    args = _sampler_args(sampler.keys, sampler.params)
    per = "" if isinstance(sampler, AvgDynamic | Dynamic) else "/s"
    return f"{sampler_word(sampler)}({sampler_goal(sampler)}{per}{args})"


# --- policies ---------------------------------------------------------------------------


def _commentary(lines: Commentary, indent: str, *, opens_block: bool) -> list[str]:
    """Comment lines at ``indent``; blank runs become one blank, none where a block opens."""
    out: list[str] = []
    for line in lines:
        if not line.is_blank:
            out.append(indent + line.text.rstrip(" \t"))
        elif out[-1:] != [""] and (out or not opens_block):
            out.append("")
    return out


def format_policy(policy: Policy, layout: Layout | None = None) -> str:
    """The canonical text of a policy, ending with a newline (comments included).

    ``layout`` (:func:`~pytest_nectar.policy.layout.detect_layout`) keeps a file's form and
    quotes; without it the positional form and double quotes are written.
    """
    style = layout if layout is not None else Layout()
    values: dict[str, str] = {
        "version": str(policy.version),
        "name": quote_value(policy.name),
    }
    if policy.budget_per_second is not None:
        values["budget_per_second"] = str(policy.budget_per_second)
    if policy.environment is not None:
        values["environment"] = quote_value(policy.environment)
    if policy.error is not None:
        values["error"] = quote_value(format_match(policy.error, style))
    if policy.must_keep is not None:
        items = ",".join(quote_cell(format_match(e, style)) for e in policy.must_keep)
        values["must_keep"] = f"[{len(policy.must_keep)}]: {items}".rstrip()
    if policy.check_nested_fields is not None:
        values["check_nested_fields"] = "true" if policy.check_nested_fields else "false"
    if policy.sampler is not None:
        values["sampler"] = quote_value(format_sampler(policy.sampler))
    has_rules = policy.sampler is None
    fields = [f for f in POLICY_FIELDS if f in values or (f == "rules" and has_rules)]
    notes = policy.comments
    lines = _commentary(notes.header, "", opens_block=True)
    lines.append("nectar_policy:" if style.keyed else "nectar_policy{" + ",".join(fields) + "}:")
    for index, name in enumerate(fields):
        lines.extend(_commentary(notes.before(name), "  ", opens_block=index == 0))
        if name == "rules":
            continue
        if not style.keyed:
            lines.append("  " + values[name])
        elif name == "must_keep":
            lines.append("  must_keep" + values[name])  # must_keep[N]: a,b
        else:
            lines.append(f"  {name}: {values[name]}")
    ordered = sorted(policy.rules, key=lambda r: -r.priority)
    if has_rules:
        lines.append(f"  rules[{len(ordered)}]{{{','.join(RULE_COLUMNS)}}}:")
    for index, rule in enumerate(ordered):
        lines.extend(_commentary(rule.comments, "    ", opens_block=index == 0))
        cells = [
            quote_cell(rule.name),
            quote_cell(rule.description) if rule.description else "",
            quote_cell(format_match(rule.match, style)),
            quote_cell(format_action(rule.action)),
            str(rule.priority),
        ]
        lines.append("    " + ",".join(cells))
    indent = style.trailing_indent
    if indent is None:
        indent = "    " if ordered else "  "
    trailing = _commentary(notes.trailing, indent, opens_block=False)
    while trailing[-1:] == [""]:
        trailing.pop()
    lines.extend(trailing)
    return "\n".join(lines) + "\n"
