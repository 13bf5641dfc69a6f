# Error messages are asserted verbatim, one per table row, so rows may be long.
# ruff: noqa: E501
from __future__ import annotations

from pathlib import Path

import pytest

from pytest_nectar.errors import Diagnostic, PolicyError, Position
from pytest_nectar.policy.check import check_policy, normal_form, validate_policy
from pytest_nectar.policy.match_parser import parse_match
from pytest_nectar.policy.model import Clause, Condition, HasRootSpan, Operator, Scope
from pytest_nectar.policy.parser import load_policy, parse_policy
from pytest_nectar.policy.printer import format_match
from pytest_nectar.policy.slips import regex_hint

ROOT = Path(__file__).resolve().parent.parent
P = Position("n", 1, 1)

H = "nectar_policy{version,name,rules}:\n  1\n  p\n  rules[2]{name,description,match,action,priority}:\n"
FALLBACK = "    z,,true,drop,0\n"


def rule(match: str, action: str = "keep") -> str:
    m = '"' + match.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return H + f"    r,,{m},{action},5\n" + FALLBACK


CASES = {
    "not_trace": rule("not error exists"),
    "not_int": rule("span(not http.status >= 500)"),
    "not_untyped": rule("span(not x = 1 as untyped)"),
    "not_starts": rule('span(not x starts-with "a")'),
    "not_span": rule("not span(a exists)"),
    "not_true": rule("not true"),
    "nested_span": rule("span(span(a exists))"),
    "has_root_span": rule("span(has_root and a exists)"),
    "mixed_scope": rule("span(a exists and b exists) and c exists"),
    "sample_07": rule("a exists", "sample(0.7)"),
    "sample_0": rule("a exists", "sample(0)"),
    "sample_033": rule("a exists", "sample(0.33)"),
    "convert_int": rule('x = "abc" as int'),
    "convert_float": rule('x = "1e400" as float'),
    "bool_order": rule("x > true"),
    "bool_value": rule('x = "yes" as bool'),
    "truncate": rule("x = 2.5 as int"),
    "duration_int": rule("duration > 500"),
    "mixed_list": rule("x in [1, 2.5]"),
    "bool_list": rule("x in [true]"),
    "empty_list": rule("x in []"),
    "bad_list_item": rule('x in ["a"] as int'),
    "regex_lookahead": rule("x matches '(?=a)'"),
    "regex_invalid": rule("x matches '[a-'"),
    "regex_backref": rule("x matches '(a)\\1'"),
    "regex_possessive": rule("x matches 'a++'"),
    "regex_python_only": rule("x matches 'end\\Z'"),
    "regex_byte_class": rule("x matches 'a\\C'"),
    "descendants_first": rule("first(descendants, x) > 1"),
    "ignored_datatype": rule('x contains "a" as string'),
    "root_not_exists": rule("root.x not exists"),
    "unknown_param": rule("a exists", '"throughput(5/s, wieght=0.5)"'),
    "param_range": rule("a exists", '"dynamic(5, weight=1.5)"'),
    "param_type": rule("a exists", '"dynamic(5, adjust=15)"'),
    "param_dup": rule("a exists", '"dynamic(5, weight=0.5, weight=0.5)"'),
    "param_sampler": rule("a exists", '"dynamic(5, initial_rate=5)"'),
    "key_alias": rule("a exists", '"dynamic(5 by http.status)"'),
    "dup_name": H + "    z,,a exists,keep,5\n" + FALLBACK,
    "dup_priority": H + "    r,,a exists,keep,0\n" + FALLBACK,
    "no_fallback": H + "    r,,a exists,keep,5\n    z,,b exists,drop,0\n",
    "unreachable": H + "    r,,true,keep,5\n    z,,b exists,drop,0\n",
    "too_many": rule(" and ".join(f"(a{i} exists or b{i} exists)" for i in range(7))),
    "error_field": "nectar_policy{version,name,error,rules}:\n  1\n  p\n  not error exists\n  rules[1]{name,match,action,priority}:\n    z,true,drop,0\n",
    "no_rules": "nectar_policy{version,name,rules}:\n  1\n  p\n  rules[0]{name,match,action,priority}:\n",
}


