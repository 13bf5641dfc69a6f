"""Go value semantics: %v, conversions, untyped compare, regexp, deterministic SHA-1."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.refinery.deterministic import (
    DeterministicSamplerCrash,
    deterministic_sample,
)
from pytest_nectar.refinery.regex import GoRegexError, compile_go_regex
from pytest_nectar.refinery.values import (
    MIN_INT64,
    compare,
    format_float_f,
    format_g,
    go_v,
    parse_bool,
    parse_float,
    to_bool,
    to_float,
    to_int,
)
from pytest_nectar.trace import GoFloat32, GoInt, GoUint64


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (500.0, "500"),
        (2.5, "2.5"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.8, "1.2345678e+06"),
        (1234.5678e3, "1.2345678e+06"),
        (1.23456789e3, "1234.56789"),
        (0.0001, "0.0001"),
        (1e-05, "1e-05"),
        (-0.0, "-0"),
        (math.nan, "NaN"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (2000000.0, "2e+06"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
    ],
)
def test_go_v_float(value: float, text: str) -> None:
    assert go_v(value) == text


def test_go_v_other_types() -> None:
    assert go_v(None) == "<nil>"
    assert go_v(True) == "true"
    assert go_v(-7) == "-7"
    assert go_v(GoUint64(18446744073709551615)) == "18446744073709551615"
    assert go_v(["a", 1, 2.0, None]) == "[a 1 2 <nil>]"
    assert go_v({"b": 1, "a": "x"}) == "map[a:x b:1]"
    assert go_v(GoFloat32(0.1)) == "0.1"
    assert format_g(16777216.0, 32) == "1.6777216e+07"


def test_format_float_f() -> None:
    assert format_float_f(1e21) == "1000000000000000000000"
    assert format_float_f(2.5) == "2.5"
    assert format_float_f(1e-7) == "0.0000001"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_g_round_trips(x: float) -> None:
    assert float(format_g(x).replace("+", "")) == x


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (3.9, 3),
        (-2.5, -2),
        ("42", 42),
        ("+5", 5),
        ("-5", -5),
        ("3.0", None),
        (" 3", None),
        ("1_000", None),
        ("0x10", None),
        ("9223372036854775808", None),
        (True, None),
        (None, None),
        (GoUint64(3), None),
        (GoInt(3), 3),
        (math.nan, MIN_INT64),
    ],
)
def test_to_int(value: object, expected: int | None) -> None:
    assert to_int(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("0x1p-2", 0.25),
        ("0x1.8p1", 3.0),
        ("1_23.50_0_0e+1_2", 1.235e14),
        ("0x_1_2.3_4_5p+1_2", 74565.0),
        ("Inf", math.inf),
        ("-infinity", -math.inf),
        ("1e400", None),
        ("1__23.5e+12", None),
        ("123_.5e+12", None),
        ("0x1e2", None),
        (" 1", None),
        ("infin", None),
        ("+nan", None),
        ("", None),
        (".", None),
    ],
)
def test_parse_float(text: str, expected: float | None) -> None:
    assert parse_float(text) == expected


def test_parse_float_nan_and_to_float() -> None:
    got = parse_float("NaN")
    assert got is not None and math.isnan(got)
    assert to_float(3) == 3.0
    assert to_float(True) is None
    assert to_float(GoFloat32(1.5)) is None


def test_bools() -> None:
    assert [parse_bool(s) for s in ("1", "t", "TRUE", "True", "yes", "on")] == [
        True, True, True, True, None, None,
    ]  # fmt: skip
    assert to_bool(1) is True
    assert to_bool(0.5) is False
    assert to_bool(None) is False


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, None, 0),
        (None, 5, -1),
        (5, None, 1),
        (1, 2, -1),
        (3, 2.2, 1),
        (2.0, 2, 0),
        (math.nan, 5, 0),
        (False, True, -1),
        ("a", "b", -1),
        ("500", 500, None),
        (500, "500", None),
        (True, 1, None),
        (GoInt(1), 1, None),
        (GoUint64(1), 1, None),
        (GoFloat32(1.0), 1, None),
        (9007199254740993, 9007199254740992.0, 0),
    ],
)
def test_compare(a: object, b: object, expected: int | None) -> None:
    assert compare(a, b) == expected


def test_regex_is_go() -> None:
    assert compile_go_regex(r"^\d+$")("123") is True
    assert compile_go_regex(r"^\d+$")("123\n") is False  # Go's $ is end of text
    assert compile_go_regex(r"\d")("\u0663") is False  # ASCII \d
    assert compile_go_regex(r"b")("abc") is True  # unanchored search
    assert compile_go_regex(r"[[:alpha:]]+")("abc") is True
    for bad in (r"(a)\1", r"(?=a)", r"a++", r"[a-z+", r"\Z", r"\C", r"a{1001}"):
        with pytest.raises(GoRegexError):
            compile_go_regex(bad)


def test_deterministic_vectors() -> None:
    outcomes = {
        tid: deterministic_sample(tid, 10)[1]
        for tid in ("abc123", "def456", "ghi789", "zyx987", "wvu654", "tsr321", "")
    }
    assert outcomes == {
        "abc123": False, "def456": True, "ghi789": False, "zyx987": False,
        "wvu654": False, "tsr321": False, "": False,
    }  # fmt: skip
    assert deterministic_sample("abc123", 10)[2] == "deterministic/chance"
    assert deterministic_sample("x", 1) == (1, True, "deterministic/always", "")
    assert deterministic_sample("x", -3) == (1, True, "deterministic/always", "")
    with pytest.raises(DeterministicSamplerCrash):
        deterministic_sample("x", 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("9" * 4301, None),  # Atoi's range error; Python would refuse to convert it at all
        ("9" * 400, None),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("-" + "0" * 5000 + "42", -42),
    ],
)
def test_to_int_of_long_digit_strings_is_atoi(text: str, value: int | None) -> None:
    assert to_int(text) == value
