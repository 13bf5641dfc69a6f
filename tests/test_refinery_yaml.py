"""yaml.v3 scalar resolution, positions and reading of every rules format."""

# ruff: noqa: E501  (verbatim messages and inline rules files)
from __future__ import annotations

import math

import pytest

from pytest_nectar.errors import RulesError
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.values import GoInt64
from pytest_nectar.refinery.yaml_loader import load_yaml, resolve_plain
from pytest_nectar.trace import GoUint64


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("=", "="),
        ("yes", "yes"),
        ("on", "on"),
        ("No", "No"),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("tRUE", "tRUE"),
        ("~", None),
        ("null", None),
        ("", None),
        ("12", 12),
        ("+12", 12),
        ("-12", -12),
        ("1_000", 1000),
        ("0x1F", 31),
        ("0o17", 15),
        ("0b101", 5),
        ("0777", 511),
        ("08", 8.0),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("1:20", "1:20"),
        ("2001-12-14", "2001-12-14"),
        ("9223372036854775808", GoUint64(9223372036854775808)),
        ("99999999999999999999", 1e20),
        ("1m30s", "1m30s"),
        ("0x1p3", "0x1p3"),
        ("NaN", "NaN"),
        (".inf", math.inf),
        ("-.INF", -math.inf),
    ],
)
def test_resolve_plain_like_yaml_v3(text: str, value: object) -> None:
    got = resolve_plain(text)
    assert got == value
    assert type(got) is type(value)


def test_nan_and_quoted() -> None:
    got = resolve_plain(".nan")
    assert isinstance(got, float) and math.isnan(got)
    node = load_yaml("a: '1'\nb: \"true\"\nc: !!str 5\nd: 5\n", "x.yaml")
    assert node is not None
    assert node.to_python() == {"a": "1", "b": "true", "c": "5", "d": 5}


def test_positions_of_every_node() -> None:
    node = load_yaml("Samplers:\n  env:\n    - x\n    - {a: =}\n", "x.yaml")
    assert node is not None
    samplers = node.get("Samplers")
    assert samplers is not None
    env = samplers.get("env")
    assert env is not None
    assert str(env.position) == "x.yaml:3:5"
    assert [str(i.position) for i in env.items] == ["x.yaml:3:7", "x.yaml:4:7"]
    assert env.items[1].to_python() == {"a": "="}


def test_merge_keys_and_empty() -> None:
    node = load_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n", "x.yaml")
    assert node is not None
    assert node.to_python()["c"] == {"y": 3, "x": 1}
    assert load_yaml("", "x.yaml") is None
    assert load_yaml("# only a comment\n", "x.yaml") is None


def test_model_from_each_format() -> None:
    yaml_text = "RulesVersion: 2\nSamplers:\n  __default__:\n    DeterministicSampler:\n      SampleRate: 3\n"
    json_text = '{"RulesVersion": 2, "Samplers": {"__default__": {"DeterministicSampler": {"SampleRate": 3}}}}'
    toml_text = "RulesVersion = 2\n[Samplers.__default__.DeterministicSampler]\nSampleRate = 3\n"
    y = read_rules_text(yaml_text, "r.yaml", "yaml")
    j = read_rules_text(json_text, "r.json", "json")
    t = read_rules_text(toml_text, "r.toml", "toml")
    assert y.rules_file.rules_version == 2
    assert (
        y.rules_file.samplers["__default__"].select()
        == t.rules_file.samplers["__default__"].select()
    )
    assert j.root is not None and j.root.to_python()["RulesVersion"] == 2.0
    assert type(j.root.to_python()["RulesVersion"]) is float
    assert t.root is not None and type(t.root.to_python()["RulesVersion"]) is GoInt64
    # JSON numbers are float64: SampleRate 3.0 does not fit Refinery's int field.
    assert j.rules_file.samplers["__default__"].select().params() == {}  # type: ignore[union-attr]


# Hostile input (issue 19): each ends in a located RulesError, quickly and in bounded memory.


def _alias_bomb(levels: int) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "RulesVersion: 2\n" + "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_like_yaml_v3() -> None:
    text = _alias_bomb(9)
    assert len(text) < 600
    with pytest.raises(RulesError) as info:
        load_yaml(text, "bomb.yaml")
    assert info.value.message == (
        "bomb.yaml:5:20: document contains excessive aliasing; "
        "Refinery's YAML decoder refuses it too; write the values out or use fewer aliases"
    )


