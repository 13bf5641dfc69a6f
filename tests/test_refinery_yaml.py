"""yaml.v3 scalar resolution, positions and reading of every rules format."""

# ruff: noqa: E501  (verbatim messages and inline rules files)
from __future__ import annotations

import math

import pytest

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
