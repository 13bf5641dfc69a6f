# Error messages are asserted verbatim, one per table row, so rows may be long.
# ruff: noqa: E501
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.errors import PolicyError, Position
from pytest_nectar.policy.match_parser import parse_action, parse_match
from pytest_nectar.policy.model import (
    And,
    Condition,
    Datatype,
    Duration,
    Dynamic,
    HasRootSpan,
    KeyField,
    ListLiteral,
    Literal,
    MatchAll,
    Not,
    Operator,
    Or,
    Sample,
    SpanScope,
    Throughput,
)
from pytest_nectar.policy.printer import format_match

P = Position("m.toon", 7, 10)

MATCH_ERRORS = [
    ("", "m.toon:7:10: empty match expression; got ''; write true to match every trace"),
    (
        "error",
        "m.toon:7:10: a field alone is not a condition; got 'error'; compare it (x = 1, x != \"a\", x > 5) or test it (x exists, x not exists)",
    ),
    (
        "(error)",
        "m.toon:7:11: a field alone is not a condition; got 'error'; compare it (x = 1, x != \"a\", x > 5) or test it (x exists, x not exists)",
    ),
    (
        "a = ",
        "m.toon:7:14: the match expression ends too early; got 'a = '; expected 'false', 'true', a \"string\", a 'string', a number",
    ),
    ('a = "x', "m.toon:7:14: unterminated quote; got '\"x'; close it with \""),
    (
        'a = "\\d"',
        "m.toon:7:15: invalid escape in string; got '\\\\d'; escapes are \\\" \\\\ \\n \\r \\t and \\uXXXX; a 'single-quoted' string takes backslashes as they are (regexes)",
    ),
    (
        "a @ 1",
        "m.toon:7:12: unexpected character in match expression; got '@'; expected '!=', ')', ',', '=', '>', '>=', '<' or '<=', 'contains', 'does-not-contain', 'exists', 'in', 'matches', 'not', 'not-exists', 'not-in', 'starts-with'",
    ),
    (
        "a = 1 as foo",
        "m.toon:7:19: unknown datatype; got 'foo'; write as string, as int, as float, as bool or as untyped",
    ),
    ("(a = 1", "m.toon:7:16: the match expression ends too early; got '(a = 1'; expected ')'"),
    (
        "a = 1 b = 2",
        "m.toon:7:16: unexpected token in match expression; got 'b'; expected '&&', ')', ',', ']', 'and', 'as', 'or', '||'",
    ),
    ("x = 1e999", "m.toon:7:14: number out of range; got '1e999'; Refinery values are float64"),
    (
        "x = 99999999999999999999",
        "m.toon:7:14: integer out of range; got '99999999999999999999'; Refinery integers are 64-bit",
    ),
    ("a in 1", "m.toon:7:15: unexpected token in match expression; got '1'; expected '['"),
    ("first(a) = 1", "m.toon:7:17: unexpected token in match expression; got ')'; expected ','"),
    (
        "`a\\x` = 1",
        "m.toon:7:12: invalid escape in string; got '\\\\x'; escapes in backquotes are \\` \\\\ \\n \\r \\t",
    ),
    (
        "span(a = 1",
        "m.toon:7:20: the match expression ends too early; got 'span(a = 1'; expected ')'",
    ),
]

ACTION_ERRORS = [
    (
        "",
        "m.toon:7:10: empty action; got ''; expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
    ),
    (
        "kep",
        "m.toon:7:10: invalid action; got 'kep'; expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
    ),
    (
        "sample(0.5s)",
        "m.toon:7:17: sample rate must be a number; got '0.5s'; expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
    ),
    (
        "sample(2/3)",
        "m.toon:7:17: sample(A/N) needs 1 as the numerator; got '2'; write sample(1/N) to keep 1 trace in N",
    ),
    ("sample(1/0)", "m.toon:7:19: the N of sample(1/N) must be a whole number >= 1; got '0'"),
    (
        "keep(",
        "m.toon:7:14: invalid action; got 'keep('; expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
    ),
    (
        "throughput(1.5/s)",
        "m.toon:7:21: a throughput goal (traces per second) must be a whole number >= 1; got '1.5'",
    ),
    (
        "throughput(5/s by a, x=1, b)",
        "m.toon:7:36: a key field after a named parameter; got 'b'; list the key fields first, then name=value parameters",
    ),
    ("dynamic(0)", "m.toon:7:18: a dynamic goal sample rate must be a whole number >= 1; got '0'"),
    (
        "throughput(5 by a)",
        "m.toon:7:23: invalid action; got 'throughput(5 by a)'; expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
    ),
]