def test_moderate_aliasing_is_decoded() -> None:
    # yaml.v3 allows aliasing in small documents: 3 levels expand to 1,000 scalars.
    node = load_yaml(_alias_bomb(2), "ok.yaml")
    assert node is not None
    l2 = node.get("l2")
    assert l2 is not None and len(l2.items) == 10 and len(l2.items[0].items) == 10


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(RulesError) as info:
        load_yaml("a: &a [1, *a]\n", "r.yaml")
    assert info.value.message == (
        "r.yaml:1:11: anchor 'a' value contains itself; "
        "Refinery's YAML decoder refuses it too; write the values out or use fewer aliases"
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("RulesVersion: 2\n# a comment \x01 here\nSamplers: {}\n", "c.yaml:2:13"),
        ("a: \x1b[2J\n", "c.yaml:1:4"),
    ],
)
def test_control_characters_are_located(text: str, where: str) -> None:
    with pytest.raises(RulesError) as info:
        load_yaml(text, "c.yaml")
    assert info.value.message.startswith(f"{where}: control characters are not allowed; got ")
    assert info.value.message.endswith(
        "; remove the character (Refinery's YAML decoder refuses it)"
    )


@pytest.mark.parametrize("depth", [201, 1000, 20000])
def test_deep_yaml_is_refused_with_a_location(depth: int) -> None:
    with pytest.raises(RulesError) as info:
        load_yaml("X: " + "[" * depth + "]" * depth + "\n", "d.yaml")
    assert info.value.message == (
        "d.yaml:1:103: YAML nesting is too deep; got 101; "
        "Nectar reads rules files nested at most 100 levels deep"
    )


def test_block_yaml_nesting_is_refused_too() -> None:
    text = "".join("  " * i + "- \n" for i in range(300)) + "  " * 300 + "- 1\n"
    with pytest.raises(RulesError, match="YAML nesting is too deep"):
        load_yaml(text, "d.yaml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("9" * 4301, "9" * 4301),  # beyond int64, uint64 and float64: a string, as in yaml.v3
        ("1e400", "1e400"),  # ParseFloat's range error: yaml.v3 keeps the string
        ("0" * 5000 + "17", 15),  # leading zeros: octal, as Go's ParseInt(s, 0, 64)
        ("0x" + "0" * 5000 + "1f", 31),
        ("-" + "9" * 4301, "-" + "9" * 4301),
    ],
)
def test_huge_numbers_resolve_like_yaml_v3(text: str, value: object) -> None:
    assert resolve_plain(text) == value


@pytest.mark.parametrize(
    ("fmt", "text", "where"),
    [
        ("json", '{"RulesVersion": 2, "X": ' + "[" * 1000 + "]" * 1000 + "}", "d.json:1:125"),
        ("json", '{"X": ' + "[" * 150 + "]" * 150 + "}", "d.json:1:106"),
        ("toml", "RulesVersion = 2\nX = " + "[" * 1000 + "]" * 1000 + "\n", "d.json:2:105"),
        ("toml", "X = " + "[" * 150 + "]" * 150 + "\n", "d.json:1:105"),
    ],
)
def test_deep_json_and_toml_are_refused_with_a_location(fmt: str, text: str, where: str) -> None:
    with pytest.raises(RulesError) as info:
        read_rules_text(text, "d.json", fmt)
    assert info.value.message == (
        f"{where}: nesting is too deep; got 101; "
        "Nectar reads rules files nested at most 100 levels deep"
    )


def test_toml_integers_beyond_int64_are_refused() -> None:
    with pytest.raises(RulesError) as info:
        read_rules_text("RulesVersion = 2\nX = " + "9" * 4301 + "\n", "r.toml", "toml")
    assert info.value.message == (
        "r.toml:2:5: TOML integer out of range for int64; got '99999999999999999999... "
        "(4301 digits)'; Refinery reads TOML integers as int64"
    )
    with pytest.raises(RulesError, match="out of range for int64; got 9223372036854775808"):
        read_rules_text("X = 9223372036854775808\n", "r.toml", "toml")


def test_huge_json_numbers_are_floats_as_in_go() -> None:
    # encoding/json decodes a number into float64; beyond its range is Go's unmarshal error.
    with pytest.raises(RulesError, match="cannot unmarshal number"):
        read_rules_text('{"RulesVersion": ' + "9" * 4301 + "}", "r.json", "json")


def test_an_alias_may_be_a_key() -> None:
    node = load_yaml("a: &k Name\n*k : x\n", "k.yaml")
    assert node is not None and node.to_python() == {"a": "Name", "Name": "x"}
