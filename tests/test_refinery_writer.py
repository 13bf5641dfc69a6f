"""The writer: Refinery's style, byte-stable, and every written file reads back equal."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_nectar.refinery.rules_model import (
    Condition,
    DeterministicSamplerConfig,
    EMADynamicSamplerConfig,
    Rule,
    RulesBasedSamplerConfig,
    RulesFile,
    SamplerEntry,
)
from pytest_nectar.refinery.rules_reader import read_rules, read_rules_text
from pytest_nectar.refinery.rules_validate import validate_loaded
from pytest_nectar.refinery.rules_writer import format_scalar, write_rules
from tests.realdata import REALDATA, names

RULES_DIR = REALDATA / "refinery-rules"


@pytest.mark.parametrize("name", names("*", "refinery-rules"))
def test_real_files_round_trip(name: str, realdata: Path) -> None:
    loaded = read_rules(RULES_DIR / name)
    text = write_rules(loaded.rules_file)
    again = read_rules_text(text, "w.yaml")
    assert again.rules_file == loaded.rules_file
    assert write_rules(again.rules_file) == text


EXPECTED = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: keep errors
          SampleRate: 1
          Conditions:
            - Fields:
                - http.response.status_code
                - http.status_code
              Operator: '>='
              Value: 500
              Datatype: int
        - Name: rest
          Sampler:
            EMADynamicSampler:
              GoalSampleRate: 10
              FieldList:
                - service.name
          Scope: span
          Conditions: []
  a-env:
    DeterministicSampler:
      SampleRate: 5
  b-env:
    DeterministicSampler:
      SampleRate: 1
"""


def test_style_and_order() -> None:
    rules = RulesFile(
        2,
        {
            "b-env": SamplerEntry((DeterministicSamplerConfig(1),)),
            "__default__": SamplerEntry(
                (
                    RulesBasedSamplerConfig(
                        rules=(
                            Rule(
                                name="keep errors",
                                sample_rate=1,
                                conditions=(
                                    Condition(
                                        fields=("http.response.status_code", "http.status_code"),
                                        operator=">=",
                                        value=500,
                                        datatype="int",
                                    ),
                                ),
                            ),
                            Rule(
                                name="rest",
                                scope="span",
                                conditions=(),
                                sampler=SamplerEntry(
                                    (
                                        EMADynamicSamplerConfig(
                                            goal_sample_rate=10, field_list=("service.name",)
                                        ),
                                    )
                                ),
                            ),
                        )
                    ),
                )
            ),
            "a-env": SamplerEntry((DeterministicSamplerConfig(5),)),
        },
    )
    text = write_rules(rules)
    assert text == EXPECTED
    loaded = read_rules_text(text, "w.yaml")
    assert loaded.rules_file == rules
    assert validate_loaded(loaded).ok


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("=", '"="'),
        ("yes", "yes"),
        ("true", '"true"'),
        ("500", '"500"'),
        ("1m30s", "1m30s"),
        ("", '""'),
        ("a: b", '"a: b"'),
        ("x\ny", '"x\\ny"'),
        (1.0, "1.0"),
        (1e16, "1e+16"),
        (True, "true"),
    ],
)
def test_format_scalar(value: object, text: str) -> None:
    assert format_scalar(value) == text


scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.text(max_size=20),
    field=st.text(min_size=1, max_size=15),
    op=st.sampled_from(["=", "!=", "<", "in", "matches", "exists"]),
    value=st.one_of(scalars, st.lists(st.text(max_size=5), max_size=3).map(tuple)),
    datatype=st.sampled_from([None, "int", "string"]),
    rate=st.one_of(st.none(), st.integers(-5, 1000)),
)
def test_round_trip_any_condition(
    name: str, field: str, op: str, value: object, datatype: str | None, rate: int | None
) -> None:
    cond = Condition(field=field, operator=op, value=value, datatype=datatype)  # type: ignore[arg-type]
    rules = RulesFile(
        2,
        {
            "__default__": SamplerEntry(
                (
                    RulesBasedSamplerConfig(
                        rules=(Rule(name=name, sample_rate=rate, conditions=(cond,)),)
                    ),
                )
            )
        },
    )
    text = write_rules(rules)
    assert read_rules_text(text, "w.yaml").rules_file == rules