EXPECTED = [
    (
        "not_trace",
        [
            "error: c.toon:5:9: 'not' around a trace-scope condition cannot be compiled exactly; got 'not error exists'; Refinery would need 'no span has it'; to act on traces where no span has it, add an earlier rule that matches it with the opposite action, and let this rule catch the rest; to mean 'some span lacks it' write the negative operator (!=, does-not-contain, not in, not exists) or span(not ...)"
        ],
    ),
    (
        "not_int",
        [
            "error: c.toon:5:14: 'not' cannot be compiled exactly here: an int comparison is false both ways for a span without the field (or with a value that does not convert); got 'not http.status >= 500'; compare as string (as string) if that is meant, or to act on traces where no span has it, add an earlier rule that matches it with the opposite action, and let this rule catch the rest"
        ],
    ),
    (
        "not_untyped",
        [
            "error: c.toon:5:14: 'not' cannot be compiled exactly here: an untyped comparison is false both ways for a span without the field (or with a value that does not convert); got 'not x = 1 as untyped'; compare as string (as string) if that is meant, or to act on traces where no span has it, add an earlier rule that matches it with the opposite action, and let this rule catch the rest"
        ],
    ),
    (
        "not_starts",
        [
            "error: c.toon:5:14: 'not' cannot be compiled exactly here: Refinery has no opposite of starts-with; got 'not x starts-with \"a\"'; to act on traces where no span has it, add an earlier rule that matches it with the opposite action, and let this rule catch the rest"
        ],
    ),
    (
        "not_span",
        [
            "error: c.toon:5:9: 'not' around span(...) cannot be compiled exactly; got 'not span(a exists)'; Refinery would need 'no span has all of it'; to act on traces where no span has it, add an earlier rule that matches it with the opposite action, and let this rule catch the rest"
        ],
    ),
    (
        "not_true",
        [
            "error: c.toon:5:9: 'not true' never matches, and Refinery cannot express a rule that never matches; got 'not true'; delete the rule"
        ],
    ),
    (
        "nested_span",
        [
            "error: c.toon:5:14: span(...) cannot be nested; got 'span(a exists)'; remove the inner span("
        ],
    ),
    (
        "has_root_span",
        [
            "error: c.toon:5:14: has_root never matches inside span(...); got 'has_root'; Refinery evaluates has-root-span only for a whole trace; move it out of span(...)"
        ],
    ),
    (
        "mixed_scope",
        [
            "error: c.toon:5:9: span(...) with several conditions cannot be combined with conditions outside it; got 2; a Refinery rule has one scope; move the other conditions inside span(...) if they must hold on the same span, or put them in a separate rule"
        ],
    ),
    (
        "sample_07",
        [
            "error: c.toon:5:19: Refinery keeps 1 trace in a whole N; this rate is more than 1% away from any 1/N; got '0.7'; nearest representable: sample(1/1) = 1.0, sample(1/2) = 0.5"
        ],
    ),
    (
        "sample_0",
        [
            "error: c.toon:5:19: sample rate must be above 0 and at most 1; got '0'; use drop to drop every matching trace, keep to keep them all"
        ],
    ),
    (
        "sample_033",
        [
            "warning: c.toon:5:19: applied as sample(1/3) = 0.3333; got '0.33'; write sample(1/3) to say so"
        ],
    ),
    (
        "convert_int",
        [
            "error: c.toon:5:13: value does not convert to int; got 'abc'; Refinery would silently fall back to an untyped compare; fix the value or write 'as untyped'"
        ],
    ),
    (
        "convert_float",
        [
            "error: c.toon:5:13: value does not convert to float; got '1e400'; Refinery would silently fall back to an untyped compare; fix the value or write 'as untyped'"
        ],
    ),
    (
        "bool_order",
        [
            "error: c.toon:5:9: '>' has no bool form in Refinery; got 'x > true'; Refinery silently falls back to an untyped compare; use = or !="
        ],
    ),
    ("bool_value", ["warning: c.toon:5:13: as bool, the value is read as false; got 'yes'"]),
    ("truncate", ["warning: c.toon:5:13: as int, the value is truncated to 2; got 2.5"]),
    (
        "duration_int",
        [
            "warning: c.toon:5:20: duration_ms is a float; an int comparison truncates it; got 500; write a duration such as 500ms"
        ],
    ),
    (
        "mixed_list",
        [
            "error: c.toon:5:14: list elements must all have one type; got ['float', 'int']; Refinery rejects a Value list with mixed types (1 and 2.5 are int and float)"
        ],
    ),
    (
        "bool_list",
        [
            "error: c.toon:5:14: in cannot test true/false; got 'x in [true]'; Refinery never matches in/not-in on bools; write x = true"
        ],
    ),
    ("empty_list", ["warning: c.toon:5:14: an empty list never matches; got '[]'"]),
    (
        "bad_list_item",
        [
            "error: c.toon:5:15: list element does not convert to int; got 'a'; Refinery silently drops it from the list"
        ],
    ),
    (
        "regex_lookahead",
        [
            "error: c.toon:5:19: not a valid Go regexp: invalid perl operator: (?=; got '(?=a)'; Go regexps have no lookaround: match the text itself, or add a second condition (does-not-contain, not matches) to the rule; Refinery never matches an invalid pattern"
        ],
    ),
    (
        "regex_invalid",
        [
            "error: c.toon:5:19: not a valid Go regexp: missing ]: [a-; got '[a-'; Refinery never matches an invalid pattern"
        ],
    ),
    (
        "regex_backref",
        [
            "error: c.toon:5:19: not a valid Go regexp: invalid escape sequence: \\1; got '(a)\\\\1'; Go regexps have no backreferences: spell the repeated text out, or compare two fields with two conditions; Refinery never matches an invalid pattern"
        ],
    ),
    (
        "regex_possessive",
        [
            "error: c.toon:5:19: not a valid Go regexp: bad repetition operator: ++; got 'a++'; Go regexps have no possessive quantifiers: drop the extra +; Refinery never matches an invalid pattern"
        ],
    ),
    (
        "regex_python_only",
        [
            "error: c.toon:5:19: not a valid Go regexp: invalid escape sequence: \\Z; got 'end\\\\Z'; Refinery never matches an invalid pattern"
        ],
    ),
    (
        "regex_byte_class",
        [
            "error: c.toon:5:19: not a valid Go regexp: invalid escape sequence: \\C; got 'a\\\\C'; Refinery never matches an invalid pattern"
        ],
    ),
    (
        "descendants_first",
        [
            "error: c.toon:5:9: the descendant count works only as a single field; got '?.NUM_DESCENDANTS'; Refinery computes ?.NUM_DESCENDANTS only for a lone Field; write descendants on its own"
        ],
    ),
    (
        "ignored_datatype",
        [
            "warning: c.toon:5:9: Refinery ignores the datatype of contains; got 'string'; drop the 'as ...'"
        ],
    ),
    (
        "root_not_exists",
        [
            "warning: c.toon:5:9: a root. field is skipped when the trace has no root span, so 'not exists' is then true; got 'root.x not exists'; add 'and has_root' if only traces with a root span are meant"
        ],
    ),
    (
        "unknown_param",
        [
            "error: c.toon:5:36: unknown throughput parameter; got 'wieght'; did you mean weight? known: adjust, weight, age_out, burst_multiple, burst_delay, max_keys, use_trace_length, use_cluster_size, initial_rate"
        ],
    ),
    (
        "param_range",
        ["error: c.toon:5:38: weight (Weight) is out of range; got 1.5; Refinery accepts 0.0..1.0"],
    ),
    (
        "param_type",
        [
            "error: c.toon:5:38: adjust (AdjustmentInterval) must be a duration; got 15; e.g. adjust=15s"
        ],
    ),
    ("param_dup", ["error: c.toon:5:43: duplicate parameter; got 'weight'"]),
    (
        "param_sampler",
        [
            "error: c.toon:5:31: unknown dynamic parameter; got 'initial_rate'; known: adjust, weight, age_out, burst_multiple, burst_delay, max_keys, use_trace_length"
        ],
    ),
    (
        "key_alias",
        [
            "warning: c.toon:5:33: key fields are not aliased; Refinery looks this name up as written; got 'http.status'; write the real field name, e.g. http.response.status_code"
        ],
    ),
    (
        "dup_name",
        [
            "error: c.toon:6:5: duplicate rule name; got 'z'; already used on line 5; rule names must be unique"
        ],
    ),
    (
        "dup_priority",
        [
            "error: c.toon:6:18: duplicate priority; got 0; rule 'r' has it too; priorities decide the order, so each must be unique"
        ],
    ),
    (
        "no_fallback",
        [
            "warning: c.toon:4:3: no rule matches every trace; got 'p'; Refinery keeps unmatched traces at rate 1; end with a rule whose match is true"
        ],
    ),
    (
        "unreachable",
        [
            "warning: c.toon:6:5: rule is never reached; got 'z'; rule 'r' above it matches every trace"
        ],
    ),
    (
        "too_many",
        [
            "error: c.toon:5:9: match expression expands to too many Refinery rules; got 128; at most 64; factor the 'or's into separate rules"
        ],
    ),
    (
        "error_field",
        [
            "error: c.toon:4:3: 'not' around a trace-scope condition cannot be compiled exactly; got 'not error exists'; Refinery would need 'no span has it'; to act on traces where no span has it, add an earlier rule that matches it with the opposite action, and let this rule catch the rest; to mean 'some span lacks it' write the negative operator (!=, does-not-contain, not in, not exists) or span(not ...)"
        ],
    ),
    (
        "no_rules",
        [
            "warning: c.toon:4:3: policy has no rules; got 0; Refinery keeps every trace when no rule matches"
        ],
    ),
]


