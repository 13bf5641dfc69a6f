"""The last corners of exactness: router metadata, Value lists of any type, gjson paths,
``--no-validate``.  Each class has regression cases and a differential Hypothesis test
between the reference evaluator, the vectorised one and the prover."""

# ruff: noqa: E501  (verbatim messages and inline rules files)
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_nectar.cli import main
from pytest_nectar.errors import NectarError, RulesError
from pytest_nectar.prover.solver import Shape, Solver
from pytest_nectar.refinery.conditions import compile_condition
from pytest_nectar.refinery.gjson import GjsonUnsupported, get, validate_path
from pytest_nectar.refinery.reference import Evaluator
from pytest_nectar.refinery.rules_decode import go_decode
from pytest_nectar.refinery.rules_model import (
    Condition,
    Rule,
    RulesBasedSamplerConfig,
    RulesFile,
    SamplerEntry,
)
from pytest_nectar.refinery.rules_reader import build_rules_file, read_rules_text
from pytest_nectar.refinery.rules_validate import validate_loaded
from pytest_nectar.refinery.rules_writer import write_rules
from pytest_nectar.refinery.values import GoMap
from pytest_nectar.refinery.vector import evaluate_corpus
from pytest_nectar.trace import Span, Trace
from tests.test_vector import rules_files, traces
from tests.vector_support import corpus_from_traces


def _rules(*rules: Rule, nested: bool = False) -> RulesFile:
    sampler = RulesBasedSamplerConfig(rules=rules, check_nested_fields=nested)
    return RulesFile(2, {"__default__": SamplerEntry((sampler,))})


def _one(cond: Condition, scope: str | None = None, nested: bool = False) -> RulesFile:
    return _rules(Rule("m", sample_rate=1, scope=scope, conditions=(cond,)), nested=nested)


def _matches(rf: RulesFile, trace: Trace) -> bool:
    return Evaluator(rf).decide(trace).rule_index == 0


def assert_same(rules_file: RulesFile, traces: list[Trace]) -> None:
    corpus = corpus_from_traces(traces)
    evaluator = Evaluator(rules_file)
    try:
        wanted = [evaluator.decide(corpus.trace(i)) for i in range(corpus.n_traces)]
    except NectarError as err:
        with pytest.raises(NectarError) as raised:
            evaluate_corpus(rules_file, corpus)
        assert str(raised.value) == str(err)
        return
    decisions = evaluate_corpus(rules_file, corpus)
    for i, expected in enumerate(wanted):
        assert decisions.decision(i) == expected, (i, corpus.trace(i))


def assert_solver_sound(rules: list[Rule], traces: list[Trace]) -> None:
    """The prover's answer for "can the last rule decide?" agrees with the traces."""
    evaluator = Evaluator(_rules(*rules))
    shapes = [
        Shape.of(r.name, r.scope, tuple(compile_condition(c) for c in r.conditions or ()))
        for r in rules
    ]
    last = len(shapes) - 1
    out = Solver(shapes).find([shapes[last]], shapes[:last])
    if out.trace is not None:
        assert evaluator.decide(out.trace).rule_index == last, out.trace
        return
    if out.exact:
        for trace in traces:
            assert evaluator.decide(trace).rule_index != last, (rules, trace)


# --- 1. router metadata ----------------------------------------------------------------------


def test_meta_refinery_root_is_the_root_status_without_a_literal_field() -> None:
    rf = _one(Condition("meta.refinery.root", None, "=", True), scope="span")
    root = Span({"trace.trace_id": "t"}, True)
    child = Span({"trace.trace_id": "t", "trace.parent_id": "p"}, False)
    assert _matches(rf, Trace("t", (child, root)))
    assert not _matches(rf, Trace("t", (child,)))
    # a literal field in the event data is not what rules read (dedicated storage)
    assert not _matches(rf, Trace("t", (Span({"meta.refinery.root": True}, False),)))
    # false exists on every non-root span; a log has no root flag at all
    rf_false = _one(Condition("meta.refinery.root", None, "exists"))
    assert _matches(rf_false, Trace("t", (child,)))
    log = Span({"meta.signal_type": "log"}, False)
    assert not _matches(rf_false, Trace("t", (log,)))


