"""The usual slips, each with a located message and its fix, verbatim (policy/slips.py)."""

# ruff: noqa: E501  (verbatim messages)

from __future__ import annotations

import pytest

from pytest_nectar.errors import PolicyError
from pytest_nectar.policy.check import check_policy
from pytest_nectar.policy.model import Sample
from pytest_nectar.policy.parser import parse_policy

HEAD = "nectar_policy{version,name,rules}:\n  1\n  p\n  rules[2]{name,description,match,action,priority}:\n"


def _row(match: str, action: str = "keep") -> str:
    return HEAD + f"    r,,{match},{action},1\n    rest,,true,sample(1/10),0\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _row("http.status => 500"),
            "p.toon:5:20: '=>' is not an operator; got '=>'; did you mean '>='?",
        ),
        (
            _row("http.status =< 500"),
            "p.toon:5:20: '=<' is not an operator; got '=<'; did you mean '<='?",
        ),
        (
            _row("http.status =! 500"),
            "p.toon:5:20: '=!' is not an operator; got '=!'; did you mean '!='?",
        ),
        (
            _row("true", "sample(3%)"),
            "p.toon:5:20: Refinery samples 1 trace in N; this percentage is not 1 in a whole N; got '3%'; the nearest rates: sample(1/33) keeps 3.03% or sample(1/34) keeps 2.94%",
        ),
        (
            _row("true", "sample(0%)"),
            "p.toon:5:20: a sample percentage is above 0 and at most 100; got '0%'; write keep for 100%, drop for 0%",
        ),
        (
            _row("duration > 5sec"),
            "p.toon:5:19: not a duration; got '5sec'; write 5s (Go units ns, us, ms, s, m, h; no space between)",
        ),
        (
            _row("duration > 5 s"),
            "p.toon:5:19: not a duration; got '5 s'; write 5s (Go units ns, us, ms, s, m, h; no space between)",
        ),
        (
            _row("duration > 5secs"),
            "p.toon:5:19: not a duration; got '5secs'; write 5s (Go units ns, us, ms, s, m, h; no space between)",
        ),
        (
            _row("duration >= 2 mins"),
            "p.toon:5:20: not a duration; got '2 mins'; write 2m (Go units ns, us, ms, s, m, h; no space between)",
        ),
        (
            _row('http.method in ["POST", "PUT"]'),
            "p.toon:5:8: a match cell with ',' or '\"' must be quoted; got 'http.method in [\"POST\", \"PUT\"]'; quote the cell: r,,\"http.method in ['POST', 'PUT']\",keep,1",
        ),
        (
            _row("http.route in [/a, /b]"),
            "p.toon:5:8: a match cell with ',' or '\"' must be quoted; got 'http.route in [/a, /b]'; quote the cell: r,,\"http.route in [/a, /b]\",keep,1",
        ),
        (
            HEAD + "    r,,a = 1,keep,1\n    rest,Everything else,sample(1/10),0\n",
            "p.toon:6:26: the match cell is missing; got 'rest,Everything else,sample(1/10),0'; a catch-all matches everything with true: rest,Everything else,true,sample(1/10),0",
        ),
    ],
)
def test_slip_messages(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, path="p.toon")
    assert info.value.render().splitlines()[0] == message


@pytest.mark.parametrize(("written", "n"), [("1%", 100), ("0.5%", 200), ("25%", 4), ("100%", 1)])
def test_exact_percentages_are_one_in_n(written: str, n: int) -> None:
    policy = parse_policy(_row("true", f"sample({written})"), path="p.toon")
    assert policy.rules[0].action == Sample(denominator=n)


def test_equals_equals_is_equals() -> None:
    assert parse_policy(_row("a == 1")) == parse_policy(_row("a = 1"))


@pytest.mark.parametrize(
    ("match", "message"),
    [
        (
            "a = 1 or b = 2 and c = 3",
            "warning: p.toon:5:8: 'and' binds tighter than 'or'; got 'a = 1 or (b = 2 and c = 3)'; this is how it is grouped; add parentheses to say so (or to group otherwise)",
        ),
        (
            "http.route matches 'a(?<!b)c'",
            "p.toon:5:27: not a valid Go regexp: invalid perl operator: (?<!; got 'a(?<!b)c'; Go regexps have no lookaround: match the text itself, or add a second condition (does-not-contain, not matches) to the rule; Refinery never matches an invalid pattern",
        ),
        (
            "http.route matches '(a)\\1'",
            "p.toon:5:27: not a valid Go regexp: invalid escape sequence: \\1; got '(a)\\\\1'; Go regexps have no backreferences: spell the repeated text out, or compare two fields with two conditions; Refinery never matches an invalid pattern",
        ),
    ],
)
def test_check_messages(match: str, message: str) -> None:
    text = _row(match)
    (found,) = check_policy(parse_policy(text, path="p.toon"), source=text)
    assert found.render().splitlines()[0] == message


def test_parenthesised_grouping_is_not_warned() -> None:
    text = _row("a = 1 or (b = 2 and c = 3)")
    assert check_policy(parse_policy(text, path="p.toon"), source=text) == []
