from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pytest_nectar.errors import Position
from pytest_nectar.match_parser import parse_match
from pytest_nectar.model import Expr, Policy
from pytest_nectar.policy_parser import parse_policy
from pytest_nectar.printer import format_match, format_policy, quote_cell, quote_value
from tests.policy_strategies import exprs, policies

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(ROOT.glob("examples/*/policies/*.toon"))
P = Position("t", 1, 1)


def test_seed_example_is_canonical_byte_for_byte() -> None:
    path = ROOT / "examples/quickstart/policies/production.toon"
    text = path.read_text()
    assert format_policy(parse_policy(text)) == text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_canonical(path: Path) -> None:
    text = path.read_text()
    assert format_policy(parse_policy(text)) == text


def test_keyed_form_prints_as_the_positional_seed() -> None:
    keyed = (ROOT / "tests/data/seed_keyed.toon").read_text()
    seed = (ROOT / "examples/quickstart/policies/production.toon").read_text()
    assert format_policy(parse_policy(keyed)) == seed


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("a == 1 && b != 2 || !c exists", "a = 1 and b != 2 or not c exists"),
        ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
        ("a = 1 or (b = 2 or c = 3)", "a = 1 or (b = 2 or c = 3)"),
        ("not (a = 1 and b = 2)", "not (a = 1 and b = 2)"),
        ("a not-in [1,2]", "a not in [1, 2]"),
        ("a not-exists", "a not exists"),
        ('x = "500" as int', 'x = "500" as int'),
        ("x = 500 as int", "x = 500"),
        ("x = 500 as untyped", "x = 500 as untyped"),
        ("x contains 'a' as string", 'x contains "a" as string'),
        ("x matches '\\d+'", "x matches '\\d+'"),
        ('x = "tab\\there"', 'x = "tab\\there"'),
        ("duration > 1.50s", "duration > 1.5s"),
        ("duration > 1000ms", "duration > 1000ms"),
        ("has_root = true", "has_root"),
        ("has_root == false", "has_root = false"),
        ("`odd field` exists", "`odd field` exists"),
        ("`http.route` exists", "`http.route` exists"),
        ("first(a,b) = 1", "first(a, b) = 1"),
        ("span( a=1 )", "span(a = 1)"),
        ("x = 1.0", "x = 1.0"),
        ("x = +5", "x = 5"),
    ],
)
def test_match_canonical_spelling(written: str, canonical: str) -> None:
    assert format_match(parse_match(written, position=P)) == canonical


@pytest.mark.parametrize(
    ("text", "cell", "value"),
    [
        ("plain", "plain", "plain"),
        ("a, b", '"a, b"', "a, b"),
        ('say "hi"', '"say \\"hi\\""', '"say \\"hi\\""'),
        (" padded", '" padded"', '" padded"'),
        ("#hash", '"#hash"', '"#hash"'),
        ("[x", "[x", '"[x"'),
        ("rules[3]", "rules[3]", '"rules[3]"'),
        ("back\\slash", '"back\\\\slash"', '"back\\\\slash"'),
        ("line\nbreak", '"line\\nbreak"', '"line\\nbreak"'),
        ("", '""', '""'),
    ],
)
def test_quoting_only_where_needed(text: str, cell: str, value: str) -> None:
    assert quote_cell(text) == cell
    assert quote_value(text) == value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs)
def test_match_round_trip(expr: Expr) -> None:
    text = format_match(expr)
    again = parse_match(text, position=P)
    assert again == expr
    assert format_match(again) == text


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies())
def test_policy_round_trip(policy: Policy) -> None:
    text = format_policy(policy)
    again = parse_policy(text)
    assert again == policy
    assert format_policy(again) == text
