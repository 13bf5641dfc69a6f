"""Fuzz tests: every parser and reader ends in a result or a NectarError, within bounds.

Bounded in the normal suite (deterministic examples); ``NECTAR_FUZZ_EXAMPLES=N`` runs N random
examples per test (see tests/fuzz_support.py), e.g. a long round:

    NECTAR_FUZZ_EXAMPLES=100000 nice -n 19 python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from pytest_nectar.compiler import compile_policy
from pytest_nectar.corpus import load_corpus
from pytest_nectar.errors import NectarError, Position
from pytest_nectar.importer import import_rules
from pytest_nectar.match_parser import parse_action, parse_match
from pytest_nectar.policy_check import check_policy
from pytest_nectar.policy_parser import parse_policy
from pytest_nectar.printer import format_match, format_policy, quote_cell
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.rules_validate import validate_loaded
from tests.fuzz_support import (
    dumps,
    fuzz_settings,
    json_values,
    match_texts,
    mutated,
    replace_nodes,
    within_bounds,
)

P = Position("f.toon", 6, 20)

HEAD = "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  fuzz\n  10000\n"
TABLE = "  rules[2]{name,description,match,action,priority}:\n"
POLICY = (
    HEAD
    + TABLE
    + "    keep-errors,d,http.status >= 500 and span(duration > 1s),keep,100\n"
    + "    rest,d,true,sample(1/100),0\n"
)


def _whole_policy(text: str) -> None:
    """Parse, check, format, re-parse and compile: every stage a policy goes through."""
    policy = parse_policy(text, path="f.toon")
    if any(d.severity == "error" for d in check_policy(policy, source=text)):
        return
    printed = format_policy(policy)
    try:
        parse_policy(printed, path="f.toon")
    except NectarError as err:  # fmt must never write what check refuses
        raise AssertionError(f"formatted policy does not parse: {err.message}") from err
    compile_policy(policy, source=text)


@fuzz_settings(300)
@given(match_texts())
def test_fuzz_match_expressions(text: str) -> None:
    with within_bounds(f"match {text[:80]!r}"):
        expr = parse_match(text, position=P)
        again = parse_match(format_match(expr), position=P)
        assert again == expr
    with within_bounds(f"policy with match {text[:80]!r}"):
        row = f"    r,d,{quote_cell(text)},keep,1\n    rest,d,true,drop,0\n"
        _whole_policy(HEAD + TABLE + row)


@fuzz_settings(100)
@given(st.text(max_size=30))
def test_fuzz_actions(text: str) -> None:
    with within_bounds(f"action {text!r}"):
        parse_action(text, position=P)


@fuzz_settings(300)
@given(mutated(POLICY))
def test_fuzz_policies(text: str) -> None:
    with within_bounds(f"policy {text[:80]!r}"):
        _whole_policy(text)


# --- rules files ------------------------------------------------------------------------

RULES: dict[str, Any] = {
    "RulesVersion": 2,
    "Samplers": {
        "__default__": {
            "RulesBasedSampler": {
                "Rules": [
                    {
                        "Name": "errors",
                        "SampleRate": 1,
                        "Conditions": [
                            {"Field": "http.status_code", "Operator": ">=", "Value": 500},
                            {"Fields": ["a", "b"], "Operator": "exists", "Datatype": "int"},
                        ],
                    },
                    {"Name": "rest", "Sampler": {"DeterministicSampler": {"SampleRate": 10}}},
                ]
            }
        },
        "prod": {"DeterministicSampler": {"SampleRate": 5}},
    },
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return json.dumps("" if value is None else str(value))


def _toml(doc: Any) -> str:
    if not isinstance(doc, dict):
        return "x = " + _toml_value(doc) + "\n"
    return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def _serialise(doc: Any, fmt: str) -> str:
    if fmt == "yaml":
        try:
            return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        except (yaml.YAMLError, RecursionError, ValueError):
            return "x: 1\n"
    if fmt == "json":
        return dumps(doc)
    try:
        return _toml(doc)
    except (RecursionError, ValueError):
        return "x = 1\n"


def _whole_rules(text: str, fmt: str) -> None:
    loaded = read_rules_text(text, f"r.{fmt}", fmt)
    validate_loaded(loaded)
    import_rules(loaded.rules_file)


@st.composite
def _rules_texts(draw: st.DrawFn, fmt: str) -> str:
    text = _serialise(draw(replace_nodes(RULES)), fmt)
    if draw(st.booleans()):
        text = draw(mutated(text))
    return text


@fuzz_settings(150)
@given(_rules_texts("yaml"))
def test_fuzz_rules_yaml(text: str) -> None:
    with within_bounds(f"rules yaml {text[:80]!r}"):
        _whole_rules(text, "yaml")


@fuzz_settings(150)
@given(_rules_texts("json"))
def test_fuzz_rules_json(text: str) -> None:
    with within_bounds(f"rules json {text[:80]!r}"):
        _whole_rules(text, "json")


@fuzz_settings(150)
@given(_rules_texts("toml"))
def test_fuzz_rules_toml(text: str) -> None:
    with within_bounds(f"rules toml {text[:80]!r}"):
        _whole_rules(text, "toml")


# --- trace corpora ----------------------------------------------------------------------

_ATTR = [
    {"key": "http.status_code", "value": {"intValue": "503"}},
    {"key": "a", "value": {"arrayValue": {"values": [{"doubleValue": 1.5}]}}},
    {"key": "SampleRate", "value": {"intValue": 10}},
]
OTLP = {
    "resourceSpans": [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]},
            "scopeSpans": [
                {
                    "scope": {"name": "lib", "version": "1"},
                    "spans": [
                        {
                            "traceId": "0" * 31 + "1",
                            "spanId": "0" * 15 + "1",
                            "parentSpanId": "",
                            "name": "root",
                            "kind": 2,
                            "startTimeUnixNano": "1000000",
                            "endTimeUnixNano": "2000000",
                            "attributes": _ATTR,
                            "status": {"code": 2, "message": "x"},
                            "events": [{"name": "exception", "timeUnixNano": "1500000"}],
                            "links": [{"traceId": "0" * 31 + "2", "spanId": "0" * 15 + "2"}],
                        }
                    ],
                }
            ],
        }
    ]
}
JAEGER = {
    "data": [
        {
            "traceID": "1",
            "spans": [
                {
                    "traceID": "1",
                    "spanID": "2",
                    "operationName": "o",
                    "references": [{"refType": "CHILD_OF", "traceID": "1", "spanID": "3"}],
                    "startTime": 1,
                    "duration": 5,
                    "tags": [{"key": "http.status_code", "type": "int64", "value": 500}],
                    "logs": [{"timestamp": 2, "fields": [{"key": "event", "value": "e"}]}],
                    "processID": "p1",
                }
            ],
            "processes": {"p1": {"serviceName": "s", "tags": []}},
        }
    ]
}
ZIPKIN = [
    {
        "traceId": "1",
        "id": "2",
        "parentId": "3",
        "name": "n",
        "kind": "SERVER",
        "timestamp": 1,
        "duration": 2,
        "localEndpoint": {"serviceName": "s", "ipv4": "1.2.3.4", "port": 80},
        "annotations": [{"timestamp": 1, "value": "ws"}],
        "tags": {"http.status_code": "500", "error": "true"},
    }
]
HONEYCOMB = [
    {
        "time": "2024-01-01T00:00:00Z",
        "samplerate": 2,
        "data": {"trace.trace_id": "1", "trace.span_id": "2", "duration_ms": 3, "n": [1, {}]},
    },
    {"trace.trace_id": "1", "trace.span_id": "3", "timestamp": 1.5},
]


@st.composite
def _corpus_texts(draw: st.DrawFn, doc: Any) -> str:
    text = dumps(draw(replace_nodes(doc)))
    if draw(st.integers(0, 3)) == 0:
        text = draw(mutated(text))
    return text


def _load(text: str, skip_bad: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        load_corpus(path, cache=False, skip_bad=skip_bad, workers=1)


def _corpus_test(text: str, skip_bad: bool, what: str) -> None:
    with within_bounds(f"{what} {text[:80]!r}"):
        _load(text, skip_bad)


@fuzz_settings(120)
@given(_corpus_texts(OTLP), st.booleans())
def test_fuzz_otlp(text: str, skip_bad: bool) -> None:
    _corpus_test(text, skip_bad, "otlp")


@fuzz_settings(120)
@given(_corpus_texts(JAEGER), st.booleans())
def test_fuzz_jaeger(text: str, skip_bad: bool) -> None:
    _corpus_test(text, skip_bad, "jaeger")


@fuzz_settings(120)
@given(_corpus_texts(ZIPKIN), st.booleans())
def test_fuzz_zipkin(text: str, skip_bad: bool) -> None:
    _corpus_test(text, skip_bad, "zipkin")


@fuzz_settings(120)
@given(_corpus_texts(HONEYCOMB), st.booleans())
def test_fuzz_honeycomb(text: str, skip_bad: bool) -> None:
    _corpus_test(text, skip_bad, "honeycomb")


@fuzz_settings(60)
@given(st.lists(json_values(), max_size=5), st.booleans())
def test_fuzz_json_lines(lines: list[Any], skip_bad: bool) -> None:
    _corpus_test("\n".join(dumps(x) for x in lines) + "\n", skip_bad, "jsonl")


def test_nectar_error_is_the_only_escape() -> None:
    # The invariant is not vacuous: anything else escapes within_bounds.
    try:
        with within_bounds("x"):
            raise ValueError("boom")
    except ValueError:
        return
    raise AssertionError("within_bounds swallowed a ValueError")  # pragma: no cover


def test_fuzz_support_yields_nectar_errors() -> None:
    with within_bounds("y"):
        raise NectarError("fine")
