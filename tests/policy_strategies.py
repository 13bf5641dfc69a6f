"""Hypothesis strategies for policies and match expressions (shared by the round-trip tests)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import strategies as st

from pytest_nectar.policy.model import (
    SAMPLER_PARAMETERS,
    And,
    AvgDynamic,
    CommentLine,
    Condition,
    Datatype,
    Deterministic,
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
    PolicyComments,
    Rule,
    Sample,
    SamplerParam,
    SpanScope,
    Throughput,
    TotalThroughput,
    WindowedThroughput,
)

KEYWORDS = {
    "and", "or", "not", "in", "exists", "contains", "matches", "true", "false", "span",
    "has_root", "first", "as", "keep", "drop", "sample", "throughput", "dynamic", "by",
    "deterministic", "avg_dynamic", "windowed_throughput", "total_throughput",
    "not-in", "not-exists", "does-not-contain", "starts-with",
}  # fmt: skip

plain_names = st.one_of(
    st.sampled_from(["duration", "http.status", "root.http.status", "descendants", "root.x"]),
    st.from_regex(r"[a-z][a-z0-9_]{0,5}(\.[a-z0-9_\-]{1,4}){0,2}", fullmatch=True).filter(
        lambda n: n not in KEYWORDS and not n.startswith("root.")
    ),
)
safe_text = st.text(
    st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Zl", "Zp"),
        exclude_characters="\r\n\x85\x1c\x1d\x1e\x0b\x0c",
    ),
    max_size=12,
)
field_names = st.one_of(
    st.builds(FieldName, plain_names, st.just(False)),
    st.builds(FieldName, safe_text, st.just(True)),
)
field_refs = st.one_of(
    st.builds(lambda p: FieldRef((p,)), field_names),
    st.lists(field_names, min_size=2, max_size=3).map(lambda ps: FieldRef(tuple(ps))),
)
durations = st.builds(
    lambda n, unit: Duration(Decimal(n).normalize(), unit),
    st.one_of(st.integers(0, 10**6).map(str), st.decimals(0, 1000, places=2).map(str)),
    st.sampled_from(["ns", "us", "ms", "s", "m", "h"]),
)
scalars = st.one_of(
    st.text(max_size=10),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    durations,
)
literals = st.builds(Literal, scalars)
datatypes = st.sampled_from([None, Datatype.STRING, Datatype.INT, Datatype.FLOAT, Datatype.BOOL])
lists = st.one_of(
    st.lists(st.builds(Literal, st.integers(-5, 5)), max_size=3),
    st.lists(st.builds(Literal, st.text(max_size=4)), max_size=3),
).map(lambda items: ListLiteral(tuple(items)))

comparison_ops = st.sampled_from([op for op in Operator if op.is_comparison or op.is_string_match])
conditions = st.one_of(
    st.builds(Condition, field_refs, comparison_ops, literals, datatypes),
    st.builds(
        Condition, field_refs, st.sampled_from([Operator.IN, Operator.NOT_IN]), lists, datatypes
    ),
    st.builds(
        Condition,
        field_refs,
        st.sampled_from([Operator.EXISTS, Operator.NOT_EXISTS]),
        st.none(),
        st.none(),
    ),
)
atoms = st.one_of(conditions, st.builds(HasRootSpan, st.booleans()), st.just(MatchAll()))


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(Not, children),
        st.builds(And, many),
        st.builds(Or, many),
        st.builds(SpanScope, children),
    )


exprs: st.SearchStrategy[Expr] = st.recursive(atoms, _extend, max_leaves=6)

param_values = st.builds(
    Literal,
    st.one_of(
        st.integers(-100, 10**6),
        st.floats(0, 10, allow_nan=False),
        st.booleans(),
        durations,
    ),
)
params = st.lists(
    st.builds(SamplerParam, st.sampled_from(sorted(SAMPLER_PARAMETERS)), param_values), max_size=2
).map(tuple)
keys = st.lists(
    st.builds(KeyField, st.one_of(plain_names, safe_text.filter(bool))), max_size=3
).map(tuple)
actions = st.one_of(
    st.builds(Keep),
    st.builds(Drop),
    st.builds(
        lambda p: Sample(probability=Decimal(p).normalize()),
        st.sampled_from(["0.01", "0.5", "1", "0.25", "0.001", "0.7"]),
    ),
    st.builds(lambda n: Sample(denominator=n), st.integers(1, 10**6)),
    st.builds(Throughput, st.integers(1, 10**5), keys, params),
    st.builds(Dynamic, st.integers(1, 1000), keys, params),
    st.builds(AvgDynamic, st.integers(1, 1000), keys, params),
    st.builds(WindowedThroughput, st.integers(1, 10**5), keys, params),
    st.builds(TotalThroughput, st.integers(1, 10**5), keys, params),
)
names = safe_text.filter(lambda s: s.strip() != "")
#: A policy's environment sampler, any kind (parameters any, the round trip is syntactic).
environment_samplers = st.one_of(
    st.builds(Deterministic, st.integers(1, 10**6)),
    st.builds(AvgDynamic, st.integers(1, 1000), keys, params),
    st.builds(Dynamic, st.integers(1, 1000), keys, params),
    st.builds(Throughput, st.integers(1, 10**5), keys, params),
    st.builds(WindowedThroughput, st.integers(1, 10**5), keys, params),
    st.builds(TotalThroughput, st.integers(1, 10**5), keys, params),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(0, 4))
    priorities = draw(st.lists(st.integers(-5, 300), min_size=count, max_size=count, unique=True))
    rule_names = draw(st.lists(names, min_size=count, max_size=count, unique=True))
    rules = [
        Rule(
            name=rule_names[i],
            description=draw(st.one_of(st.none(), names)),
            match=draw(exprs),
            action=draw(actions),
            priority=priorities[i],
        )
        for i in range(count)
    ]
    rules.sort(key=lambda r: -r.priority)
    return Policy(
        version=1,
        name=draw(names),
        rules=tuple(rules),
        budget_per_second=draw(st.one_of(st.none(), st.integers(1, 10**7))),
        environment=draw(st.one_of(st.none(), names)),
        error=draw(st.one_of(st.none(), exprs)),
        must_keep=draw(st.one_of(st.none(), st.lists(exprs, max_size=3).map(tuple))),
        check_nested_fields=draw(st.one_of(st.none(), st.booleans())),
    )


@st.composite
def sampler_policies(draw: st.DrawFn) -> Policy:
    """A policy whose environment uses one sampler and no rules."""
    return Policy(
        version=1,
        name=draw(names),
        rules=(),
        budget_per_second=draw(st.one_of(st.none(), st.integers(1, 10**7))),
        environment=draw(st.one_of(st.none(), names)),
        error=draw(st.one_of(st.none(), exprs)),
        must_keep=draw(st.one_of(st.none(), st.lists(exprs, max_size=3).map(tuple))),
        sampler=draw(environment_samplers),
    )


# --- comments ---------------------------------------------------------------------------

comment_lines = st.one_of(
    st.just(CommentLine("")),
    st.text(
        st.characters(codec="utf-8", exclude_characters="\r\n"),  # utf-8: no surrogates
        max_size=15,
    ).map(lambda t: CommentLine("#" + t)),
)
commentaries = st.lists(comment_lines, max_size=4).map(tuple)


@st.composite
def commented_policies(draw: st.DrawFn) -> Policy:
    """A policy with comment and blank lines above the header, each set field, each row."""
    policy = draw(policies())
    fields = [name for name, _ in _set_fields(policy)]
    return replace(
        policy,
        rules=tuple(replace(r, comments=draw(commentaries)) for r in policy.rules),
        comments=PolicyComments(
            header=draw(commentaries),
            fields=tuple((name, draw(commentaries)) for name in fields),
            trailing=draw(commentaries),
        ),
    )


def _set_fields(policy: Policy) -> list[tuple[str, object]]:
    values = [
        ("version", policy.version),
        ("name", policy.name),
        ("budget_per_second", policy.budget_per_second),
        ("environment", policy.environment),
        ("error", policy.error),
        ("must_keep", policy.must_keep),
        ("check_nested_fields", policy.check_nested_fields),
        ("rules", policy.rules),
    ]
    return [(name, value) for name, value in values if value is not None]