@pytest.mark.parametrize(("case", "messages"), EXPECTED, ids=[c for c, _ in EXPECTED])
def test_diagnostics(case: str, messages: list[str]) -> None:
    found = check_policy(parse_policy(CASES[case], path="c.toon"))
    assert [f"{d.severity}: {d.message}" for d in found] == messages


def test_every_case_has_expected_messages() -> None:
    assert sorted(CASES) == sorted(c for c, _ in EXPECTED)


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("examples/*/policies/*.toon")), ids=lambda p: p.name
)
def test_examples_are_clean(path: Path) -> None:
    assert check_policy(load_policy(path)) == []


def _shape(text: str) -> list[tuple[str, list[str]]]:
    out = []
    for clause in normal_form(parse_match(text, position=P)):
        out.append((clause.scope.value, [format_match(c) for c in clause.conditions]))
    return out


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ("true", [("trace", [])]),
        ("a exists and b = 1", [("trace", ["a exists", "b = 1"])]),
        ("a exists or b = 1", [("trace", ["a exists"]), ("trace", ["b = 1"])]),
        (
            "(a exists or b exists) and c exists",
            [("trace", ["a exists", "c exists"]), ("trace", ["b exists", "c exists"])],
        ),
        ("not has_root", [("trace", ["has_root = false"])]),
        ("not not a exists", [("trace", ["a exists"])]),
        ("span(a exists and b = 1)", [("span", ["a exists", "b = 1"])]),
        ("span(a exists) and b = 1", [("trace", ["b = 1", "a exists"])]),
        (
            "span(a exists or b exists) and c exists",
            [("trace", ["c exists", "a exists"]), ("trace", ["c exists", "b exists"])],
        ),
        (
            'span(not (a exists or b contains "x" or c in [1] or d = "s" or e < "m" or f > "m"))',
            [
                (
                    "span",
                    [
                        "a not exists",
                        'b does-not-contain "x"',
                        "c not in [1]",
                        'd != "s"',
                        'e >= "m"',
                        'f <= "m"',
                    ],
                )
            ],
        ),
        (
            'span(not (a not exists and b does-not-contain "x" and c not in [1] and d != "s"))',
            [
                ("trace", ["a exists"]),
                ("trace", ['b contains "x"']),
                ("trace", ["c in [1]"]),
                ("trace", ['d = "s"']),
            ],
        ),
        ('span(not x >= "b" and y = 1)', [("span", ['x < "b"', "y = 1"])]),
        ("span(true and a exists)", [("trace", ["a exists"])]),
        ("has_root and span(a = 1)", [("trace", ["has_root", "a = 1"])]),
    ],
)
def test_normal_form(text: str, shape: list[tuple[str, list[str]]]) -> None:
    assert _shape(text) == shape


