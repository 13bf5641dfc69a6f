from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from pytest_nectar.errors import Position
from pytest_nectar.policy.aliases import ALIASES, resolve_field
from pytest_nectar.policy.model import (
    DEFAULT_ENVIRONMENT,
    Condition,
    Datatype,
    Duration,
    FieldName,
    FieldRef,
    Keep,
    ListLiteral,
    Literal,
    Operator,
    Policy,
    Rule,
    Sample,
    infer_datatype,
    refinery_value,
)


@pytest.mark.parametrize(
    ("name", "names"),
    [
        ("duration", ("duration_ms",)),
        ("root.duration", ("root.duration_ms",)),
        ("http.status", ("http.response.status_code", "http.status_code")),
        ("root.http.status", ("root.http.response.status_code", "root.http.status_code")),
        ("descendants", ("?.NUM_DESCENDANTS",)),
        ("http.route", ("http.route",)),
        ("root.", ("root.",)),
        ("durations", ("durations",)),
    ],
)
def test_alias_table(name: str, names: tuple[str, ...]) -> None:
    assert resolve_field(name) == names


def test_alias_table_is_the_documented_one() -> None:
    assert sorted(ALIASES) == ["descendants", "duration", "http.status"]


def test_backquoted_names_are_never_aliased() -> None:
    assert FieldName("duration", verbatim=True).names == ("duration",)
    ref = FieldRef((FieldName("a"), FieldName("http.status")))
    assert ref.names == ("a", "http.response.status_code", "http.status_code")


def test_positions_do_not_take_part_in_equality() -> None:
    a = Literal(5, Position("a", 1, 1))
    b = Literal(5, Position("b", 9, 9))
    assert a == b and hash(a) == hash(b)


def test_literals_compare_by_type_and_value() -> None:
    assert Literal(1) != Literal(1.0)
    assert Literal(1) != Literal(True)
    assert Literal("1") != Literal(1)
    assert len({Literal(1), Literal(1.0), Literal(True)}) == 3


def test_nodes_are_frozen_and_slotted() -> None:
    lit = Literal(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lit.value = 2  # type: ignore[misc]
    assert not hasattr(lit, "__dict__")


@pytest.mark.parametrize(
    ("op", "value", "datatype"),
    [
        (Operator.EQ, Literal(1), Datatype.INT),
        (Operator.GT, Literal(1.5), Datatype.FLOAT),
        (Operator.GT, Literal(Duration(Decimal(5), "s")), Datatype.FLOAT),
        (Operator.NE, Literal("x"), Datatype.STRING),
        (Operator.EQ, Literal(True), Datatype.BOOL),
        (Operator.IN, ListLiteral((Literal(1),)), Datatype.INT),
        (Operator.IN, ListLiteral(()), Datatype.STRING),
        (Operator.CONTAINS, Literal("x"), None),
        (Operator.EXISTS, None, None),
    ],
)
def test_infer_datatype(
    op: Operator, value: Literal | ListLiteral | None, datatype: Datatype | None
) -> None:
    assert infer_datatype(op, value) is datatype


def test_durations_are_float_milliseconds() -> None:
    assert Duration(Decimal("1.5"), "s").milliseconds == 1500.0
    assert Duration(Decimal(100), "us").milliseconds == 0.1
    assert Duration(Decimal(2), "h").milliseconds == 7_200_000.0
    assert Duration(Decimal("1E+1"), "s").go_string() == "10s"
    assert refinery_value(Literal(Duration(Decimal(5), "s"))) == 5000.0
    assert refinery_value(ListLiteral((Literal(1), Literal(2)))) == [1, 2]


@pytest.mark.parametrize(
    ("sample", "rate"),
    [
        (Sample(probability=Decimal("0.01")), 100),
        (Sample(probability=Decimal("1")), 1),
        (Sample(probability=Decimal("0.33")), 3),
        (Sample(probability=Decimal("0.7")), 1),
        (Sample(denominator=7), 7),
    ],
)
def test_sample_rate(sample: Sample, rate: int) -> None:
    assert sample.sample_rate == rate
    assert sample.rate == 1 / rate


def test_policy_defaults() -> None:
    ref = FieldRef((FieldName("http.status"),))
    match = Condition(ref, Operator.GE, Literal(500), Datatype.INT)
    policy = Policy(version=1, name="p", rules=(Rule("r", None, match, Keep(), 0),))
    assert policy.effective_environment == DEFAULT_ENVIRONMENT == "__default__"
    assert policy.error is None  # the default criteria: tests/test_error_criteria.py
    assert policy.position_of("name") == policy.position


def test_conditions_are_walked_in_the_order_written() -> None:
    from pytest_nectar.policy.match_parser import parse_match
    from pytest_nectar.policy.model import conditions

    expr = parse_match(
        "not (a = 1) and span(b > 2 and has_root) or default_errors or c exists",
        position=Position("x"),
    )
    assert [c.field.names[0] for c in conditions(expr)][:2] == ["a", "b"]
    every = [c.field.names[0] for c in conditions(expr)]
    assert every[-1] == "c" and len(every) > 4  # the default error criteria's own fields
    assert [c.field.names[0] for c in conditions(expr, labelled=False)] == ["a", "b", "c"]