def test_meta_trace_id_is_the_trace_id() -> None:
    rf = _one(Condition("meta.trace_id", None, "starts-with", "ab"))
    assert _matches(rf, Trace("abc", (Span({}, True),)))
    assert not _matches(rf, Trace("xbc", (Span({"meta.trace_id": "abc"}, True),)))
    assert_same(rf, [Trace("abc", (Span({}, True),)), Trace("zz", (Span({}, False),))])


def test_corpus_ingest_follows_the_router(tmp_path: Path) -> None:
    from pytest_nectar.corpus import load_corpus

    events = [
        {"trace.trace_id": "a", "name": "root"},
        {"trace.trace_id": "a", "name": "probe", "meta.refinery.probe": True},
        {"trace.trace_id": "b", "name": "not root", "meta.refinery.root": False},
        {"trace.trace_id": "c", "meta.trace_id": "d", "name": "grouped by meta.trace_id"},
    ]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    corpus = load_corpus([str(path)], cache_dir=tmp_path / "cache")
    assert corpus.trace_ids == ("a", "b", "d")
    assert [s.data["name"] for s in corpus.trace(0).spans] == ["root"]
    assert corpus.trace(0).root is not None and corpus.trace(1).root is None
    assert any("meta.refinery.probe" in s.reason for s in corpus.skipped)


META_FIELDS = ["meta.refinery.root", "root.meta.refinery.root", "meta.trace_id", "a"]
META_VALUES = st.sampled_from([True, False, "t1", "t", "x", 1, None])


@st.composite
def meta_conditions(draw: st.DrawFn) -> Condition:
    op = draw(st.sampled_from(["=", "!=", "exists", "not-exists", "starts-with", "in", "<"]))
    value: Any = draw(META_VALUES)
    if op == "in":
        value = (value,)
    dt = draw(st.sampled_from([None, "bool", "string"]))
    if op in ("in",) and dt == "bool":
        dt = None
    return Condition(draw(st.sampled_from(META_FIELDS)), None, op, value, dt)


@st.composite
def meta_traces(draw: st.DrawFn, tid: str) -> Trace:
    n = draw(st.integers(1, 3))
    root_at = draw(st.integers(0, n))
    spans = []
    for i in range(n):
        data: dict[str, object] = {}
        if draw(st.booleans()):
            data["a"] = draw(META_VALUES)
        if draw(st.integers(0, 4)) == 0:
            data["meta.signal_type"] = "log"
        if draw(st.integers(0, 4)) == 0:
            data["meta.refinery.root"] = draw(st.booleans())
        is_root = i == root_at and data.get("meta.signal_type") != "log"
        if not is_root:
            data["trace.parent_id"] = "p"
        spans.append(Span(data, is_root))
    return Trace(tid, tuple(spans))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "span"]), st.lists(meta_conditions(), min_size=1, max_size=2)
        ),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.sampled_from(["t1", "t", "x", "t10"]), min_size=1, max_size=4, unique=True),
    st.data(),
)
def test_metadata_differential(spec: Any, ids: list[str], data: st.DataObject) -> None:
    rules = [
        Rule(f"r{i}", sample_rate=1, scope=scope, conditions=tuple(conds))
        for i, (scope, conds) in enumerate(spec)
    ]
    traces = [data.draw(meta_traces(tid)) for tid in ids]
    assert_same(_rules(*rules), traces)
    assert_solver_sound(rules, traces)


# --- 2. Value lists of any element type ------------------------------------------------------

RULES_TEMPLATE = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: m
          SampleRate: 1
          Conditions:
            - Field: x
              Operator: {op}
              Value: {value}
