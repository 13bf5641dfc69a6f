"""One fuzz target per parser and reader: how to make an input, and what to run on it.

``generate(chooser)`` makes one input (text); ``run(text)`` takes it through every stage a
user's file goes through (policy: parse, check, format, re-parse, compile; rules file: read,
validate, import; corpus: load, with and without ``--skip-bad``).  Shared by
tests/test_fuzz.py (Hypothesis) and tests/fuzz_round.py (the long seeded round).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from pytest_nectar.compiler.compile import compile_policy
from pytest_nectar.compiler.importer import import_rules
from pytest_nectar.corpus import load_corpus
from pytest_nectar.errors import NectarError, Position
from pytest_nectar.policy.check import check_policy
from pytest_nectar.policy.match_parser import parse_action, parse_match
from pytest_nectar.policy.parser import parse_policy
from pytest_nectar.policy.printer import format_match, format_policy, quote_cell
from pytest_nectar.refinery.rules_reader import read_rules_text
from pytest_nectar.refinery.rules_validate import validate_loaded
from tests.fuzz_support import Chooser, dumps, match_soup, mutate_text, replace_nodes

__all__ = ["TARGETS", "Target"]

P: Final = Position("f.toon", 6, 20)
HEAD: Final = "nectar_policy{version,name,budget_per_second,rules}:\n  1\n  fuzz\n  10000\n"
TABLE: Final = "  rules[2]{name,description,match,action,priority}:\n"
POLICY: Final = (
    HEAD
    + TABLE
    + "    keep-errors,d,http.status >= 500 and span(duration > 1s),keep,100\n"
    + "    rest,d,true,sample(1/100),0\n"
)


@dataclass(frozen=True)
class Target:
    generate: Callable[[Chooser], str]
    run: Callable[[str], None]


# --- policies ---------------------------------------------------------------------------


def run_policy(text: str) -> None:
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


VALID_MATCHES: Final = [
    "http.status >= 500",
    'span(a = 1 and b != "x")',
    "not root.x exists",
    'first(a, b) in [1, 2, "3"] as int',
    "has_root = false or descendants > 10",
    "duration >= 1.5s && !(service.name starts-with 'a')",
    "`odd\\n` matches '^a.*'",
]


VALID_ACTIONS: Final = [
    "keep",
    "drop",
    "sample(0.01)",
    "sample(1/100)",
    "throughput(500/s by service.name, `odd`)",
    "dynamic(10 by a, b)",
    "throughput(5/s, clear_frequency=30s)",
]


def match_text(c: Chooser) -> str:
    """A valid expression or a token soup, then mutated."""
    if c.integer(0, 2) == 0:
        return match_soup(c)
    return mutate_text(c.pick(VALID_MATCHES), c)


def run_match(text: str) -> None:
    try:
        expr = parse_match(text, position=P)
    except NectarError:
        expr = None
    if expr is not None:
        assert parse_match(format_match(expr), position=P) == expr
    row = f"    r,d,{quote_cell(text)},keep,1\n    rest,d,true,drop,0\n"
    run_policy(HEAD + TABLE + row)


def run_action(text: str) -> None:
    parse_action(text, position=P)


# --- rules files ------------------------------------------------------------------------

RULES: Final[dict[str, Any]] = {
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


def _serialise(doc: Any, fmt: str) -> str:
    try:
        if fmt == "yaml":
            return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        if fmt == "json":
            return dumps(doc)
        return "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in doc.items())
    except (yaml.YAMLError, RecursionError, ValueError, AttributeError):
        return "x = 1\n"


def _rules_generator(fmt: str) -> Callable[[Chooser], str]:
    def generate(c: Chooser) -> str:
        text = _serialise(replace_nodes(RULES, c, c.pick([4, 15, 60, 400])), fmt)
        return mutate_text(text, c) if c.integer(0, 1) else text

    return generate


def _rules_runner(fmt: str) -> Callable[[str], None]:
    def run(text: str) -> None:
        loaded = read_rules_text(text, f"r.{fmt}", fmt)
        validate_loaded(loaded)
        import_rules(loaded.rules_file)

    return run


# --- trace corpora ----------------------------------------------------------------------

_ATTRS: Final = [
    {"key": "http.status_code", "value": {"intValue": "503"}},
    {"key": "a", "value": {"arrayValue": {"values": [{"doubleValue": 1.5}]}}},
    {"key": "m", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"intValue": 1}}]}}},
    {"key": "SampleRate", "value": {"intValue": 10}},
]
OTLP: Final = {
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
                            "attributes": _ATTRS,
                            "status": {"code": 2, "message": "x"},
                            "traceState": "ot=th:8",
                            "events": [{"name": "exception", "timeUnixNano": "1500000"}],
                            "links": [{"traceId": "0" * 31 + "2", "spanId": "0" * 15 + "2"}],
                        }
                    ],
                }
            ],
        }
    ]
}
JAEGER: Final = {
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
                    "tags": [
                        {"key": "http.status_code", "type": "int64", "value": 500},
                        {"key": "error", "type": "bool", "value": True},
                        {"key": "span.kind", "type": "string", "value": "server"},
                    ],
                    "logs": [{"timestamp": 2, "fields": [{"key": "event", "value": "e"}]}],
                    "processID": "p1",
                }
            ],
            "processes": {"p1": {"serviceName": "s", "tags": []}},
        }
    ]
}
ZIPKIN: Final = [
    {
        "traceId": "1",
        "id": "2",
        "parentId": "3",
        "name": "n",
        "kind": "SERVER",
        "timestamp": 1,
        "duration": 2,
        "localEndpoint": {"serviceName": "s", "ipv4": "1.2.3.4", "port": 80},
        "remoteEndpoint": {"serviceName": "r", "port": 81},
        "annotations": [{"timestamp": 1, "value": "ws"}],
        "tags": {"http.status_code": "500", "error": "true", "otel.library.name": "l"},
    }
]
HONEYCOMB: Final = [
    {
        "time": "2024-01-01T00:00:00Z",
        "samplerate": 2,
        "data": {"trace.trace_id": "1", "trace.span_id": "2", "duration_ms": 3, "n": [1, {}]},
    },
    {"trace.trace_id": "1", "trace.span_id": "3", "timestamp": 1.5},
]


def _corpus_generator(doc: Any) -> Callable[[Chooser], str]:
    def generate(c: Chooser) -> str:
        text = dumps(replace_nodes(doc, c, c.pick([4, 15, 60, 400])))
        return mutate_text(text, c) if c.integer(0, 3) == 0 else text

    return generate


def _json_lines(c: Chooser) -> str:
    lines = []
    for _ in range(c.integer(1, 5)):
        doc = c.pick([OTLP, HONEYCOMB[0], HONEYCOMB[1], {"resourceMetrics": []}])
        lines.append(dumps(replace_nodes(doc, c, c.pick([4, 15, 60, 400]))))
    return mutate_text("\n".join(lines) + "\n", c) if c.integer(0, 3) == 0 else "\n".join(lines)


def run_corpus(text: str) -> None:
    """Load as a file with --skip-bad, then strictly: a result or a CorpusError each time."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with suppress(NectarError):
            load_corpus(path, cache=False, skip_bad=True, workers=1)
        load_corpus(path, cache=False, workers=1)


