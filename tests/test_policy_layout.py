"""``nectar fmt`` keeps a file's form and quotes (pytest_nectar/policy/layout.py)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from pytest_nectar.cli import main
from pytest_nectar.policy.layout import Layout, detect_layout
from pytest_nectar.policy.model import Policy
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.policy.printer import format_policy
from tests.policy_strategies import commented_policies

ROOT = Path(__file__).resolve().parent.parent
KEYED = ROOT / "tests" / "data" / "seed_keyed.toon"


def _fmt(text: str) -> str:
    policy = parse_policy(text)
    return format_policy(policy, detect_layout(text, policy))


def test_the_seeds_keyed_twin_is_kept_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "seed_keyed.toon"
    shutil.copy(KEYED, path)
    assert main(["fmt", "--check", str(path)]) == 0
    assert main(["fmt", str(path)]) == 0
    assert path.read_bytes() == KEYED.read_bytes()
    assert capsys.readouterr().out == ""


def test_quotes_and_form_kept_only_the_ambiguous_normalised() -> None:
    text = (
        "nectar_policy:\n"
        "  version: 1\n"
        "  name: x\n"
        "  error: http.route = 'a'\n"
        "  must_keep[2]: http.route = '/cart',service.name = 'pay'\n"
        "  rules[3]{name,description,match,action,priority}:\n"
        "    b,,true,keep,0\n"
        "    a,,\"http.method in ['POST', \\\"PUT\\\"] && x == 'b'\",keep,2\n"
        '    c,,"x = \\"it\'s\\"",drop,1\n'
    )
    assert _fmt(text) == (
        "nectar_policy:\n"
        "  version: 1\n"
        "  name: x\n"
        "  error: http.route = 'a'\n"
        "  must_keep[2]: http.route = '/cart',service.name = 'pay'\n"
        "  rules[3]{name,description,match,action,priority}:\n"
        "    a,,\"http.method in ['POST', \\\"PUT\\\"] and x = 'b'\",keep,2\n"
        '    c,,"x = \\"it\'s\\"",drop,1\n'  # a ' inside: only double quotes are valid
        "    b,,true,keep,0\n"
    )


def test_positional_stays_positional() -> None:
    seed = (ROOT / "examples" / "quickstart" / "policies" / "production.toon").read_text()
    assert _fmt(seed) == seed
    assert detect_layout(seed, parse_policy(seed)) == Layout()


def _all_single(policy: Policy, text: str) -> Layout:
    """A layout that single-quotes every string literal of the parsed ``text``."""
    lines = text.split("\n")
    parsed = parse_policy(text)
    found = detect_layout(text, parsed)
    positions = set()
    for line_no, line in enumerate(lines, 1):
        for col, char in enumerate(line, 1):
            if char == '"' or (char == "\\" and line[col : col + 1] == '"'):
                positions.add((line_no, col))
    return replace(found, keyed=True, single_quoted=frozenset(positions))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commented_policies())
def test_keyed_and_single_quoted_forms_round_trip_and_are_idempotent(policy: Policy) -> None:
    canonical = format_policy(policy)
    styled = format_policy(parse_policy(canonical), _all_single(policy, canonical))
    again = parse_policy(styled)
    assert again == policy
    assert styled.splitlines()[
        next(i for i, s in enumerate(styled.splitlines()) if s.startswith("nectar_policy"))
    ] == ("nectar_policy:")
    assert _fmt(styled) == styled  # fmt keeps what it wrote
    assert _fmt(canonical) == canonical