"""


@pytest.mark.parametrize(
    ("op", "value", "span", "matched"),
    [
        ("in", "[null]", {}, True),  # a missing field prints <nil>
        ("in", "[null]", {"x": "<nil>"}, True),
        ("in", "[null]", {"x": None}, True),
        ("in", "[null]", {"x": "nil"}, False),
        ("not-in", "[null]", {"x": 1}, True),
        ("in", "[[1]]", {"x": "[1]"}, True),
        ("in", "[[1, a]]", {"x": [1, "a"]}, True),
        ("in", "[{b: 2, a: 1}]", {"x": "map[a:1 b:2]"}, True),
        ("does-not-contain", "[[1]]", {"x": "[[1]]"}, False),
        ("does-not-contain", "[[1]]", {"x": "[1]"}, True),
        ("contains", "[null]", {"x": "[<nil>]!"}, True),
        ("=", "[[1]]", {"x": "[[1]]"}, False),  # untyped compare of a list: never ok
    ],
)
def test_value_lists_compare_their_v_text(
    op: str, value: str, span: dict[str, object], matched: bool
) -> None:
    loaded = read_rules_text(RULES_TEMPLATE.format(op=op, value=value), "r.yaml")
    assert not validate_loaded(loaded).errors
    assert _matches(loaded.rules_file, Trace("t", (Span(span, True),))) is matched
    assert_same(loaded.rules_file, [Trace("t", (Span(span, True),))])


def test_value_list_validity_agrees_with_refinery() -> None:
    def errors(value: str) -> list[str]:
        loaded = read_rules_text(RULES_TEMPLATE.format(op="in", value=value), "r.yaml")
        return [e.what for e in validate_loaded(loaded).errors]

    assert errors("[null]") == errors("[null, null]") == errors("[[1], [2]]") == []
    assert errors("[{a: 1}]") == []
    assert errors("[null, 1]") == [
        "Within sampler __default__: Within field RulesBasedSampler.Rules[0]: Within field Rules.Conditions[0]: field Conditions.Value must be a slice of all the same type, but element 1 is int"
    ]
    assert errors("[[1], 1]")[0].endswith("but element 1 is int")
    assert errors("null") == [
        "Within sampler __default__: Within field RulesBasedSampler.Rules[0]: Within field Rules.Conditions[0]: field Conditions.Value must not be nil"
    ]


def test_value_lists_round_trip_through_the_writer() -> None:
    from pytest_nectar.refinery.rules_writer import write_rules

    value = (None, (1, "a"), GoMap((("k", (None,)),)))
    rf = _one(Condition("x", None, "in", value))
    text = write_rules(rf)
    assert read_rules_text(text, "r.yaml").rules_file == rf


NESTED_ITEMS = st.recursive(
    st.sampled_from([None, 1, "a", "<nil>", 2.5, True]),
    lambda inner: st.one_of(
        st.lists(inner, max_size=2).map(tuple),
        st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2).map(
            lambda d: GoMap(sorted(d.items()))
        ),
    ),
    max_leaves=4,
)
SPAN_TEXTS = st.sampled_from(["<nil>", "[1]", "[<nil>]", "map[a:1]", "[a]", "1", "a", "[]"])


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["in", "not-in", "contains", "does-not-contain", "starts-with", "="]),
    st.lists(NESTED_ITEMS, min_size=1, max_size=3).map(tuple),
    st.sampled_from([None, "string", "int"]),
    st.lists(st.one_of(st.none(), SPAN_TEXTS, st.just(1)), min_size=1, max_size=4),
)
def test_value_lists_differential(
    op: str, value: tuple[object, ...], dt: str | None, xs: list[object]
) -> None:
    cond = Condition("x", None, op, value, dt)
    traces = [
        Trace(f"t{i}", (Span({} if x is None else {"x": x}, True),)) for i, x in enumerate(xs)
    ]
    assert_same(_one(cond), traces)
    rules = [Rule("m", sample_rate=1, conditions=(cond,))]
    assert_solver_sound(rules, traces)


# --- 3. gjson paths under CheckNestedFields --------------------------------------------------

SYNTAX_DOC: dict[str, object] = {
    "name": {"first": "Tom", "last": "Anderson"},
    "age": 37,
    "children": ["Sara", "Alex", "Jack"],
    "fav.movie": "Deer Hunter",
    "friends": [
        {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
        {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
        {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]},
    ],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # gjson v1.18.0 SYNTAX.md, on the document Go's json.Marshal writes (sorted keys)
        ("name.last", "Anderson"),
        ("age", "37"),
        ("children", '["Sara","Alex","Jack"]'),
        ("children.1", "Alex"),
        ("friends.1.first", "Roger"),
        ("child*.2", "Jack"),
        ("c?ildren.0", "Sara"),
        ("fav\\.movie", "Deer Hunter"),
        ("friends.#", "3"),
        ("friends.#.age", "[44,68,47]"),
        ("friends.#.nets.#", "[3,2,2]"),
        ("friends.#.nope", "[]"),
        ("friends.1", '{"age":68,"first":"Roger","last":"Craig","nets":["fb","tw"]}'),
        ("children.01", "Alex"),  # parseUint accepts leading zeros
        ("children.18446744073709551617", "Alex"),  # and wraps
        ("f*.#", "3"),  # the first key matching f* that has the rest of the path
        ("*.first", "Tom"),
        ("\\*", None),
        ("name.*", "Tom"),
        ("friends.#.@unknown", "[]"),  # not a modifier: a key
        ("@unknown", None),
        ("children.#x", None),
        ("name.", None),
        # queries
        ('friends.#(last=="Murphy").first', "Dale"),
        ('friends.#(last=="Murphy")#.first', '["Dale","Jane"]'),
        ("friends.#(age>45)#.last", '["Craig","Murphy"]'),
        ('friends.#(first%"D*").last', "Murphy"),
        ('friends.#(first!%"D*").last', "Craig"),
        ('children.#(!%"*a*")', "Alex"),
        ('children.#(%"*a*")#', '["Sara","Jack"]'),
        ('friends.#(nets.#(=="fb"))#.first', '["Dale","Roger"]'),
        ('friends.#[last=="Craig"].first', "Roger"),
        ('friends.#(nope=="x").first', None),
        ('friends.#(nope=="x")#', "[]"),
        # dot vs pipe
        ("friends|0.first", "Dale"),
        ("friends.0|first", "Dale"),
        ("friends|0|first", "Dale"),
        ("friends|#", "3"),
        ('friends.#(last="Murphy")#|first', None),
        ('friends.#(last="Murphy")#.0', "[]"),
        (
            'friends.#(last="Murphy")#|0',
            '{"age":44,"first":"Dale","last":"Murphy","nets":["ig","fb","tw"]}',
        ),
        ('friends.#(last="Murphy")#.#', "[]"),
        ('friends.#(last="Murphy")#|#', "2"),
        ("friends.#.first|1", "Roger"),
        # modifiers
        ("@this.name.first", "Tom"),
        ("children|@reverse", '["Jack","Alex","Sara"]'),
        ("children.@reverse", '["Jack","Alex","Sara"]'),
        ("children.@reverse.0", "Jack"),
        ("name.@keys", '["first","last"]'),
        ("name.@values", '["Tom","Anderson"]'),
        ("name|@reverse", '{"last":"Anderson","first":"Tom"}'),
        ("@reverse|age", "37"),
        ("friends.#.first|@reverse", '["Jane","Roger","Dale"]'),
        ("nothing|@keys", "[]"),
        ("nothing|@this", None),
        ("children.@keys", "[null,null,null]"),
        ("age.@keys", "[null]"),
        ("age|@values", "[37]"),
        ("@valid.age", "37"),
        ("@ugly|children.1", "Alex"),
    ],
)
def test_gjson_paths(path: str, expected: str | None) -> None:
    text, found = get(SYNTAX_DOC, path)
    assert (text if found else None) == expected


def test_gjson_tilde_conversions() -> None:
    # gjson v1.18.0 SYNTAX.md, Queries: a missing value is null-ish and false-ish
    vals = {
        "vals": [
            {"a": 1, "b": "data"},
            {"a": 2, "b": True},
            {"a": 3, "b": False},
            {"a": 4, "b": "0"},
            {"a": 5, "b": 0},
            {"a": 6, "b": "1"},
            {"a": 7, "b": 1},
            {"a": 8, "b": "true"},
            {"a": 9, "b": False},
            {"a": 10, "b": None},
            {"a": 11},
        ]
    }
    assert get(vals, "vals.#(b==~true)#.a") == ("[2,6,7,8]", True)
    assert get(vals, "vals.#(b==~false)#.a") == ("[3,4,5,9,10,11]", True)
    assert get(vals, "vals.#(b==~null)#.a") == ("[10,11]", True)
    assert get(vals, "vals.#(b==~*)#.a") == ("[1,2,3,4,5,6,7,8,9,10]", True)
    assert get(vals, "vals.#(b!=~*)#.a") == ("[11]", True)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("@pretty", "the modifier @pretty"),
        ("children|@flatten", "the modifier @flatten"),
        ("children.@join", "the modifier @join"),
        ("@reverse:{}", "arguments of the modifier @reverse"),
        ("children.[0,1]", "a multipath after a dot '[0,1]'"),
        ('friends.#(last=="Murphy"', "an unbalanced query '#(last==\"Murphy\"'"),
        ("[name,age]", "a multipath"),
        ("!true", "a static literal or '!' path"),
        ("..0", "JSON lines ('..')"),
    ],
)
def test_gjson_constructs_outside_the_model_are_refused(path: str, why: str) -> None:
    assert validate_path(path) == why
    with pytest.raises(GjsonUnsupported):
        get(SYNTAX_DOC, path)


NESTED_RULES = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      CheckNestedFields: true
      Rules:
        - Name: m
          SampleRate: 1
          Conditions:
            - Field: {field}
              Operator: '='
              Value: '{value}'
"""


