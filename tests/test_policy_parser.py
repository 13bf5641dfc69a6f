# Error messages are asserted verbatim, one per table row, so rows may be long.
# ruff: noqa: E501
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.errors import PolicyError, Position
from pytest_nectar.policy.model import (
    CommentLine,
    Condition,
    Duration,
    Keep,
    Literal,
    MatchAll,
    Operator,
    Sample,
)
from pytest_nectar.policy.parser import load_policy, parse_policy

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples/quickstart/policies/production.toon"

H = "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  p\n  10\n"
T = "  rules[1]{name,description,match,action,priority}:\n"
R = "    r,,true,keep,0\n"
CASES = {
    "row_count": H + "  rules[2]{name,description,match,action,priority}:\n" + R,
    "cells_fewer": H + T + "    r,,true,keep\n",
    "cells_more": H + T + "    r,d,a, b,keep,0\n",
    "unknown_top": "nectar_policy{version,nmae,rules}:\n  1\n  p\n" + T + R,
    "unknown_keyed": "nectar_policy:\n  version: 1\n  name: p\n  budget: 5\n" + T + R,
    "unknown_column": H + "  rules[1]{name,descr,match,action,priority}:\n" + R,
    "missing_field": "nectar_policy{version,rules}:\n  1\n" + T + R,
    "missing_column": H + "  rules[1]{name,match,action}:\n    r,true,keep\n",
    "trailing": H + T + R + "extra\n",
    "more_values": "nectar_policy{version,name}:\n  1\n  p\n  10\n",
    "fewer_values": H.replace("  10\n", "") + T + R,
    "dup_header": "nectar_policy{version,name,name,rules}:\n  1\n  p\n  q\n" + T + R,
    "dup_keyed": "nectar_policy:\n  version: 1\n  name: p\n  name: q\n" + T + R,
    "bad_version": H.replace("  1\n", "  2\n", 1) + T + R,
    "version_text": H.replace("  1\n", "  one\n", 1) + T + R,
    "budget_text": H.replace("  10\n", "  lots\n") + T + R,
    "priority_text": H + T + "    r,,true,keep,high\n",
    "empty_name": H + T + "    ,,true,keep,0\n",
    "bad_match": H + T + '    r,,"http.status >= ",keep,0\n',
    "bad_match_quoted": H + T + '    r,"a, b","x = \\"a\\" and y @ 2",keep,0\n',
    "bad_action": H + T + "    r,,true,kep,0\n",
    "tab_indent": H.replace("  10\n", "\t10\n") + T + R,
    "odd_indent": H.replace("  10\n", "   10\n") + T + R,
    "no_header": "policy:\n  version: 1\n",
    "empty": "",
    "unterminated": H + T + '    "r,,true,keep,0\n',
    "bad_escape": H + T + '    "r\\q",,true,keep,0\n',
    "rules_scalar": "nectar_policy{version,name,rules}:\n  1\n  p\n  none\n",
    "must_keep_count": "nectar_policy:\n  version: 1\n  name: p\n  must_keep[2]: a exists\n"
    + T
    + R,
    "nested_bool": "nectar_policy:\n  version: 1\n  name: p\n  check_nested_fields: yes\n" + T + R,
    "keyed_no_colon": "nectar_policy:\n  version 1\n",
}

