"""Hypothesis strategies for the compiler's differential tests: compilable policies over a
small field vocabulary, and traces whose spans hit those fields with mixed types."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import strategies as st

from pytest_nectar.policy.model import (
    And,
    AvgDynamic,
    Condition,
    Datatype,
    Drop,
    Duration,
    Dynamic,
    Expr,
    FieldName,
    FieldRef,
    HasRootSpan,
    Keep,
    KeyField,
    ListLiteral,
    Literal,
    MatchAll,
    Not,
    Operator,
    Or,
    Policy,
    Rule,
    Sample,
    SpanScope,
    Throughput,
    TotalThroughput,
    WindowedThroughput,
    infer_datatype,
)
from pytest_nectar.trace import Span, Trace

FIELDS = ("a", "b", "error", "duration_ms", "http.status_code", "http.response.status_code")
#: every value a generated span field may hold (mixed Go types, as Refinery sees them)
VALUES: tuple[object, ...] = (
    None,
    True,
    False,
    0,
    2,
    3,
    500,
    503,
    -1,
    0.5,
    2.0,
    500.0,
    1000.5,
    2.7,
    float("nan"),
    "a",
    "",
    "500",
    "2",
    "x y",
    "true",
    "3.0",
    "tru",
    "a5",
    "t",
    "<nil>",
    {"b": "a"},
    {"b": 2},
)

_refs = st.sampled_from(
    [
        FieldRef((FieldName("a"),)),
        FieldRef((FieldName("b"),)),
        FieldRef((FieldName("error"),)),
        FieldRef((FieldName("root.a"),)),
        FieldRef((FieldName("http.status"),)),
        FieldRef((FieldName("duration"),)),
        FieldRef((FieldName("descendants"),)),
        FieldRef((FieldName("a"), FieldName("b"))),
        FieldRef((FieldName("root.b"), FieldName("a"))),
        FieldRef((FieldName("http.status_code", verbatim=True),)),
        FieldRef((FieldName("a.b"),)),
        FieldRef((FieldName("b.b"), FieldName("root.a.b"))),
    ]
)
_scalars = st.sampled_from(
    [
        -1,
        0,
        2,
        3,
        500,
        503,
        0.5,
        2.0,
        500.0,
        -1.5,
        "a",
        "",
        "500",
        "2",
        "x y",
        "<nil>",
        "true",
        True,
        False,
        Duration(Decimal(1), "s"),
    ]
)
_compare_ops = st.sampled_from([op for op in Operator if op.is_comparison])
_string_ops = st.sampled_from(
    [Operator.CONTAINS, Operator.DOES_NOT_CONTAIN, Operator.STARTS_WITH, Operator.MATCHES]
)
_datatypes = st.sampled_from([None, Datatype.STRING, Datatype.INT, Datatype.FLOAT, Datatype.BOOL])


@st.composite
def _comparison(draw: st.DrawFn) -> Condition:
    op = draw(_compare_ops)
    lit = Literal(draw(_scalars))
    infer = draw(st.booleans())
    dt = infer_datatype(op, lit) if infer else draw(_datatypes)
    return Condition(draw(_refs), op, lit, dt)


@st.composite
def _string_match(draw: st.DrawFn) -> Condition:
    op = draw(_string_ops)
    text = draw(st.sampled_from(["a", "", "5", "<", "^x", "0$", "[0-9]+", "tru"]))
    return Condition(draw(_refs), op, Literal(text), None)


@st.composite
def _membership(draw: st.DrawFn) -> Condition:
    op = draw(st.sampled_from([Operator.IN, Operator.NOT_IN]))
    items = draw(
        st.one_of(
            st.lists(st.sampled_from([2, 200, 500, -1]), min_size=1, max_size=3),
            st.lists(st.sampled_from(["a", "500", "", "2"]), min_size=1, max_size=3),
            st.lists(st.sampled_from([2.0, 0.5]), min_size=1, max_size=2),
        )
    )
    value = ListLiteral(tuple(Literal(i) for i in items))
    dt = draw(st.sampled_from([infer_datatype(op, value), None, Datatype.STRING]))
    return Condition(draw(_refs), op, value, dt)


_existence = st.builds(
    Condition, _refs, st.sampled_from([Operator.EXISTS, Operator.NOT_EXISTS]), st.none(), st.none()
)
conditions = st.one_of(_comparison(), _string_match(), _membership(), _existence)


def _combine(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(st.builds(And, many), st.builds(Or, many))


def _combine_not(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(_combine(children), st.builds(Not, children))


# `not` only where it can be exact: inside span(...), and around has_root at trace level.
_span_bodies = st.recursive(conditions, _combine_not, max_leaves=3)
_roots = st.builds(HasRootSpan, st.booleans())
_pairs = st.lists(_span_bodies, min_size=2, max_size=3).map(lambda ops: And(tuple(ops)))
_trace_atoms = st.one_of(
    conditions,
    conditions,
    _roots,
    st.builds(Not, _roots),
    st.builds(SpanScope, _span_bodies),
    st.builds(SpanScope, _pairs),
)
exprs: st.SearchStrategy[Expr] = st.one_of(
    _trace_atoms,
    st.just(MatchAll()),
    st.recursive(_trace_atoms, _combine, max_leaves=4),
)

_keys = st.lists(st.sampled_from(["a", "b", "root.a", "error"]), max_size=2, unique=True).map(
    lambda ks: tuple(KeyField(k) for k in ks)
)
actions = st.one_of(
    st.builds(Keep),
    st.builds(Drop),
    st.builds(lambda n: Sample(denominator=n), st.integers(1, 50)),
    st.builds(Throughput, st.sampled_from([1, 50]), _keys),
    st.builds(Dynamic, st.sampled_from([1, 20]), _keys),
    st.builds(AvgDynamic, st.sampled_from([1, 20]), _keys),
    st.builds(WindowedThroughput, st.sampled_from([1, 50]), _keys),
    st.builds(TotalThroughput, st.sampled_from([1, 50]), _keys),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    n = draw(st.integers(1, 4))
    prios = draw(st.lists(st.integers(0, 100), min_size=n, max_size=n, unique=True))
    rules = tuple(Rule(f"r{i}", None, draw(exprs), draw(actions), prios[i]) for i in range(n))
    return Policy(
        1, "p", rules, check_nested_fields=draw(st.sampled_from([None, False, True, True]))
    )


_values = st.sampled_from(VALUES)


@st.composite
def traces(draw: st.DrawFn) -> Trace:
    n = draw(st.integers(0, 4))
    spans = []
    for _ in range(n):
        keys = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=5, unique=True))
        data = {k: draw(_values) for k in keys}
        spans.append(Span(data, draw(st.booleans())))
    return Trace(draw(st.sampled_from(["", "abc123", "def456"])), tuple(spans))


def trace_bank(seed: int, count: int) -> list[Trace]:
    """``count`` seeded random traces (cheap extra traces for every generated policy)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        spans = []
        for _ in range(rng.randint(0, 5)):
            keys = rng.sample(FIELDS, rng.randint(1, len(FIELDS)))
            spans.append(Span({k: rng.choice(VALUES) for k in keys}, rng.random() < 0.3))
        out.append(Trace(f"t{seed}-{i}", tuple(spans)))
    return out
