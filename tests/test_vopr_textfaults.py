from __future__ import annotations

import pytest

from pytest_nectar.vopr.rng import RngFamily
from pytest_nectar.vopr.textfaults import (
    BYTE_CORRUPTIONS,
    TEXT_CORRUPTIONS,
    corrupt_bytes,
    corrupt_text,
)

POLICY = """policy: checkout
budget_per_second: 200
rules[2]:
  - name: keep-errors
    match: http.status >= 500 && service.name == "checkout"
    action: keep
  - name: rest
    action: sample(10)
"""

RULES = """RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: keep errors
          SampleRate: 1
          Conditions:
            - Field: http.status_code
              Operator: '>='
              Value: 500
              Datatype: int
"""


@pytest.mark.parametrize("kind", TEXT_CORRUPTIONS)
@pytest.mark.parametrize("text", [POLICY, RULES])
def test_every_kind_changes_the_text_deterministically(kind: str, text: str) -> None:
    for step in range(20):
        a = corrupt_text(text, RngFamily("chaos", 1).generator(step, "policy"), kind)
        b = corrupt_text(text, RngFamily("chaos", 1).generator(step, "policy"), kind)
        assert a == b and a.text != text and a.kind == kind and a.detail


def test_claimed_corruptions() -> None:
    rng = RngFamily("chaos", 2).generator(0)
    cut = corrupt_text(POLICY, rng, "truncate")
    assert POLICY.startswith(cut.text) and len(cut.text) < len(POLICY)
    gone = corrupt_text(POLICY, rng, "delete_line")
    assert len(gone.text.splitlines()) == len(POLICY.splitlines()) - 1
    twice = corrupt_text(POLICY, rng, "duplicate_line")
    assert len(twice.text.splitlines()) == len(POLICY.splitlines()) + 1
    swapped = corrupt_text("a >= 1 && b == 2", rng, "swap_operator")
    assert swapped.text != "a >= 1 && b == 2"
    assert sorted(swapped.text.split()[::2]) == ["1", "2", "a", "b"]
    flipped = corrupt_text(POLICY, rng, "flip_bit")
    diff = [(x, y) for x, y in zip(POLICY, flipped.text, strict=True) if x != y]
    assert len(diff) == 1 and bin(ord(diff[0][0]) ^ ord(diff[0][1])).count("1") == 1
    number = corrupt_text("SampleRate: 10\n", rng, "change_number")
    assert number.text != "SampleRate: 10\n" and number.text.startswith("SampleRate: ")
    assert number.detail.startswith("line 1: '10' -> ")


def test_yaml_operators_swap_within_their_family() -> None:
    seen = set()
    for step in range(40):
        done = corrupt_text(RULES, RngFamily("c", 3).generator(step), "swap_operator")
        seen.add(done.detail.split(": ", 1)[1])
    assert "'>=' -> '<='" in seen or "'>=' -> '>'" in seen


def test_kinds_with_nothing_to_act_on_fall_back_to_a_flip() -> None:
    rng = RngFamily("c", 4).generator(0)
    done = corrupt_text("plain words", rng, "change_number")
    assert done.kind == "flip_bit" and done.text != "plain words"
    assert corrupt_text("", rng, "truncate").text != ""
    with pytest.raises(ValueError, match="unknown text corruption"):
        corrupt_text("x", rng, "explode")


@pytest.mark.parametrize("kind", BYTE_CORRUPTIONS)
def test_byte_corruptions(kind: str) -> None:
    data = RULES.encode()
    for step in range(20):
        a = corrupt_bytes(data, RngFamily("c", 5).generator(step), kind)
        assert a == corrupt_bytes(data, RngFamily("c", 5).generator(step), kind)
        assert a != data
    invalid = 0
    for step in range(50):
        blob = corrupt_bytes(data, RngFamily("c", 6).generator(step), "insert_bytes")
        try:
            blob.decode("utf-8")
        except UnicodeDecodeError:
            invalid += 1
    assert invalid > 20  # produces undecodable files for the loaders to reject