@pytest.mark.parametrize(
    ("field", "value", "data"),
    [
        ("events.#", "2", {"events": [{"n": "a"}, {"n": "b"}]}),
        ("attrs.*", "1", {"attrs": {"x": 1}}),
        ("l?st", "[1]", {"list": [1]}),
        ("events.#.n", '["a","b"]', {"events": [{"n": "a"}, {"n": "b"}]}),
        ('events.#(n=="a").v', "1", {"events": [{"n": "b", "v": 2}, {"n": "a", "v": 1}]}),
        ("events|#", "2", {"events": [{}, {}]}),
        ("meta\\.refinery\\.root", "true", {}),  # the router's field is in the marshalled span
    ],
)
def test_nested_regressions(field: str, value: str, data: dict[str, object]) -> None:
    rf = read_rules_text(NESTED_RULES.format(field=field, value=value), "r.yaml").rules_file
    trace = Trace("t", (Span(data, True),))
    assert _matches(rf, trace)
    assert_same(rf, [trace, Trace("u", (Span({}, False),))])


def test_unsupported_gjson_is_a_located_error_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(NESTED_RULES.format(field="events|@pretty", value="x"))
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps([{"trace.trace_id": "t", "events": [{"n": "a"}]}]))
    with pytest.raises(RulesError) as err:
        Evaluator(read_rules_text(rules.read_text(), str(rules)).rules_file)
    assert str(err.value).startswith(
        f"{rules}:10:15: CheckNestedFields: Nectar does not evaluate this gjson path: the modifier @pretty"
    )
    assert main(["decide", str(rules), str(trace)]) == 2
    assert "Nectar does not evaluate this gjson path" in capsys.readouterr().err
    assert main(["replay", str(rules), "--corpus", str(trace)]) == 2
    assert "Nectar does not evaluate this gjson path" in capsys.readouterr().err
    assert main(["prove", str(rules), "--corpus", str(trace)]) == 2
    assert "Nectar does not evaluate this gjson path" in capsys.readouterr().err
    assert main(["validate", str(rules)]) == 0  # Refinery loads it: a warning, located
    out = capsys.readouterr().out
    assert (
        f"{rules}:10:22: CheckNestedFields: Nectar does not evaluate this gjson path (the modifier @pretty)"
        in out
    )