@pytest.mark.parametrize(("text", "message"), MATCH_ERRORS)
def test_match_error_messages(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_match(text, position=P)
    assert info.value.message == message


@pytest.mark.parametrize(("text", "message"), ACTION_ERRORS)
def test_action_error_messages(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_action(text, position=P)
    assert info.value.message == message


def _cond(text: str) -> Condition:
    expr = parse_match(text, position=P)
    assert isinstance(expr, Condition)
    return expr


@pytest.mark.parametrize(
    ("text", "names", "op", "value", "datatype"),
    [
        ("http.status >= 500", ("http.response.status_code", "http.status_code"), ">=", 500, "int"),
        (
            "root.http.status = 404",
            ("root.http.response.status_code", "root.http.status_code"),
            "=",
            404,
            "int",
        ),
        ("duration > 5s", ("duration_ms",), ">", 5000.0, "float"),
        ("duration > 100us", ("duration_ms",), ">", 0.1, "float"),
        ("duration <= 1.5s", ("duration_ms",), "<=", 1500.0, "float"),
        ("root.duration < 1m", ("root.duration_ms",), "<", 60000.0, "float"),
        ("descendants > 1000", ("?.NUM_DESCENDANTS",), ">", 1000, "int"),
        ("`duration` > 5", ("duration",), ">", 5, "int"),
        (
            "first(a, http.status) != 2.5",
            ("a", "http.response.status_code", "http.status_code"),
            "!=",
            2.5,
            "float",
        ),
        ('service.name == "x"', ("service.name",), "=", "x", "string"),
        ("error = true", ("error",), "=", True, "bool"),
        ('x = "500" as int', ("x",), "=", "500", "int"),
        ("x = 500 as untyped", ("x",), "=", 500, None),
        ("x contains 'a'", ("x",), "contains", "a", None),
        ('x starts-with "/api"', ("x",), "starts-with", "/api", None),
        ("x matches '\\d+'", ("x",), "matches", "\\d+", None),
        ('x does-not-contain "b"', ("x",), "does-not-contain", "b", None),
    ],
)
def test_conditions(
    text: str, names: tuple[str, ...], op: str, value: object, datatype: str | None
) -> None:
    cond = _cond(text)
    assert cond.field.names == names
    assert cond.operator is Operator(op)
    assert isinstance(cond.value, Literal)
    got = cond.value.value
    assert (got.milliseconds if isinstance(got, Duration) else got) == value
    assert cond.datatype == (Datatype(datatype) if datatype else None)


def test_lists_and_existence() -> None:
    cond = _cond('m in ["GET", "PUT"]')
    assert cond.operator is Operator.IN and cond.datatype is Datatype.STRING
    assert cond.value == ListLiteral((Literal("GET"), Literal("PUT")))
    assert _cond("m not in [1]").operator is Operator.NOT_IN
    assert _cond("m not-in [1]").operator is Operator.NOT_IN
    assert _cond("m in [1, 2] as float").datatype is Datatype.FLOAT
    for text, op in [("a exists", Operator.EXISTS), ("a not exists", Operator.NOT_EXISTS)]:
        cond = _cond(text)
        assert (cond.operator, cond.value, cond.datatype) == (op, None, None)
    assert _cond("a not-exists").operator is Operator.NOT_EXISTS


def test_boolean_structure_and_precedence() -> None:
    expr = parse_match("a exists or b exists and not c exists", position=P)
    assert isinstance(expr, Or)
    assert isinstance(expr.operands[1], And)
    assert isinstance(expr.operands[1].operands[1], Not)
    assert parse_match("a exists || b exists && !c exists", position=P) == expr
    assert parse_match("true", position=P) == MatchAll()
    assert parse_match("has_root", position=P) == HasRootSpan(True)
    assert parse_match("has_root = false", position=P) == HasRootSpan(False)
    scoped = parse_match('span(a = 1 and b = "x")', position=P)
    assert isinstance(scoped, SpanScope) and isinstance(scoped.body, And)


def test_keyword_like_field_names_parse_where_unambiguous() -> None:
    assert _cond("keep = 1").field.names == ("keep",)
    assert _cond("notable exists").field.names == ("notable",)
    assert _cond('span.kind = "server"').field.names == ("span.kind",)
    assert _cond("`true` = 1").field.names == ("true",)


def test_positions_point_inside_the_cell() -> None:
    expr = parse_match("a = 1 and bb = 2", position=P)
    assert isinstance(expr, And)
    second = expr.operands[1]
    assert isinstance(second, Condition)
    assert second.position == Position("m.toon", 7, 20)
    assert isinstance(second.value, Literal)
    assert second.value.position == Position("m.toon", 7, 25)


def test_column_map_for_decoded_text() -> None:
    columns = [30, 31, 33, 34, 35, 36]
    with pytest.raises(PolicyError) as info:
        parse_match("a @ 1", position=P, columns=columns)
    assert info.value.position == Position("m.toon", 7, 33)


def test_actions() -> None:
    assert parse_action("sample(0.01)", position=P) == Sample(probability=Decimal("0.01"))
    assert parse_action("sample(1/20)", position=P) == Sample(denominator=20)
    assert parse_action("sample(1/20)", position=P).sample_rate == 20  # type: ignore[union-attr]
    assert Sample(probability=Decimal("0.01")).sample_rate == 100
    tp = parse_action("throughput(500/s by service.name, `odd key`, adjust=15s)", position=P)
    assert isinstance(tp, Throughput)
    assert tp.per_second == 500
    assert tp.keys == (KeyField("service.name"), KeyField("odd key"))
    assert [(p.name, p.value) for p in tp.params] == [
        ("adjust", Literal(Duration(Decimal(15), "s")))
    ]
    dyn = parse_action("dynamic(20, weight=0.5)", position=P)
    assert isinstance(dyn, Dynamic)
    assert (dyn.goal_sample_rate, dyn.keys, dyn.params[0].value) == (20, (), Literal(0.5))


def _assert_parses_or_located(text: str) -> None:
    for parse in (parse_match, parse_action):
        try:
            parse(text, position=P)
        except PolicyError as err:
            pos = err.position
            assert pos is not None and pos.line == 7 and pos.column >= 10, err.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_fuzz_random_text(text: str) -> None:
    _assert_parses_or_located(text)


TOKENS = [
    "a", "http.status", "root.x", "`q`", "=", "==", "!=", ">", "<=", "contains", "in", "not",
    "!", "exists", "and", "or", "&&", "||", "(", ")", "[", "]", ",", "1", "2.5", "5s", '"s"',
    "'r'", "true", "false", "span", "has_root", "first", "as", "int", "untyped", "keep",
    "sample", "/", "/s", "by", "throughput", "dynamic", "x=1",
]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=12))
def test_fuzz_token_soup(tokens: list[str]) -> None:
    _assert_parses_or_located(" ".join(tokens))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=12))
