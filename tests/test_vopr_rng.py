from __future__ import annotations

import numpy as np
import pytest
from randomgen import ChaCha

from pytest_nectar.errors import UsageError
from pytest_nectar.vopr.rng import (
    RngFamily,
    format_seed,
    parse_seed,
    replay_command,
)


def test_same_name_same_numbers_and_any_part_changes_them() -> None:
    a = RngFamily("chaos", 42).generator(7, "traffic").random(8)
    assert np.array_equal(a, RngFamily("chaos", 42).generator(7, "traffic").random(8))
    for other in (
        RngFamily("chaos", 43).generator(7, "traffic"),
        RngFamily("storm", 42).generator(7, "traffic"),
        RngFamily("chaos", 42).generator(8, "traffic"),
        RngFamily("chaos", 42).generator(7, "faults"),
    ):
        assert not np.array_equal(a, other.random(8))


def test_stream_reposition_equals_fresh_generator() -> None:
    family = RngFamily("evolution", 0x2A)
    stream = family.stream("traffic")
    for step in (5, 0, 2**40, 5):
        got = stream.at(step).random(40)
        assert np.array_equal(got, family.generator(step, "traffic").random(40))
    # The documented construction: ChaCha with 8 rounds, counter at step << 64.
    ref = np.random.Generator(ChaCha(key=family.key("traffic"), counter=3 << 64, rounds=8))
    assert np.array_equal(stream.at(3).integers(0, 1000, 50), ref.integers(0, 1000, 50))


def test_steps_do_not_overlap_and_keys_are_framed() -> None:
    family = RngFamily("c", 1)
    raw = [family.generator(s).bit_generator.random_raw(64) for s in range(4)]
    assert len({int(x) for r in raw for x in r}) == 256
    assert RngFamily("ab", 1).key("c") != RngFamily("a", 1).key("bc")


def test_child_seed_is_deterministic() -> None:
    a = RngFamily("determinism", 9).child_seed(3, "policy")
    assert a == RngFamily("determinism", 9).child_seed(3, "policy")
    assert 0 <= a < 2**63


@pytest.mark.parametrize(
    ("text", "value"), [("0x2a", 42), ("42", 42), ("0X2A", 42), (" 7 ", 7), ("1_000", 1000)]
)
def test_parse_seed(text: str, value: int) -> None:
    assert parse_seed(text) == value


@pytest.mark.parametrize("text", ["", "-1", "0x", "4.2", "abc", "0x1" + "0" * 16])
def test_parse_seed_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_seed(text)


def test_parse_seed_message() -> None:
    with pytest.raises(UsageError) as info:
        parse_seed("forty")
    assert info.value.message == (
        "invalid seed; got 'forty'; write it in hex like 0x2a or in decimal like 42"
    )


def test_format_and_replay_line() -> None:
    assert format_seed(42) == "0x2a"
    assert parse_seed(format_seed(2**64 - 1)) == 2**64 - 1
    assert replay_command("chaos", 42) == "nectar vopr --campaign chaos --seed 0x2a"
    assert (
        replay_command("storm", 255, step=17, extra=("policy.toon", "--corpus", "my traces"))
        == "nectar vopr policy.toon --corpus 'my traces' --campaign storm --seed 0xff --step 17"
    )
    with pytest.raises(ValueError):
        format_seed(-1)
    with pytest.raises(ValueError):
        RngFamily("c", 1).generator(-1)


def test_streams_are_pinned() -> None:
    # Replay lines printed today must replay tomorrow and on any machine: the derivation
    # (blake2b key, ChaCha8, counter step << 64) is part of the format.
    family = RngFamily("chaos", 42)
    assert family.key("traffic") == int(
        "22943629738705248565879601340270641122342838911152982289850686544309953205395"
    )
    assert family.generator(3, "traffic").bit_generator.random_raw(3).tolist() == [
        4995727958687572325,
        9636273069232354861,
        13591130869211554201,
    ]


@pytest.mark.parametrize("way", ["memory", "state", "seed"])
def test_every_seek_way_gives_the_fresh_generators_numbers(
    way: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_nectar.vopr import rng

    monkeypatch.setattr(rng, "_fast_seek", way)
    family = RngFamily("chaos", 7)
    stream = family.stream("faults")
    stream.at(3).random(5)  # leave a half-used block behind
    for step in (0, 1, 2**32 + 5, 2**64 - 1):
        got = stream.at(step).integers(0, 1000, size=37)
        assert np.array_equal(got, family.generator(step, "faults").integers(0, 1000, size=37))


def test_the_fast_seek_is_chosen_only_when_it_checks_out() -> None:
    from pytest_nectar.vopr import rng

    assert rng._choose_seek() in ("memory", "state", "seed")
    with pytest.raises(ValueError):
        RngFamily("chaos", 7).stream("x").at(-1)