NESTED_DATA = st.recursive(
    st.sampled_from([None, 1, "a", 2.5, True, "b"]),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "ab", "a.b", "#"]), inner, max_size=3),
    ),
    max_leaves=6,
)
PATHS = st.sampled_from(
    [
        "a", "a.b", "a\\.b", "a*", "?", "a.#", "a.#.b", "a.0", "a.1.b", "*.a", "b.#.#", "\\#",
        "a?.b", 'a.#(b=="a")', 'a.#(=="a")#', "a.#(b>1)#.b", "a|0", "a.#(b)#|#", 'a.#(b%"a*").b',
        "a.#(b==~true)#", "a|@reverse", "a.@keys", "@this.a", "a.@values.0", "@reverse|b",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(PATHS, min_size=1, max_size=2),
    st.sampled_from(["exists", "=", "starts-with"]),
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "ab", "a.b"]), NESTED_DATA, max_size=3),
        min_size=1,
        max_size=4,
    ),
)
def test_nested_differential(fields: list[str], op: str, rows: list[dict[str, object]]) -> None:
    cond = Condition(None, tuple(fields), op, "a" if op != "exists" else None)
    rf = _one(cond, nested=True)
    traces = [Trace(f"t{i}", (Span(d, True),)) for i, d in enumerate(rows)]
    assert_same(rf, traces)
    # the prover: never exact with nested lookups, and what it finds is a real match
    shape = Shape.of("m", None, (compile_condition(cond),))
    solver = Solver([shape], nested=True)
    assert not solver.exact_for([shape])
    try:
        found = solver.find([shape], []).trace
    except RulesError:
        return  # a path Nectar refuses, refused here too
    if found is not None:
        assert Evaluator(rf).decide(found).rule_index == 0