def test_whatever_parses_prints_and_parses_back(tokens: list[str]) -> None:
    try:
        expr = parse_match(" ".join(tokens), position=P)
    except PolicyError:
        return
    assert parse_match(format_match(expr), position=P) == expr


# Hostile input (issue 19): deep nesting and huge numbers end in located errors.


@pytest.mark.parametrize(
    "text",
    [
        "!" * 490 + "a = 1",
        "not " * 490 + "a = 1",
        "span(" * 490 + "a = 1" + ")" * 490,
        "a = 1 and (" * 300 + "b = 1" + ")" * 300,
        "!(" * 200 + "a = 1" + ")" * 200,
    ],
)
def test_deep_nesting_is_refused_with_a_location(text: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_match(text, position=P)
    message = info.value.message
    assert message.startswith("m.toon:7:"), message
    assert message.endswith(
        "match expression is nested too deeply; got 65; "
        "Nectar reads at most 64 levels of not, !, span(...), and, or"
    )


def test_nesting_at_the_limit_parses() -> None:
    text = "not " * 63 + "a = 1"
    expr = parse_match(text, position=P)
    assert parse_match(format_match(expr), position=P) == expr


def test_parentheses_alone_do_not_nest() -> None:
    assert parse_match("(" * 5000 + "a = 1" + ")" * 5000, position=P) == parse_match(
        "a = 1", position=P
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a = " + "9" * 4301,
            "m.toon:7:14: integer out of range; got '"
            + "9" * 117
            + "...'; Refinery integers are 64-bit",
        ),
        (
            "duration > 1e1000000s",
            "m.toon:7:21: duration out of range; got '1e1000000s'; "
            "Refinery compares duration_ms as a float64",
        ),
        (
            "duration > " + "9" * 4301 + "ms",
            "m.toon:7:21: duration out of range; got '" + "9" * 117 + "...'; "
            "Refinery compares duration_ms as a float64",
        ),
    ],
)
def test_huge_numbers_are_range_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_match(text, position=P)
    assert info.value.message == message


def test_huge_sample_rates_are_range_errors() -> None:
    with pytest.raises(PolicyError, match="integer out of range"):
        parse_action("sample(1/" + "9" * 4301 + ")", position=P)
    with pytest.raises(PolicyError, match="integer out of range"):
        parse_action("throughput(" + "9" * 4301 + "/s)", position=P)


@pytest.mark.parametrize("text", ["false == false", "false exists", "a = 1 and false != 2"])
def test_a_keyword_field_name_prints_and_parses_back(text: str) -> None:
    # Found by the long fuzz round: `false == false` printed as `` `false` = false `` and read
    # back verbatim; a keyword is never an alias, so it reads as verbatim either way.
    expr = parse_match(text, position=P)
    assert parse_match(format_match(expr), position=P) == expr


def test_a_match_cell_of_megabytes_is_refused_before_parsing() -> None:
    with pytest.raises(PolicyError) as info:
        parse_match("!" * 1_000_000 + "a = 1", position=P)
    assert info.value.message == (
        "m.toon:7:10: match expression is too long; got '1000005 characters'; "
        "the limit is 65536; split it into several rules"
    )