def test_normal_form_keeps_condition_details() -> None:
    (clause,) = normal_form(parse_match('span(not x = "a" and y exists)', position=P))
    assert clause.scope is Scope.SPAN
    first = clause.conditions[0]
    assert isinstance(first, Condition)
    assert first.operator is Operator.NE
    assert first.position == Position("n", 1, 10)
    assert normal_form(parse_match("has_root = false", position=P)) == (
        Clause(Scope.TRACE, (HasRootSpan(False),)),
    )


def test_validate_policy_raises_the_first_error_with_its_source_line() -> None:
    text = CASES["sample_07"]
    policy = parse_policy(text, path="c.toon")
    with pytest.raises(PolicyError) as info:
        validate_policy(policy, source=text)
    assert info.value.diagnostic.code == "sample-rate"
    assert info.value.render().splitlines()[1] == '        r,,"a exists",sample(0.7),5'
    ok = parse_policy(CASES["sample_033"])
    assert validate_policy(ok) is ok


def _reference_blocks() -> list[str]:
    text = (ROOT / "pytest_nectar/policy/policy-language.md").read_text()
    return [block.split("```", 1)[0] for block in text.split("```toon\n")[1:]]


@pytest.mark.parametrize("block", _reference_blocks())
def test_reference_examples_are_valid(block: str) -> None:
    errors = [d for d in check_policy(parse_policy(block)) if d.severity == "error"]
    assert errors == []