EXPECTED = [
    (
        "row_count",
        "p.toon:5:9: row count differs from the table header; got 1; rules[2] declares 2 rows; make it rules[1] or add the missing rows",
    ),
    (
        "cells_fewer",
        "p.toon:6:5: wrong number of cells in row; got 4; the header has 5 columns (name,description,match,action,priority); quote a cell that holds a comma",
    ),
    (
        "cells_more",
        "p.toon:6:9: a match cell with ',' or '\"' must be quoted; got 'a, b'; quote the cell: r,d,\"a, b\",keep,0",
    ),
    (
        "unknown_top",
        "p.toon:1:23: unknown policy field; got 'nmae'; did you mean name? known: version, name, budget_per_second, environment, error, must_keep, check_nested_fields, sampler, rules",
    ),
    (
        "unknown_keyed",
        "p.toon:4:3: unknown policy field; got 'budget'; known: version, name, budget_per_second, environment, error, must_keep, check_nested_fields, sampler, rules",
    ),
    (
        "unknown_column",
        "p.toon:5:17: unknown rules column; got 'descr'; did you mean description? known: name, description, match, action, priority",
    ),
    (
        "missing_field",
        "p.toon:1:1: missing required policy field; got 'name'; a policy needs version, name and rules",
    ),
    (
        "missing_column",
        "p.toon:5:3: missing rules column; got 'priority'; the columns are name,description,match,action,priority",
    ),
    (
        "trailing",
        "p.toon:7:1: trailing content after the policy; got 'extra'; a file holds one nectar_policy; indent this line if it belongs to it",
    ),
    (
        "more_values",
        "p.toon:4:3: more values than the policy header lists; got '10'; the header lists 2 fields: version,name",
    ),
    (
        "fewer_values",
        "p.toon:1:46: missing value line for a header field; got 'rules'; the header lists 4 fields but 3 values follow",
    ),
    (
        "dup_header",
        "p.toon:1:28: duplicate field in the policy header; got 'name'; name is already listed at column 23",
    ),
    ("dup_keyed", "p.toon:4:3: duplicate policy field; got 'name'; name is already set on line 3"),
    ("bad_version", "p.toon:2:3: unsupported policy version; got 2; this Nectar reads version 1"),
    ("version_text", "p.toon:2:3: version must be a whole number; got 'one'; e.g. 10000"),
    ("budget_text", "p.toon:4:3: budget_per_second must be a whole number; got 'lots'; e.g. 10000"),
    (
        "priority_text",
        "p.toon:6:18: priority must be a whole number; got 'high'; higher priorities are tried first, e.g. 100",
    ),
    ("empty_name", "p.toon:6:5: empty rule name; got ''; name every rule"),
    (
        "bad_match",
        "p.toon:6:24: the match expression ends too early; got 'http.status >= '; expected 'false', 'true', a \"string\", a 'string', a number",
    ),
    (
        "bad_match_quoted",
        "p.toon:6:31: unexpected character in match expression; got '@'; expected '!=', ')', ',', '=', '>', '>=', '<' or '<=', 'contains', 'does-not-contain', 'exists', 'in', 'matches', 'not', 'not-exists', 'not-in', 'starts-with'",
    ),
    (
        "bad_action",
        "p.toon:6:13: invalid action; got 'kep'; expected keep, drop, sample(P), sample(1/N), throughput(N/s by FIELD, ...), dynamic(N by FIELD, ...), avg_dynamic(N by FIELD, ...), windowed_throughput(N/s by FIELD, ...) or total_throughput(N/s by FIELD, ...)",
    ),
    (
        "tab_indent",
        "p.toon:4:1: tabs are not allowed in indentation; got '\\t'; indent with 2 spaces per level",
    ),
    (
        "odd_indent",
        "p.toon:4:4: indentation must grow by 2 spaces per level; got 3; indent this line by 4 spaces",
    ),
    (
        "no_header",
        "p.toon:1:1: a policy starts with nectar_policy; got 'policy:'; write nectar_policy{version,name,budget_per_second,rules}: or nectar_policy: as the first line",
    ),
    ("empty", "p.toon:1:1: empty policy file; got ''; start with nectar_policy"),
    (
        "unterminated",
        "p.toon:6:5: unterminated quoted value; got '\"r,,true,keep,0'; close it with \"",
    ),
    (
        "bad_escape",
        "p.toon:6:7: invalid escape in quoted value; got '\\\\q'; TOON escapes are \\\" \\\\ \\n \\r \\t",
    ),
    (
        "rules_scalar",
        "p.toon:4:3: rules must be a table; got 'none'; write rules[N]{name,description,match,action,priority}: and one row per rule",
    ),
    (
        "must_keep_count",
        "p.toon:4:13: item count differs from the array header; got 1; [2] declares 2 items; quote an item that holds a comma",
    ),
    ("nested_bool", "p.toon:4:24: check_nested_fields must be true or false; got 'yes'"),
    (
        "keyed_no_colon",
        "p.toon:2:3: unexpected text; got 'version'; expected key: value, key[N], the end of the line",
    ),
]