TARGETS: Final[dict[str, Target]] = {
    "match": Target(match_text, run_match),
    "action": Target(
        lambda c: mutate_text(c.pick(VALID_ACTIONS) if c.integer(0, 3) else c.text(20), c),
        run_action,
    ),
    "policy": Target(lambda c: mutate_text(POLICY, c), run_policy),
    "rules-yaml": Target(_rules_generator("yaml"), _rules_runner("yaml")),
    "rules-json": Target(_rules_generator("json"), _rules_runner("json")),
    "rules-toml": Target(_rules_generator("toml"), _rules_runner("toml")),
    "otlp": Target(_corpus_generator(OTLP), run_corpus),
    "jaeger": Target(_corpus_generator(JAEGER), run_corpus),
    "zipkin": Target(_corpus_generator(ZIPKIN), run_corpus),
    "honeycomb": Target(_corpus_generator(HONEYCOMB), run_corpus),
    "json-lines": Target(_json_lines, run_corpus),
}


# --- the systematic sweep: every node of every template, replaced by each nasty value -----

NASTY_VALUES: Final[list[Any]] = [
    None, 1, -1, 2**64, 10**400, 1.5, 1e308, "", "x", "9" * 400, [], [1], {}, {"a": 1}, True,
    [[[]]], {"values": 1},
]  # fmt: skip


def node_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every node of ``node`` (the root's is ``()``), in document order."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(node_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(node_paths(v, (*prefix, i)))
    return out


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``doc`` with the node at ``path`` replaced by ``value``."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: replaced(v, rest, value) if k == head else v for k, v in doc.items()}
    return [replaced(v, rest, value) if i == head else v for i, v in enumerate(doc)]


SWEEP: Final[dict[str, tuple[Any, Callable[[Any], str], Callable[[str], None]]]] = {
    "otlp": (OTLP, dumps, run_corpus),
    "jaeger": (JAEGER, dumps, run_corpus),
    "zipkin": (ZIPKIN, dumps, run_corpus),
    "honeycomb": (HONEYCOMB, dumps, run_corpus),
    "rules-yaml": (RULES, lambda d: _serialise(d, "yaml"), _rules_runner("yaml")),
    "rules-json": (RULES, dumps, _rules_runner("json")),
}