@pytest.mark.parametrize(
    "expr",
    [
        'service.name = "checkout"',
        'http.method != "GET"',
        'db.statement contains "SELECT"',
        'user_agent does-not-contain "bot"',
        'http.route starts-with "/api/"',
        "http.target matches '^/v[0-9]+/'",
        'http.method in ["POST", "PUT"]',
        'env not in ["dev", "test"]',
        "trace.parent_id not exists",
        'http.status_code = "500" as int',
        "http.status_code = 500 as untyped",
        "http.status_code >= 500 as string",
        "`odd field!` exists",
        "first(a, b) = 1",
        "descendants > 1000",
        'span(service.name = "checkout" and http.status >= 500)',
        'span(http.route = "/cart" and duration > 1s)',
        'span(service.name = "cart" and not (http.route = "/health"))',
    ],
)
def test_reference_match_examples_are_valid(expr: str) -> None:
    found = _check_expr_only(expr)
    assert [d.message for d in found if d.severity == "error"] == []


def _check_expr_only(expr: str) -> list[Diagnostic]:
    quoted = '"' + expr.replace("\\", "\\\\").replace('"', '\\"') + '"'
    text = H.replace("rules[2]", "rules[1]") + f"    r,,{quoted},keep,0\n"
    return list(check_policy(parse_policy(text)))


@pytest.mark.parametrize(
    "pattern",
    [
        r"\pL",
        r"\p{Greek}+",
        r"\PN",
        r"[[:alpha:]]+",
        r"\Q*.*\E",
        r"\x{41}",
        r"(?U)a+",
        r"(?P<ver>v[0-9]+)",
        r"(?i)^/api/\z",
    ],
)
def test_go_only_regex_syntax_is_accepted(pattern: str) -> None:
    # Python's re rejects each of these; Go's regexp (and so Refinery) compiles them
    found = _check_expr_only(f"http.route matches '{pattern}'")
    assert [d.message for d in found if d.severity == "error"] == []


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(?=a)", "invalid perl operator: (?="),
        ("(?<!a)b", "invalid perl operator: (?<!"),
        (r"(a)\1", r"invalid escape sequence: \1"),
        (r"a\Z", r"invalid escape sequence: \Z"),
        ("a{1001}", "invalid repetition size: {1001}"),
        ("x**", "bad repetition operator: **"),
        ("(a", "missing ): (a"),
    ],
)
def test_regex_errors_give_the_go_reason(pattern: str, reason: str) -> None:
    found = [d for d in _check_expr_only(f"x matches '{pattern}'") if d.severity == "error"]
    hint = regex_hint(pattern) or "Refinery never matches an invalid pattern"
    assert [d.message for d in found] == [
        f"<policy>:5:19: not a valid Go regexp: {reason}; got {pattern!r}; {hint}"
    ]


def test_a_4301_digit_string_as_int_is_a_conversion_error_not_a_crash() -> None:
    found = _check_expr_only('a = "' + "9" * 4301 + '" as int')
    errors = [d.message for d in found if d.severity == "error"]
    assert errors == [
        f"<policy>:5:13: value does not convert to int; got '{'9' * 117}...'; Refinery would "
        "silently fall back to an untyped compare; fix the value or write 'as untyped'"
    ]