@pytest.mark.parametrize(("case", "message"), EXPECTED, ids=[c for c, _ in EXPECTED])
def test_error_messages(case: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(CASES[case], path="p.toon")
    assert info.value.message == message


def test_every_case_has_an_expected_message() -> None:
    assert sorted(CASES) == sorted(c for c, _ in EXPECTED)


def test_error_renders_caret_under_the_column_inside_the_match() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(CASES["bad_match_quoted"], path="p.toon")
    lines = info.value.render().splitlines()
    assert lines[1] == '        r,"a, b","x = \\"a\\" and y @ 2",keep,0'
    assert lines[2].index("^") == lines[1].index("@")


def test_seed_example_parses() -> None:
    policy = load_policy(SEED)
    assert policy.version == 1
    assert policy.name == "production-sampling"
    assert policy.budget_per_second == 200
    assert [r.name for r in policy.rules] == ["keep-errors", "keep-slow", "sample-rest"]
    slow = policy.rules[1].match
    assert isinstance(slow, Condition)
    assert slow.field.names == ("duration_ms",)
    assert slow.operator is Operator.GT
    assert slow.value == Literal(Duration(Decimal(5), "s"))
    assert isinstance(policy.rules[0].action, Keep)
    assert isinstance(policy.rules[2].match, MatchAll)
    assert policy.rules[2].action == Sample(probability=Decimal("0.01"))
    assert policy.effective_environment == "__default__"


def test_keyed_twin_gives_an_equal_policy() -> None:
    keyed = parse_policy((ROOT / "tests/data/seed_keyed.toon").read_text())
    assert keyed == load_policy(SEED)


def test_rules_are_in_priority_order_and_crlf_and_comments_are_fine() -> None:
    text = (
        "# leading comment\r\nnectar_policy:\r\n  version: 1\r\n  name: p\r\n"
        "  # a comment inside\r\n  rules[2]{priority,name,match,action}:\r\n"
        "    1,low,true,drop\r\n\r\n    5,high,a exists,keep\r\n"
    )
    policy = parse_policy(text)
    assert [r.name for r in policy.rules] == ["high", "low"]
    assert policy.rules[0].description is None
    assert policy.rules[0].position.line == 9


def test_comments_are_attached_to_the_element_below_them() -> None:
    text = (
        "# top\nnectar_policy:\n  version: 1\n  # the name\n\n  name: p\n"
        "  rules[2]{priority,name,match,action}:\n    # low one\n    1,low,true,drop\n"
        "    5,high,a exists,keep\n\n  # end\n"
    )
    policy = parse_policy(text, path="c.toon")
    notes = policy.comments
    assert notes.header == (CommentLine("# top"),)
    assert notes.header[0].position == Position("c.toon", 1, 1)
    assert notes.before("name") == (CommentLine("# the name"), CommentLine(""))
    assert notes.before("name")[0].position == Position("c.toon", 4, 3)
    assert notes.before("version") == () and notes.before("rules") == ()
    assert [(r.name, r.comments) for r in policy.rules] == [
        ("high", ()),
        ("low", (CommentLine("# low one"),)),
    ]
    assert notes.trailing == (CommentLine(""), CommentLine("# end"))


def test_comment_lines_must_be_comments() -> None:
    with pytest.raises(ValueError, match="a comment line starts with '#'"):
        CommentLine("not a comment")
    with pytest.raises(ValueError, match="is one line"):
        CommentLine("# two\n# lines")


def test_quoted_cells_hold_commas_and_escapes() -> None:
    text = H + T + '    "a,b","x \\"y\\"","z = \\"1,2\\"",keep,0\n'
    rule = parse_policy(text).rules[0]
    assert rule.name == "a,b"
    assert rule.description == 'x "y"'
    assert isinstance(rule.match, Condition)
    assert rule.match.value == Literal("1,2")
    assert rule.match.position.column == 22


def test_load_policy_reports_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "missing.toon")
    bad = tmp_path / "bad.toon"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(bad)


def _assert_parses_or_located(text: str) -> None:
    try:
        parse_policy(text, path="f.toon")
    except PolicyError as err:
        pos = err.position
        assert pos is not None and pos.path == "f.toon"
        assert pos.line >= 1 and pos.column >= 1, err.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from(list('nectar_policy{},:[]"#\\ \t\n12ab=>sk()')), max_size=80)
)
def test_fuzz_random_text(text: str) -> None:
    _assert_parses_or_located(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_fuzz_mutated_valid_text(seed: int, edits: int) -> None:
    rng = random.Random(seed)
    source = SEED.read_text() if seed % 2 else (ROOT / "tests/data/seed_keyed.toon").read_text()
    chars = list(source)
    for _ in range(edits):
        i = rng.randrange(len(chars))
        op = rng.randrange(3)
        piece = rng.choice(list(" ,\"\\\n\t#:[]{}()=<>!&|`'xyz019."))
        if op == 0:
            chars.insert(i, piece)
        elif op == 1 and len(chars) > 1:
            del chars[i]
        else:
            chars[i] = piece
    _assert_parses_or_located("".join(chars))


# Hostile input (issue 19): numbers beyond Python's 4,300-digit conversion limit are range errors.
HUGE = "9" * 4301


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            H.replace("  10\n", f"  {HUGE}\n") + T + R,
            f"p.toon:4:3: budget_per_second out of range; got '{HUGE[:117]}...'; "
            "the largest allowed is 9223372036854775807 (a Go int64)",
        ),
        (
            H.replace("  1\n", f"  {HUGE}\n", 1) + T + R,
            f"p.toon:2:3: version out of range; got '{HUGE[:117]}...'; "
            "the largest allowed is 9223372036854775807 (a Go int64)",
        ),
        (
            H + T + f"    r,,true,keep,{HUGE}\n",
            f"p.toon:6:18: priority out of range; got '{HUGE[:117]}...'; "
            "the largest allowed is 9223372036854775807 (a Go int64)",
        ),
        (
            H + T.replace("[1]", f"[{HUGE}]") + R,
            f"p.toon:5:9: array length out of range; got '{HUGE[:117]}...'; "
            "write the number of items that follow",
        ),
        (
            H.replace("  10\n", "  9223372036854775808\n") + T + R,
            "p.toon:4:3: budget_per_second out of range; got '9223372036854775808'; "
            "the largest allowed is 9223372036854775807 (a Go int64)",
        ),
    ],
)
def test_huge_integers_are_range_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, path="p.toon")
    assert info.value.message == message


def test_a_huge_policy_is_refused_before_parsing() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy("x" * (8 * 1024 * 1024 + 1), path="p.toon")
    assert info.value.message == (
        "p.toon: policy file is too large; got '8388609 characters'; "
        "the limit is 8388608; a policy is normally a few KiB"
    )
