from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.errors import PolicyError, Position
from pytest_nectar.policy.match_parser import parse_match
from pytest_nectar.policy.model import Commentary, Expr, Policy
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.policy.printer import format_match, format_policy, quote_cell, quote_value
from tests.policy_strategies import commented_policies, exprs, policies

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
    assert format_policy(parse_policy(_without_comments(keyed))) == seed


def test_keyed_twin_keeps_its_comments() -> None:
    keyed = (ROOT / "tests/data/seed_keyed.toon").read_text()
    formatted = (ROOT / "tests/data/seed_keyed_formatted.toon").read_text()
    assert format_policy(parse_policy(keyed)) == formatted
    # the expectation is the seed plus exactly the keyed file's comments, in order
    seed = (ROOT / "examples/quickstart/policies/production.toon").read_text()
    assert _without_comments(formatted) == seed
    assert _comment_texts(formatted) == _comment_texts(keyed)
    assert format_policy(parse_policy(formatted)) == formatted


def _without_comments(text: str) -> str:
    return "".join(
        line for line in text.splitlines(keepends=True) if line.strip()[:1] not in ("", "#")
    )


def _comment_texts(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


POSITIONAL_COMMENTS = """\
# file header


nectar_policy{version,name,rules}:

  # the version
  1
  p
        # about the table, oddly indented
  rules[2]{name,description,match,action,priority}:
    # low comes last after fmt, and its comment with it
    low,,true,drop,0
    high,,a exists,keep,5\t\r
  # trailing, at the wrong depth



"""
POSITIONAL_FORMATTED = """\
# file header

nectar_policy{version,name,rules}:
  # the version
  1
  p
  # about the table, oddly indented
  rules[2]{name,description,match,action,priority}:
    high,,a exists,keep,5
    # low comes last after fmt, and its comment with it
    low,,true,drop,0
    # trailing, at the wrong depth
"""


def test_comments_stay_with_their_element_in_canonical_places() -> None:
    policy = parse_policy(POSITIONAL_COMMENTS)
    assert format_policy(policy) == POSITIONAL_FORMATTED
    assert parse_policy(POSITIONAL_FORMATTED) == policy
    assert format_policy(parse_policy(POSITIONAL_FORMATTED)) == POSITIONAL_FORMATTED


def test_blank_lines_collapse_and_separate_comment_groups() -> None:
    text = (
        "nectar_policy:\n  version: 1\n\n\n  name: p\n\n  # rules below\n\n\n"
        "  rules[1]{name,match,action,priority}:\n\n\n    r,true,keep,0\n"
    )
    assert format_policy(parse_policy(text)) == (
        "nectar_policy{version,name,rules}:\n  1\n\n  p\n\n  # rules below\n\n"
        "  rules[1]{name,description,match,action,priority}:\n    r,,true,keep,0\n"
    )


def test_trailing_comments_without_rows_sit_at_the_table_depth() -> None:
    text = (
        "nectar_policy:\n  version: 1\n  name: p\n  rules[0]{name,match,action,priority}:\n# end\n"
    )
    assert format_policy(parse_policy(text)) == (
        "nectar_policy{version,name,rules}:\n  1\n  p\n"
        "  rules[0]{name,description,match,action,priority}:\n  # end\n"
    )


def test_reference_commented_example_is_canonical() -> None:
    text = (ROOT / "pytest_nectar/policy/policy-language.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```toon\n")[1:] if b.startswith("#")]
    assert blocks
    for block in blocks:
        assert format_policy(parse_policy(block)) == block


def test_comments_do_not_change_equality() -> None:
    bare = parse_policy(_without_comments(POSITIONAL_COMMENTS))
    commented = parse_policy(POSITIONAL_COMMENTS)
    assert commented == bare and hash(commented) == hash(bare)
    assert commented.comments != bare.comments


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


def _canonical(lines: Commentary, *, opens_block: bool, ends_file: bool = False) -> list[str]:
    """The comment texts the printer promises: one blank per run, none opening a block."""
    out: list[str] = []
    for line in lines:
        text = line.text.rstrip(" \t")
        if text or (out[-1:] != [""] and (out or not opens_block)):
            out.append(text)
    while ends_file and out[-1:] == [""]:
        out.pop()
    return out


def _texts(lines: Commentary) -> list[str]:
    return [line.text for line in lines]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commented_policies())
def test_policy_round_trip_with_comments(policy: Policy) -> None:
    text = format_policy(policy)
    again = parse_policy(text)
    assert again == policy
    assert format_policy(again) == text
    # every comment comes back on the element it was written above
    notes, back = policy.comments, again.comments
    assert _texts(back.header) == _canonical(notes.header, opens_block=True)
    for name, _ in notes.fields:
        expected = _canonical(notes.before(name), opens_block=name == "version")
        assert _texts(back.before(name)) == expected, name
    for index, (rule, parsed) in enumerate(zip(policy.rules, again.rules, strict=True)):
        assert _texts(parsed.comments) == _canonical(rule.comments, opens_block=index == 0)
    assert _texts(back.trailing) == _canonical(notes.trailing, opens_block=False, ends_file=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_fmt_is_idempotent_on_mutated_commented_files(seed: int, edits: int) -> None:
    # line-level edits that move, add and blank out comment lines, then whatever still parses
    rng = random.Random(seed)
    lines = (ROOT / "tests/data/seed_keyed.toon").read_text().splitlines()
    for _ in range(edits):
        i = rng.randrange(len(lines) + 1)
        lines.insert(i, rng.choice(["", "#", "  # x  ", "      #deep", "\t# tab", '# é,"[]']))
    text = "\n".join(lines) + rng.choice(["\n", "", "\n\n"])
    try:
        policy = parse_policy(text)
    except PolicyError:
        return
    printed = format_policy(policy)
    again = parse_policy(printed)
    assert again == policy
    assert format_policy(again) == printed
    assert _comment_texts(printed) == [c.strip() for c in _comment_texts(text)]