# --- 4. --no-validate ------------------------------------------------------------------------

REFUSED = """\
RulesVersion: 3
Extra: yes
Samplers:
  __default__:
    RulesBasedSampler:
      Unknown: 1
      Rules:
        - Name: 404
          SampleRate: 2.9
          Drop: no
          Conditions:
            - Field: http.status
              Operator: '>='
              Value: 500
              Datatype: int
        - Name: rest
          Scope: weird
          SampleRate: 7
"""


def test_no_validate_decides_a_file_validation_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(REFUSED)
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps([{"trace.trace_id": "abc", "http.status": 503}]))
    assert main(["decide", str(rules), str(trace)]) == 2
    assert "RulesVersion must be 2" in capsys.readouterr().err
    assert main(["decide", str(rules), str(trace), "--no-validate", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    # Name 404 is the string "404", SampleRate 2.9 truncates to 2, Drop "no" is false.
    assert (decision["rule"], decision["rate"], decision["reason"]) == ("404", 2, "rules/trace/404")
    trace.write_text(json.dumps([{"trace.trace_id": "abc", "http.status": 200}]))
    assert main(["decide", str(rules), str(trace), "--no-validate", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["reason"], decision["rate"]) == ("rules/invalid scope/rest", 7)
    assert main(["replay", str(rules), "--corpus", str(trace), "--no-validate", "--json"]) == 0
    capsys.readouterr()
    assert main(["prove", str(rules), "--corpus", str(trace), "--no-validate", "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)


def test_no_validate_still_refuses_what_refinery_cannot_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(REFUSED.replace("Drop: no", "Drop: 1"))
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps([{"trace.trace_id": "abc"}]))
    assert main(["decide", str(rules), str(trace), "--no-validate"]) == 2
    assert capsys.readouterr().err.startswith(
        f"{rules}:10:17: Refinery cannot decode this file even with --no-validate: cannot unmarshal !!int `1` into bool; 1 decode error(s); Refinery refuses to start"
    )
    as_toml = tmp_path / "r.toml"
    as_toml.write_text("RulesVersion = 2\n")
    assert main(["decide", str(as_toml), str(trace), "--no-validate"]) == 2
    assert "--no-validate is modelled for YAML and JSON rules files only" in capsys.readouterr().err


def test_no_validate_json_as_encoding_json_decodes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], realdata: Path
) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps([{"trace.trace_id": "abc", "http.status": 503}]))
    # A real JSON rules file: validation refuses it (JSON numbers are float64)...
    real = realdata / "refinery-rules" / "refinery-rules.json"
    assert main(["decide", str(real), str(trace), "--env", "TheNewWorld"]) == 2
    assert "RulesVersion must be an int, but 2 is float64" in capsys.readouterr().err
    # ...Refinery started with --no-validate loads it with encoding/json
    assert (
        main(["decide", str(real), str(trace), "--env", "TheNewWorld", "--no-validate", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["reason"] == "emadynamic"
    rules = tmp_path / "r.json"
    doc: dict[str, Any] = {
        "RulesVersion": 2,
        "Samplers": {
            # the json tag of Rules is "rule": a JSON file's "Rules" fills nothing
            "__default__": {"RulesBasedSampler": {"Rules": [{"Name": "x", "SampleRate": 1}]}},
            "e2": {
                "rulesbasedsampler": {
                    "RULE": [
                        {
                            "name": "keep",
                            "SampleRate": 3,
                            "condition": [{"Field": "http.status", "Operator": ">=", "Value": 500}],
                        }
                    ]
                }
            },
        },
    }
    rules.write_text(json.dumps(doc))
    assert main(["decide", str(rules), str(trace), "--no-validate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reason"] == "no rule matched"
    assert main(["decide", str(rules), str(trace), "--no-validate", "--json", "--env", "e2"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["reason"], decision["rate"]) == ("rules/trace/keep", 3)
    doc["Samplers"]["e2"]["rulesbasedsampler"]["RULE"][0]["SampleRate"] = 3.0
    rules.write_text(json.dumps(doc))
    assert main(["decide", str(rules), str(trace), "--no-validate", "--env", "e2"]) == 2
    assert (
        "Refinery cannot decode this file even with --no-validate: json: cannot unmarshal number 3.0 into Go value of type int"
        in capsys.readouterr().err
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_validate_differential(data: st.DataObject) -> None:
    """A file validation accepts means the same with --no-validate; whatever the typed decode
    loads, the reference and vectorised evaluators decide alike on it."""
    text = write_rules(data.draw(rules_files()))
    # perturb as hand-written files are: an unknown key, a float rate, a yes/no bool
    text = text.replace(
        "Rules:", data.draw(st.sampled_from(["Rules:", "Extra: 1\n      Rules:"])), 1
    )
    text = text.replace(
        "SampleRate: 3", data.draw(st.sampled_from(["SampleRate: 3", "SampleRate: 3.7"]))
    )
    text = text.replace(
        "Drop: true", data.draw(st.sampled_from(["Drop: true", "Drop: yes", "Drop: 'on'"]))
    )
    loaded = read_rules_text(text, "r.yaml")
    try:
        decoded = build_rules_file(go_decode(loaded.root, "r.yaml", "yaml"), "r.yaml")
    except RulesError:
        return
    if not validate_loaded(loaded).errors:
        assert decoded == loaded.rules_file
    trace_list = data.draw(st.lists(traces, min_size=1, max_size=5))
    assert_same(decoded, [Trace(f"t{i}", t.spans) for i, t in enumerate(trace_list)])


UA_RULES = """\
RulesVersion: 2
Samplers:
  __default__:
    RulesBasedSampler:
      Rules:
        - Name: curl
          Drop: true
          Conditions:
            - Field: meta.refinery.incoming_user_agent
              Operator: starts-with
              Value: curl
        - Name: rest
          SampleRate: 1
"""


def test_user_agent_is_refused_where_the_trace_does_not_record_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(UA_RULES)
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([{"trace.trace_id": "t"}]))
    exported = tmp_path / "exported.json"
    exported.write_text(
        json.dumps([{"trace.trace_id": "t", "meta.refinery.incoming_user_agent": "curl/8.5"}])
    )
    assert main(["decide", str(rules), str(bare)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"{rules}:9:15: the rules read meta.refinery.incoming_user_agent, which Refinery's router takes from the User-Agent header"
    )
    assert main(["replay", str(rules), "--corpus", str(bare)]) == 2
    assert "the rules read meta.refinery.incoming_user_agent" in capsys.readouterr().err
    assert main(["decide", str(rules), str(exported), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rule"] == "curl"
    assert main(["replay", str(rules), "--corpus", str(exported), "--json"]) == 0
    capsys.readouterr()
    # for all possible traces the header is a free value: the prover answers
    assert main(["prove", str(rules), "--property", "fallback", "--json"]) in (0, 1)
    assert "incoming_user_agent" not in capsys.readouterr().err
